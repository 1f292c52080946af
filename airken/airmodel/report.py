"""The air model's report for a place and hour: the modelled PM2.5 then, the next 48 hours
and their best daylight windows.

    report = air_report(45.46, 9.19)                 # now; AirReport, or AirError
    block = air_block(45.46, 9.19, "2025-05-01T14:00")   # its JSON, or {"error": why}

The predictor (airken.core.predictor) asks for the photo's place and hour and makes the
modelled value the level of its verdict; the page, the CLI and the `air` API show it alone.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from airken.airmodel.openmeteo import MAX_PAST_DAYS, NO_DATA, AirError, OpenMeteo, default_client, round_place
from airken.airmodel.planner import Window, best_windows, is_daylight
from airken.core.classes import class_for_pm25
from airken.datafolder import new_row

log = logging.getLogger(__name__)

HORIZON_H = 48  # the plan covers the next two days
LOOKUP_FAILED = "No modelled PM2.5 this time: the lookup failed."


@dataclass(frozen=True)
class AirReport:
    lat: float  # the grid cell (0.1°)
    lon: float
    time: datetime  # the hour the value is for, local time at the place
    pm25: float
    label: str
    source: str
    hourly: list[tuple[datetime, float | None]]  # the next HORIZON_H hours from now
    best: dict[str, Window | None]

    def to_dict(self) -> dict:
        return {
            "lat": self.lat, "lon": self.lon, "time": _iso(self.time), "pm25": round(self.pm25, 1),
            "label": self.label, "source": self.source,
            "hourly": [{"time": _iso(t), "pm25": None if v is None else round(v, 1),
                        "label": None if v is None else class_for_pm25(v).name} for t, v in self.hourly],
            "best": {name: None if w is None else w.to_dict() for name, w in self.best.items()},
        }


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="minutes")


def parse_time(value: str | datetime | None) -> datetime | None:
    """ISO 8601 ("2025-05-01T14:00", with "+02:00" or "Z" for a UTC offset) -> datetime;
    without an offset it is local time at the place. None or "" -> None."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise AirError("The time must be ISO 8601, e.g. 2025-05-01T14:00 or 2025-05-01T14:00+02:00.") from None


def air_report(lat: float, lon: float, when: datetime | None = None, *, client: OpenMeteo | None = None,
               now: datetime | None = None) -> AirReport:
    """The modelled PM2.5 at (lat, lon) for the hour of `when` (default now), the next
    HORIZON_H hours and their best windows. Raises AirError with a plain reason. Kept per
    (grid cell, hour asked, current hour): a second photo of the place costs nothing."""
    client = client or default_client()
    now = now or datetime.now(timezone.utc)
    lat, lon = round_place(lat, lon)
    asked = None if when is None else when.replace(minute=0, second=0, microsecond=0).isoformat()
    key = ("report", lat, lon, asked, int(now.timestamp() // 3600), client.hour())
    return client.cached(key, lambda: _report(lat, lon, when, client, now))


def _report(lat: float, lon: float, when: datetime | None, client: OpenMeteo, now: datetime) -> AirReport:
    back = _days_back(when, now)
    old = back > MAX_PAST_DAYS
    plan = client.series(lat, lon, past_days=1 if old else back)
    photo_hours = plan
    if old:  # an old photo: its day from the archive, the plan from today
        day = when.date()  # type: ignore[union-attr]
        photo_hours = client.series(lat, lon, dates=(day - timedelta(days=1), day + timedelta(days=1)))
    hit = photo_hours.at(when or now)
    if hit is None:
        raise AirError(NO_DATA)
    hourly = plan.between(now, HORIZON_H)
    label = class_for_pm25(hit[1]).name
    return AirReport(lat, lon, hit[0], hit[1], label, plan.source, hourly, best_windows(hourly, lat, lon))


def _days_back(when: datetime | None, now: datetime) -> int:
    """Whole local days before today to ask for: the photo's day, one more for time zones."""
    if when is None:
        return 1
    aware = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return max(1, (now - aware).days + 2)


def air_block(lat: float, lon: float, when: datetime | str | None = None, *,
              client: OpenMeteo | None = None) -> dict:
    """air_report as the JSON of the CLI, the API and a verdict, or {"error": reason}."""
    try:
        return air_report(lat, lon, parse_time(when), client=client).to_dict()
    except AirError as err:
        return {"error": err.message}
    except Exception:  # a bug here must never cost the visitor the photo's reading
        log.exception("air-quality lookup failed")
        return {"error": LOOKUP_FAILED}


def label_row(file: str, hour: datetime, pm25: float, lat: float, lon: float) -> dict[str, str]:
    """The labels.csv row (airken.datafolder) of a photo taken in the local `hour` at the grid
    cell (lat, lon), labelled by the model of the area (train/README.md, "Labels for your own
    photos")."""
    place = f"{lat:+05.1f}{lon:+06.1f}"  # the grid cell, ISO 6709 style: "+45.5+009.2"
    return new_row(file, pm25, hour, place, is_daylight(lat, lon, hour), label_source="cams")
