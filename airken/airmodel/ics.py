"""The "Add to calendar" file: one best window as an iCalendar (.ics) event, written by `icalendar`."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from icalendar import Calendar, Event

from airken.airmodel.openmeteo import CREDIT


def window_ics(activity: str, window: dict, where: str) -> bytes:
    """An .ics file with one event for `window` (a "best" entry of the air report's JSON:
    start, end, pm25, label, advice). Times are written in UTC, which every calendar reads."""
    event = Event()
    event.add("uid", f"{uuid.uuid4()}@airken")
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", datetime.fromisoformat(window["start"]).astimezone(timezone.utc))
    event.add("dtend", datetime.fromisoformat(window["end"]).astimezone(timezone.utc))
    event.add("summary", f"{activity.capitalize()}: {window['label']} air expected")
    event.add("location", where)
    event.add("description", f"Modelled PM2.5 up to {window['pm25']} \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE} "
                             f"({window['label']}). {window['advice']}\n\n{CREDIT}")
    calendar = Calendar()
    calendar.add("prodid", "-//Airken//air-quality plan//EN")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return calendar.to_ical()
