"""The page's "air where you are" panel: the modelled PM2.5 beside the photo's verdict, the
next 48 hours as a chart coloured by class, the best daylight windows, "Add to calendar",
the location controls and the opt-in donation box. airken.web.render draws it; this module
declares its components and events.

The read tab in airken/web/ui.py places it and feeds it:

    tab.air = air_panel()              # beside the verdict: the air line, the place, the share box
    ...                                # the read event also takes tab.air.place (see where())
    tab.air.render_plan()              # under the plan: chart, best times, calendar
    tab.air.follow(tab.raw, tab.image, photo_of)   # renders each reading; donation; the `air` API

Everything it shows comes from the reading's "air" block (the same JSON as the API and the
CLI); without one it looks the session's place up for now. Browser coordinates are rounded
to 0.1° in the browser, before they are sent.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from airken.airmodel.donate import CONSENT, donations
from airken.airmodel.ics import window_ics
from airken.airmodel.openmeteo import AirError, default_client, round_place
from airken.airmodel.planner import ACTIVITIES
from airken.airmodel.report import air_block
from airken.core.intake import ImageRejected, Photo
from airken.web import render

log = logging.getLogger(__name__)

NO_LOCATION = "Your browser did not share a location: type a town instead."
NEED_A_PLACE = "Give a latitude and a longitude, or a place name."
MY_LOCATION = render.MY_LOCATION

# Rounded in the browser: the exact position never leaves the visitor's machine.
GEOLOCATE = """async (lat, lon, raw, place) => {
  const at = await new Promise((resolve) => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve([Math.round(p.coords.latitude * 10) / 10, Math.round(p.coords.longitude * 10) / 10]),
      () => resolve(null), {enableHighAccuracy: false, maximumAge: 600000, timeout: 20000});
  });
  return at ? [at[0], at[1], raw, place] : [null, null, raw, place];
}"""


@dataclass
class AirPanel:
    """The panel's components; air_panel() builds the first ones inside the verdict column,
    render_plan() the rest under the plan."""

    place: gr.State  # {"lat", "lon", "name"} rounded, or None: an input of the read event
    share: gr.Checkbox | None  # the donation box; None when donation is not configured
    shared: gr.HTML | None  # what became of the shared photo
    line: gr.HTML
    town: gr.Textbox
    locate: gr.Button
    find: gr.Button
    report: gr.State | None = None  # the air block on show, for the calendar
    chart: gr.HTML | None = None
    best: gr.HTML | None = None
    activity: gr.Radio | None = None
    ics: gr.DownloadButton | None = None

    def render_plan(self) -> None:
        """The 48-hour chart, the best windows and "Add to calendar" (under the plan)."""
        self.report = gr.State(None)
        self.chart = gr.HTML("", elem_id="ak-air-chart")
        self.best = gr.HTML("", elem_id="ak-air-best")
        with gr.Row(equal_height=True):
            self.activity = gr.Radio([a.name for a in ACTIVITIES], value=ACTIVITIES[0].name, visible=False,
                                     label="Add to calendar: the best time for", elem_id="ak-air-activity")
            self.ics = gr.DownloadButton("Add to calendar (.ics)", visible=False, elem_id="ak-air-ics")

    def follow(self, raw: gr.JSON, image: gr.Image, photo_of: Callable[[Any], Photo]) -> None:
        """Render on every reading (raw is its JSON), share the photo when the box is ticked
        (photo_of reads the file a request names, through the page's upload rule), the place
        controls and the public `air` endpoint."""
        shown = [self.report, self.line, self.chart, self.best, self.activity, self.ics]
        raw.change(_show, inputs=[raw, self.place], outputs=shown, api_visibility="private")
        if self.share is not None:
            def share(image: Any, ticked: bool, reading: dict | None, request: gr.Request) -> Any:
                message = _share(photo_of, image, ticked, reading, request)
                return gr.update(value=render.status(message), visible=bool(message))

            raw.change(share, inputs=[image, self.share, raw], outputs=self.shared, api_visibility="private")
        lat, lon = gr.Number(visible=False), gr.Number(visible=False)
        located = [self.place, self.town, *shown]
        self.locate.click(_at_coordinates, inputs=[lat, lon, raw, self.place], outputs=located,
                          js=GEOLOCATE, api_visibility="private")
        gr.on([self.find.click, self.town.submit], _at_name, inputs=[self.town, raw, self.place],
              outputs=located, api_visibility="private")
        self.activity.input(_calendar, inputs=[self.report, self.activity, self.place], outputs=self.ics,
                            api_visibility="private")
        threading.Thread(target=default_client().warm, daemon=True, name="airken-air-warm").start()
        when, name = gr.Textbox(visible=False), gr.Textbox(visible=False)
        gr.Button(visible=False).click(air, inputs=[lat, lon, when, name], outputs=gr.JSON(visible=False),
                                       api_name="air")


def air_panel() -> AirPanel:
    """The air line and the location controls (and the donation box where configured)."""
    enabled = default_client().settings.enabled
    line = gr.HTML(render.air_line(None, enabled=enabled), elem_id="ak-air-line")
    with gr.Row(equal_height=True, visible=enabled):  # AIRKEN_AIR=0: no controls
        locate = gr.Button("Use my location", size="sm", min_width=140, elem_id="ak-air-locate")
        town = gr.Textbox(label="Or type a town", placeholder="e.g. Milan", max_length=100, min_width=160,
                          scale=2, elem_id="ak-air-where")
        find = gr.Button("Find", size="sm", min_width=80, elem_id="ak-air-find")
    share = shared = None
    if donations().enabled:
        share = gr.Checkbox(False, label="Share this photo to improve Airken", info=CONSENT, elem_id="ak-share")
        shared = gr.HTML("", visible=False, elem_id="ak-shared")
    return AirPanel(place=gr.State(None), share=share, shared=shared, line=line, town=town, locate=locate,
                    find=find)


def where(place: dict | None) -> dict:
    """airken.airmodel.report.predict_with_air's lat/lon for the session's place (none: the photo's own GPS)."""
    return {"lat": place["lat"], "lon": place["lon"]} if isinstance(place, dict) and "lat" in place else {}


def _share(photo_of: Callable[[Any], Photo], image: Any, ticked: bool, reading: dict | None,
           request: gr.Request | None) -> str:
    """Share the photo just read, only when the visitor ticked the box; says how it went."""
    if not ticked or not isinstance(reading, dict):  # not ticked, or no reading (cleared, unreadable)
        return ""
    try:
        photo = photo_of(image)
    except ImageRejected:
        return ""
    session = getattr(request, "session_hash", None) or "anonymous"
    return donations().share(photo, reading.get("air"), session)


def air(latitude: float | None = None, longitude: float | None = None, time: str | None = None,
        where: str | None = None) -> dict:
    """Modelled PM2.5 (Open-Meteo, CAMS) for a place and hour: latitude and longitude (rounded
    to 0.1°) or a place name in `where`; `time` ISO 8601 (default now). Returns lat, lon,
    time, pm25, label, source, hourly (the next 48 hours) and best (a window per activity),
    or {"error": reason}: the JSON of `python -m airken air --json`."""
    if where and str(where).strip():
        try:
            place = default_client().geocode(where)
        except AirError as err:
            return {"error": err.message}
        latitude, longitude = place.lat, place.lon
    if latitude is None or longitude is None:
        return {"error": NEED_A_PLACE}
    return air_block(latitude, longitude, time)


# ---------------------------------------------------------------- events


def _show(raw: dict | None, place: dict | None) -> tuple:
    """The reading's own air block; without one, the session's place now; else one line."""
    photo_air = raw.get("air") if isinstance(raw, dict) else None
    if photo_air is None and place:
        return _render(air_block(place["lat"], place["lon"]), None, place)
    return _render(photo_air, raw if photo_air else None, place)


def _at_coordinates(lat: float | None, lon: float | None, raw: dict | None, place: dict | None) -> tuple:
    if lat is None or lon is None:
        return (place, gr.skip(), *_render({"error": NO_LOCATION}, None, place))
    try:
        lat, lon = round_place(lat, lon)
    except AirError as err:
        return (place, gr.skip(), *_render({"error": err.message}, None, place))
    here = {"lat": lat, "lon": lon, "name": MY_LOCATION}
    return (here, "", *_render(air_block(lat, lon), None, here))


def _at_name(name: str, raw: dict | None, place: dict | None) -> tuple:
    try:
        found = default_client().geocode(name)
    except AirError as err:
        return (place, gr.skip(), *_render({"error": err.message}, None, place))
    here = {"lat": found.lat, "lon": found.lon, "name": found.name}
    return (here, found.name, *_render(air_block(found.lat, found.lon), None, here))


def _render(air: dict | None, reading: dict | None, place: dict | None) -> tuple:
    """(report state, air line, chart, best windows, activity radio, calendar button)."""
    client = default_client()
    try:
        line = render.air_line(air, reading, place, enabled=client.settings.enabled,
                               prior=client.settings.use_prior)
        ok = isinstance(air, dict) and "error" not in air
        if ok:
            first = ACTIVITIES[0].name
            return (air, line, render.air_chart(air["hourly"]), render.best_times(air),
                    gr.update(visible=True, value=first), _calendar(air, first, place))
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # a block the page did not make
        log.info("ignoring an air block that cannot be shown: %s", type(err).__name__)
        line = render.air_line({"error": "No modelled PM2.5 to show."})
    return None, line, "", "", gr.update(visible=False), gr.update(visible=False)


def _calendar(air: dict | None, activity: str, place: dict | None) -> Any:
    window = ((air or {}).get("best") or {}).get(activity)
    if not window:
        return gr.update(visible=False, value=None)
    name = (place or {}).get("name")
    where = f"{air['lat']}, {air['lon']}" if name in (None, MY_LOCATION) else name
    # In Gradio's upload folder, where airken.web.sweeper ages it out like an upload.
    folder = Path(get_upload_folder()) / f"airken-ics-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"airken-{activity.replace(' ', '-')}.ics"
    path.write_bytes(window_ics(activity, window, where))
    return gr.update(visible=True, value=str(path),
                     label=f"Add the best time for {activity} to your calendar (.ics)")
