"""Plan the day: the best daylight hours of the next day or two for a run, a bike commute,
children outdoors and airing the rooms, from a modelled hourly PM2.5 series.

The advice a window carries is the class table's (airken/core/classes.py); this module only adds
how long each activity takes, when in the day it can happen, and when the sun is up.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from airken.core.classes import class_for_pm25


@dataclass(frozen=True)
class Activity:
    name: str  # a key of AirClass.plan
    hours: int  # how long it lasts
    earliest: int  # local hour it may start at
    latest: int  # local hour it must be over by


ACTIVITIES: tuple[Activity, ...] = (
    Activity("run", 1, 5, 22),
    Activity("bike commute", 1, 6, 20),
    Activity("children playing outside", 2, 8, 20),
    Activity("opening windows", 1, 6, 22),
)
# Within the best class, values closer than this count as equal, so that a trivial
# difference does not move the plan from this afternoon to tomorrow.
EQUAL_WITHIN = 10.0


@dataclass(frozen=True)
class Window:
    activity: str
    start: datetime  # aware, local time at the place
    end: datetime
    pm25: float  # the highest modelled hourly value inside the window
    label: str
    advice: str

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(timespec="minutes"), "end": self.end.isoformat(timespec="minutes"),
                "pm25": round(self.pm25, 1), "label": self.label, "advice": self.advice}


def sun_elevation(lat: float, lon: float, when: datetime) -> float:
    """Degrees of the sun above the horizon (NOAA's low-precision formulas, ~0.5° here)."""
    utc = when.astimezone(timezone.utc)
    day = utc.timetuple().tm_yday
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    g = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                       - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    hour_angle = math.radians((hours * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_daylight(lat: float, lon: float, hour_start: datetime) -> bool:
    """Is the sun up in the middle of the hour that starts at `hour_start`?"""
    return sun_elevation(lat, lon, hour_start + timedelta(minutes=30)) > 0


def best_windows(hours: Sequence[tuple[datetime, float | None]], lat: float, lon: float
                 ) -> dict[str, Window | None]:
    """For each activity, its best daylight window in `hours` (consecutive local hours and
    their modelled PM2.5): the lowest class first, then the lowest PM2.5, then the soonest.
    None where no daylight window fits (polar night, a series too short)."""
    daylight = [v is not None and is_daylight(lat, lon, t) for t, v in hours]
    return {a.name: _best(a, hours, daylight) for a in ACTIVITIES}


def _best(activity: Activity, hours: Sequence[tuple[datetime, float | None]], daylight: list[bool]
          ) -> Window | None:
    best: tuple[tuple, Window] | None = None
    for i in range(len(hours) - activity.hours + 1):
        span = hours[i:i + activity.hours]
        start = span[0][0]
        if not all(daylight[i:i + activity.hours]) or not _fits(activity, start, span):
            continue
        top = max(v for _, v in span if v is not None)
        cls = class_for_pm25(top)
        key = (cls.index, math.floor(top / EQUAL_WITHIN), start.timestamp())
        if best is None or key < best[0]:
            end = span[-1][0] + timedelta(hours=1)
            best = (key, Window(activity.name, start, end, top, cls.name, cls.plan[activity.name]))
    return None if best is None else best[1]


def _fits(activity: Activity, start: datetime, span: Sequence[tuple[datetime, float | None]]) -> bool:
    """Consecutive hours, inside the activity's part of the day."""
    stamps = [t.timestamp() for t, _ in span]
    consecutive = all(b - a == 3600 for a, b in zip(stamps, stamps[1:], strict=False))
    return consecutive and activity.earliest <= start.hour and start.hour + activity.hours <= activity.latest
