"""The page's "air where you are" panel: the modelled PM2.5 beside the photo's verdict, the
next 48 hours as a chart coloured by class, the best daylight windows, "Add to calendar",
the location controls and the opt-in donation box.

The read tab in airken/ui.py places it and feeds it:

    panel = air_panel()                 # beside the verdict: the air line and the location
    ...                                 # the read event takes panel.inputs (place, share box)
    panel.render_plan()                 # under "Plan your day": chart, best times, calendar
    panel.follow(raw)                   # renders whenever a reading arrives; the `air` API

Everything it shows comes from the reading's "air" block (the same JSON as the API and the
CLI); without one it looks the place up for now. Browser coordinates are rounded to 0.1° in
the browser, before they are sent.
"""
from __future__ import annotations

import contextlib
import html
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import gradio as gr

from airken.air import air_block
from airken.classes import CLASSES, LABELS, class_by_name
from airken.donate import CONSENT, donations
from airken.ics import window_ics
from airken.openmeteo import CREDIT, OFF, AirError, default_client, round_place
from airken.planner import ACTIVITIES

log = logging.getLogger(__name__)

UG = "\N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"
NO_PLACE = ("No modelled PM2.5 yet: the photo carries no GPS position and time. Use your location or "
            "type a town to see it, and the best hours of the next two days.")
NO_LOCATION = "Your browser did not share a location: type a town instead."
MY_LOCATION = "your location"
ICS_MAX_AGE_S = 900

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

PANEL_CSS = """
.ak-air { margin: 0; padding: 10px 12px; border-radius: 10px; border: 1px solid var(--border-color-primary);
  border-left: 6px solid var(--ak, var(--border-color-primary)); background: var(--block-background-fill);
  line-height: 1.4; }
.ak-air .ak-more { display: block; margin-top: 6px; }
.ak-chart svg { width: 100%; max-width: 760px; height: auto; display: block; color: var(--body-text-color); }
.ak-chart .ak-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0; font-size: .9rem; }
.ak-chart .ak-key { display: inline-block; width: 12px; height: 12px; border: 1px solid currentColor;
  margin-right: 5px; vertical-align: -1px; }
.ak-chart table { border-collapse: collapse; font-size: .9rem; }
.ak-chart th, .ak-chart td { padding: 2px 10px 2px 0; text-align: left; }
.ak-best { margin: 4px 0 0 0; padding-left: 20px; line-height: 1.45; }
.ak-credit { font-size: .85rem; margin-top: 6px; }
@media (max-width: 600px) { .ak-chart svg text { font-size: 17px; } }  /* ~12 px once the chart is scaled down */
"""


@dataclass
class AirPanel:
    """The panel's components; built by air_panel() inside the verdict column."""

    place: gr.State  # {"lat", "lon", "name"} rounded, or None: the read event's input
    share: gr.Checkbox | None  # the donation box; None when donation is not configured
    line: gr.HTML
    town: gr.Textbox
    locate: gr.Button
    find: gr.Button
    report: gr.State | None = None  # the air block on show, for the calendar
    chart: gr.HTML | None = None
    best: gr.HTML | None = None
    activity: gr.Radio | None = None
    ics: gr.DownloadButton | None = None

    @property
    def inputs(self) -> list:
        """What the read event passes to where() and donate(), in this order."""
        return [self.place] + ([self.share] if self.share is not None else [])

    @staticmethod
    def where(place: dict | None = None, share: bool = False) -> dict:
        """predict_with_air's lat/lon for the session's place (none: the photo's own GPS)."""
        return {"lat": place["lat"], "lon": place["lon"]} if place else {}

    @staticmethod
    def donate(pred, place: dict | None = None, share: bool = False, request: gr.Request | None = None) -> None:
        """Share the photo just read, only when the visitor ticked the box; says how it went."""
        if not share or pred.photo is None:
            return
        session = getattr(request, "session_hash", None) or "anonymous"
        gr.Info(donations().share(pred.photo, pred.air, session))

    def render_plan(self) -> None:
        """The 48-hour chart, the best windows and "Add to calendar" (under "Plan your day")."""
        self.report = gr.State(None)
        self.chart = gr.HTML("", elem_id="ak-air-chart", css_template=PANEL_CSS, js_on_load=None)
        self.best = gr.HTML("", elem_id="ak-air-best", js_on_load=None)
        with gr.Row(equal_height=True):
            self.activity = gr.Radio([a.name for a in ACTIVITIES], value=ACTIVITIES[0].name, visible=False,
                                     label="Add to calendar: the best time for", elem_id="ak-air-activity")
            self.ics = gr.DownloadButton("Add to calendar (.ics)", visible=False, elem_id="ak-air-ics")

    def follow(self, raw: gr.JSON) -> None:
        """Render on every reading; the place controls; the public `air` endpoint."""
        shown = [self.report, self.line, self.chart, self.best, self.activity, self.ics]
        raw.change(_show, inputs=[raw, self.place], outputs=shown, api_visibility="private")
        lat, lon = gr.Number(visible=False), gr.Number(visible=False)
        located = [self.place, self.town, *shown]
        self.locate.click(_at_coordinates, inputs=[lat, lon, raw, self.place], outputs=located, js=GEOLOCATE,
                          api_visibility="private")
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
    line = gr.HTML(_line(None, None, None), elem_id="ak-air-line", css_template=PANEL_CSS, js_on_load=None)
    with gr.Row(equal_height=True, visible=default_client().settings.enabled):  # AIRKEN_AIR=0: no controls
        locate = gr.Button("Use my location", size="sm", min_width=140, elem_id="ak-air-locate")
        town = gr.Textbox(label="Or type a town", placeholder="e.g. Milan", max_length=100, min_width=160,
                           scale=2, elem_id="ak-air-where")
        find = gr.Button("Find", size="sm", min_width=80, elem_id="ak-air-find")
    share = None
    if donations().enabled:
        share = gr.Checkbox(False, label="Share this photo to improve Airken", info=CONSENT, elem_id="ak-share")
    return AirPanel(place=gr.State(None), share=share, line=line, town=town, locate=locate, find=find)


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
        return {"error": "Give a latitude and a longitude, or a place name."}
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
    ok = isinstance(air, dict) and "error" not in air
    line = _line(air, reading, place)
    if not ok:
        return None, line, "", "", gr.update(visible=False), gr.update(visible=False)
    first = ACTIVITIES[0].name
    return (air, line, chart_html(air["hourly"]), best_html(air), gr.update(visible=True, value=first),
            _calendar(air, first, place))


