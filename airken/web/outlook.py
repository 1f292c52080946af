"""The place form and the air model's outlook on the page: where the visitor is (their
browser's position, rounded there, or a typed town), the modelled PM2.5 of that place, the
next 48 hours, the best daylight times and "Add to calendar"; and the public `air` endpoint.

The read tab (airken.web.handlers) asks `outlook()` what to show under a verdict: the air
model's report the verdict carries, else the visitor's place now, else nothing.
"""
from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from airken.airmodel.ics import window_ics
from airken.airmodel.openmeteo import AirError, default_client, round_place
from airken.airmodel.planner import ACTIVITIES
from airken.airmodel.report import air_block
from airken.web import forecast
from airken.web.files import new_file

log = logging.getLogger(__name__)

NO_LOCATION = "Your browser did not share a location: type a town instead."
NEED_A_PLACE = "Give a latitude and a longitude, or a place name."


def at_coordinates(lat: float | None, lon: float | None, place: dict | None) -> tuple[dict | None, str]:
    """(the session's place, the line under the form) for the browser's rounded position."""
    if lat is None or lon is None:
        return place, forecast.place_line({"error": NO_LOCATION}, None)
    try:
        lat, lon = round_place(lat, lon)
    except AirError as err:
        return place, forecast.place_line({"error": err.message}, None)
    here = {"lat": lat, "lon": lon, "name": forecast.MY_LOCATION}
    return here, forecast.place_line(air_block(lat, lon), here["name"])


def at_name(name: str, place: dict | None) -> tuple[dict | None, str]:
    """(the session's place, the line under the form) for a typed town."""
    try:
        found = default_client().geocode(name)
    except AirError as err:
        return place, forecast.place_line({"error": err.message}, None)
    here = {"lat": found.lat, "lon": found.lon, "name": found.name}
    return here, forecast.place_line(air_block(found.lat, found.lon), found.name)


def outlook(report: dict | None, place: dict | None) -> tuple:
    """(report state, chart, best times, activity radio, calendar button) for a verdict's air
    model report, else for the session's place now; hidden without either."""
    if not (isinstance(report, dict) and "error" not in report) and place:
        report = air_block(place["lat"], place["lon"])
    try:
        if isinstance(report, dict) and "error" not in report:
            first = ACTIVITIES[0].name
            return (report, forecast.air_chart(report["hourly"]), forecast.best_times(report),
                    gr.update(visible=True, value=first), calendar(report, first, place))
    except (KeyError, TypeError, ValueError, AttributeError) as err:  # a block the page did not make
        log.info("ignoring an air model report that cannot be shown: %s", type(err).__name__)
    return None, "", "", gr.update(visible=False), gr.update(visible=False)


def calendar(report: dict | None, activity: str, place: dict | None) -> Any:
    """The "Add to calendar" button with the .ics file of the best window for ``activity``."""
    window = ((report or {}).get("best") or {}).get(activity)
    if not window:
        return gr.update(visible=False, value=None)
    name = (place or {}).get("name")
    where = f"{report['lat']}, {report['lon']}" if name in (None, forecast.MY_LOCATION) else name
    path = new_file(f"airken-{activity.replace(' ', '-')}.ics", "ics")
    path.write_bytes(window_ics(activity, window, where))
    return gr.update(visible=True, value=str(path), label=f"Add the best time for {activity} to your calendar (.ics)")


def air(latitude: float | None = None, longitude: float | None = None, time: str | None = None,
        where: str | None = None) -> dict:
    """Modelled PM2.5 (Open-Meteo, CAMS) for a place and hour: latitude and longitude (rounded
    to 0.1°) or a place name in `where`; `time` ISO 8601 (default now). Returns lat, lon,
    time, pm25, label, source, hourly (the next 48 hours) and best (a window per activity),
    or {"error": reason}: the JSON of `airken air --json`."""
    if where and str(where).strip():
        try:
            place = default_client().geocode(where)
        except AirError as err:
            return {"error": err.message}
        latitude, longitude = place.lat, place.lon
    if latitude is None or longitude is None:
        return {"error": NEED_A_PLACE}
    return air_block(latitude, longitude, time)
