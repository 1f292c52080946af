"""The air where and when a photo was taken: the modelled PM2.5 beside the photo's reading.

    report = air_report(45.46, 9.19)                 # now; AirReport, or AirError
    pred = predict_with_air(predictor, "sky.jpg")    # the Prediction, with .air filled in

The place is the one given (the page's "Use my location", a typed place, the API's latitude
and longitude) or else the photo's EXIF GPS; the hour is the one given, else the photo's EXIF
time, else now when a place was given. A photo with GPS but no time gets no lookup: the air
of some other hour says nothing about it. The modelled value is shown beside the photo's
verdict; it moves the verdict only as its class prior, and only with AIRKEN_AIR_PRIOR=1.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from time import perf_counter
from typing import TYPE_CHECKING

from airken.airmodel.openmeteo import MAX_PAST_DAYS, NO_DATA, AirError, OpenMeteo, default_client, round_place
from airken.airmodel.planner import Window, best_windows, is_daylight
from airken.core.classes import DANGER_ABOVE, HEALTHY_BELOW, class_for_pm25
from airken.core.intake import Photo, read_photo
from airken.datafolder import new_row

if TYPE_CHECKING:
    from airken.core.predictor import ImageSource, Prediction, Predictor

log = logging.getLogger(__name__)

HORIZON_H = 48  # the plan covers the next two days
SHARE_FLOOR = 0.02  # no class is ruled out by the model of the area: the photo can still say it
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
    """air_report as the JSON of the CLI and the API, or {"error": reason}."""
    try:
        return air_report(lat, lon, parse_time(when), client=client).to_dict()
    except AirError as err:
        return {"error": err.message}


def class_shares(pm25: float, sigma: float) -> tuple[float, ...]:
    """How likely each class is when the model of the area says `pm25`.

    Assumes the true hourly PM2.5 at the camera is log-normal around the modelled value,
    ln(true) ~ N(ln(pm25), sigma²): CAMS errors grow with the concentration and are roughly
    a factor, not a fixed number of µg/m³, and a 0.1°-45 km cell averages over streets,
    parks and valleys. sigma 0.6 (a factor of 1.8 either way) is a judgement, not a fit:
    nothing here can measure it. Each class keeps at least SHARE_FLOOR.
    """
    centre = math.log(max(pm25, 0.5))

    def below(limit: float) -> float:
        return 0.5 * (1 + math.erf((math.log(limit) - centre) / (sigma * math.sqrt(2))))

    healthy, danger = below(HEALTHY_BELOW), 1 - below(DANGER_ABOVE)
    shares = [max(s, SHARE_FLOOR) for s in (healthy, 1 - healthy - danger, danger)]
    return tuple(s / sum(shares) for s in shares)


def label_row(file: str, hour: datetime, pm25: float, lat: float, lon: float) -> dict[str, str]:
    """The labels.csv row (airken.datafolder) of a photo taken in the local `hour` at the grid
    cell (lat, lon), labelled by the model of the area (train/README.md, "Labels for your own
    photos")."""
    place = f"{lat:+05.1f}{lon:+06.1f}"  # the grid cell, ISO 6709 style: "+45.5+009.2"
    return new_row(file, pm25, hour, place, is_daylight(lat, lon, hour), label_source="cams")


def predict_with_air(predictor: Predictor, source: ImageSource, *, lat: float | str | None = None,
                     lon: float | str | None = None, time: datetime | str | None = None,
                     client: OpenMeteo | None = None, prior=None, place=None) -> Prediction:
    """Read the photo once, look up the modelled PM2.5 for its place and hour, and predict
    (with that as the class prior when AIRKEN_AIR_PRIOR=1 and the caller gives no ``prior``;
    ``place``: a place profile, see Predictor.predict). Prediction.air is the report's JSON,
    {"error": reason} when the lookup failed, or None when there is no place or hour.
    Raises ImageRejected for a file that is not a usable photo."""
    client = client or default_client()
    t0 = perf_counter()
    photo = read_photo(source, predictor.limits)
    t1 = perf_counter()
    report, air = _lookup(photo, lat, lon, time, client)
    t2 = perf_counter()
    if prior is None and report is not None and client.settings.use_prior:
        prior = class_shares(report.pm25, client.settings.prior_sigma)
    pred = predictor.predict(photo, prior=prior, place=place)
    pred.air = air
    pred.timings_ms = _with_lookup(pred.timings_ms, t0, t1, t2)
    return pred


def _lookup(photo: Photo, lat, lon, when, client: OpenMeteo) -> tuple[AirReport | None, dict | None]:
    if not client.settings.enabled:
        return None, None
    given = lat is not None or lon is not None
    if not given and (photo.latitude is None or photo.taken_at is None):
        return None, None
    try:
        at = parse_time(when) or photo.taken_at
        place = (lat, lon) if given else (photo.latitude, photo.longitude)
        report = air_report(*place, at, client=client)  # type: ignore[arg-type]
    except AirError as err:
        return None, {"error": err.message}
    except Exception:  # a bug here must never cost the visitor the photo's reading
        log.exception("air-quality lookup failed")
        return None, {"error": LOOKUP_FAILED}
    return report, report.to_dict()


def _with_lookup(timings: dict[str, float], t0: float, t1: float, t2: float) -> dict[str, float]:
    """The predictor timed a photo already decoded: put the decode and the lookup in."""
    decode, lookup = round((t1 - t0) * 1000, 2), round((t2 - t1) * 1000, 2)
    rest = timings.get("total", 0.0) - timings.get("decode", 0.0)
    return {**timings, "decode": decode, "air": lookup, "total": round(rest + decode + lookup, 2)}