def _calendar(air: dict | None, activity: str, place: dict | None) -> Any:
    window = (air or {}).get("best", {}).get(activity)
    if not window:
        return gr.update(visible=False, value=None)
    name = (place or {}).get("name")
    where = f"{air['lat']}, {air['lon']}" if name in (None, MY_LOCATION) else name
    path = _ics_path(activity)
    path.write_bytes(window_ics(activity, window, where))
    return gr.update(visible=True, value=str(path), label=f"Add the best time for {activity} to your calendar (.ics)")


def _ics_path(activity: str) -> Path:
    """A fresh path for a calendar file in one folder of Gradio's cache, where files older
    than ICS_MAX_AGE_S are removed first (Gradio serves its own copy of each)."""
    folder = Path(gr.utils.get_upload_folder()) / "airken-ics"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*/*.ics"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > ICS_MAX_AGE_S:
                old.unlink()
                old.parent.rmdir()
    fresh = folder / uuid.uuid4().hex
    fresh.mkdir()
    return fresh / f"airken-{activity.replace(' ', '-')}.ics"


# ---------------------------------------------------------------- rendering


def _hm(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M")


def _day(iso: str, today: str) -> str:
    """"today", "tomorrow" or "Thu 3 Dec", relative to the local date `today`."""
    t = datetime.fromisoformat(iso)
    days = (t.date() - datetime.fromisoformat(today).date()).days
    return {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days, f"{t:%a} {t.day} {t:%b}")


def _line(air: dict | None, reading: dict | None, place: dict | None) -> str:
    """One plain line: the modelled value, and a sentence when the photo disagrees."""
    if air is None:
        text = NO_PLACE if default_client().settings.enabled else OFF
        return f'<p class="ak-air" role="status">{html.escape(text)}</p>'
    if "error" in air:
        text = f"{air['error']} The photo's reading above does not depend on it."
        return f'<p class="ak-air" role="status">{html.escape(text)}</p>'
    cls = class_by_name(air["label"])
    here = "where the photo was taken" if reading and not place else _at((place or {}).get("name"))
    today = air["hourly"][0]["time"] if air["hourly"] else air["time"]
    day = _day(air["time"], today)
    when = _hm(air["time"]) + ("" if day == "today" else f" {day}")
    text = f"Modelled PM2.5 {here} at {when}: <strong>{air['pm25']:.0f} {UG} ({html.escape(cls.name)})</strong>."
    more = _disagreement(reading, air["label"])
    if default_client().settings.use_prior and reading:
        more += " This modelled value was the photo verdict's prior."
    extra = f'<span class="ak-more">{html.escape(more.strip())}</span>' if more.strip() else ""
    return f'<p class="ak-air" role="status" style="--ak:{cls.colour}">{text}{extra}</p>'


def _at(name: str | None) -> str:
    return "at your location" if name in (None, MY_LOCATION) else f"in {name}"


def _disagreement(reading: dict | None, modelled: str) -> str:
    photo = (reading or {}).get("label")
    if photo is None or photo == modelled:
        return ""
    if LABELS.index(photo) < LABELS.index(modelled):
        return ("The photo looks cleaner than the model of the area expects: fine particles can be invisible "
                "in a photo, and the model averages over 11-45 km. Sensitive people should go by the higher one.")
    return ("The photo looks hazier than the model of the area expects: fog, cloud, dust or smoke nearby can "
            "do that, and a model of 11-45 km cells can miss a local source.")


def _segments(hourly: list[dict]) -> list[tuple[str, str, str]]:
    """Runs of hours in the same class: (label, first hour, end of the last hour)."""
    runs: list[list[str]] = []
    for h in hourly:
        if h["label"] is None:
            continue
        end = (datetime.fromisoformat(h["time"]) + timedelta(hours=1)).isoformat(timespec="minutes")
        if runs and runs[-1][0] == h["label"]:
            runs[-1][2] = end
        else:
            runs.append([h["label"], h["time"], end])
    return [(label, start, end) for label, start, end in runs]


def chart_summary(hourly: list[dict]) -> str:
    """The chart in words: "Healthy today 14:00-19:00; moderate today 20:00 to tomorrow 09:00; ..."."""
    if not hourly:
        return "No hourly values."
    today = hourly[0]["time"]
    parts = []
    for label, start, end in _segments(hourly):
        parts.append(f"{label} from {_day(start, today)} {_hm(start)} to {_day(end, today)} {_hm(end)}")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def _number(v: float | None) -> str:
    return "" if v is None else f"{v:.0f}"


_W, _H, _LEFT, _TOP, _BOTTOM = 480, 170, 30, 8, 132  # the chart's drawing box, in SVG units


def chart_html(hourly: list[dict]) -> str:
    """Bars of the next hours coloured by class, with a legend, the chart in words (its text
    alternative) and the values in a table."""
    values = [h["pm25"] for h in hourly if h["pm25"] is not None]
    if not values:
        return ""
    scale = max(80.0, max(values) * 1.1)

    def y(v: float) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * min(v, scale) / scale

    step = (_W - _LEFT) / len(hourly)
    marks = [_bar(_LEFT + i * step, step, h, y) for i, h in enumerate(hourly)]
    marks += [_limit(v, y(v)) for v in (30, 54)]
    summary = chart_summary(hourly)
    svg = (f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="ak-chart-title ak-chart-desc">'
           f'<title id="ak-chart-title">Modelled PM2.5 ({UG}) for the next {len(hourly)} hours, by hour</title>'
           f'<desc id="ak-chart-desc">{html.escape(summary)}</desc>{"".join(marks)}</svg>')
    return (f'<div class="ak-chart">{svg}{_legend()}<p>{html.escape(summary)}</p>{_table(hourly)}'
            f'<p class="ak-credit">{html.escape(CREDIT)}</p></div>')


def _bar(x: float, step: float, hour: dict, y) -> str:
    t = datetime.fromisoformat(hour["time"])
    name = f"{t:%a}" if t.hour == 0 else f"{t:%H}"  # the day at midnight, else the hour
    at = f'x="{x:.1f}" y="{_BOTTOM + 14}"'
    tick = "" if t.hour % 6 else f'<text {at} font-size="12" fill="currentColor">{name}</text>'
    if hour["pm25"] is None:
        return tick
    top, colour = y(hour["pm25"]), class_by_name(hour["label"]).colour
    tip = f"{t:%H:%M}: {hour['pm25']:.0f} {UG}, {hour['label']}"
    return (f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(step - 1, 1):.1f}" height="{_BOTTOM - top:.1f}" '
            f'fill="{colour}" stroke="currentColor" stroke-width="0.5"><title>{tip}</title></rect>{tick}')


def _limit(value: int, y: float) -> str:
    """A class boundary as a dashed line, labelled on the left."""
    return (f'<line x1="{_LEFT}" x2="{_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-width="0.7" '
            f'stroke-dasharray="3 3"/><text x="2" y="{y + 3:.1f}" font-size="12" fill="currentColor">{value}</text>')


def _legend() -> str:
    keys = "".join(f'<span><span class="ak-key" style="background:{c.colour}"></span>{html.escape(c.name)} '
                   f'({html.escape(c.band.replace("ug/m3", UG))})</span>' for c in CLASSES)
    return f'<div class="ak-legend">{keys}</div>'


def _table(hourly: list[dict]) -> str:
    today = hourly[0]["time"]
    rows = "".join(f"<tr><td>{_day(h['time'], today)} {_hm(h['time'])}</td><td>{_number(h['pm25'])}</td>"
                   f"<td>{h['label'] or 'no value'}</td></tr>" for h in hourly)
    head = f'<tr><th scope="col">hour</th><th scope="col">PM2.5 ({UG})</th><th scope="col">class</th></tr>'
    table = f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"
    return f"<details><summary>Hour by hour</summary>{table}</details>"


def best_html(air: dict) -> str:
    """The best daylight window per activity, in plain words."""
    today = air["hourly"][0]["time"] if air["hourly"] else air["time"]
    items = []
    for name, w in air["best"].items():
        if w is None:
            items.append(f"<li><strong>{html.escape(name.capitalize())}</strong>: no daylight hours with data "
                         "in the next two days.</li>")
            continue
        span = f"{_hm(w['start'])}-{_hm(w['end'])} {_day(w['start'], today)}"
        items.append(f"<li><strong>{html.escape(name.capitalize())}</strong>: {span}, up to {w['pm25']:.0f} {UG} "
                     f"({html.escape(w['label'])}). {html.escape(w['advice'])}</li>")
    return f'<p><strong>Best daylight times</strong></p><ul class="ak-best">{"".join(items)}</ul>'
