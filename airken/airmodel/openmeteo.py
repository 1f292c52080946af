"""Open-Meteo's air-quality and geocoding APIs: modelled hourly PM2.5 for a place, places by name.

Protocol (open-meteo.com/en/docs/air-quality-api and /en/docs/geocoding-api):

    GET {AIRKEN_AIR_URL}?latitude=45.5&longitude=9.2&hourly=pm2_5&domains=auto&timezone=auto
        &past_days=1&forecast_days=3          (or &start_date=2025-03-10&end_date=2025-03-12)
    -> {"timezone": "Europe/Rome", "utc_offset_seconds": 3600, "hourly_units": {"pm2_5": "μg/m³"},
        "hourly": {"time": ["2025-03-10T00:00", ...], "pm2_5": [12.3, null, ...]}}
    -> HTTP 400 {"error": true, "reason": "..."} for a request it refuses

    GET {AIRKEN_GEOCODE_URL}?name=Milan&count=1&language=en&format=json
    -> {"results": [{"name", "latitude", "longitude", "country", "timezone", ...}]}  (no
       "results" key when nothing matches)

The values are the Copernicus CAMS European (0.1°, ~11 km) and global (~45 km) forecasts and
analyses, CC BY 4.0. Coordinates are rounded to 0.1° before any request (the grid is coarser
anyway) and never logged. Nothing here runs at import or start-up. Every failure is an
AirError whose message a person can read; after a network failure the host is left alone
for AIRKEN_AIR_RETRY_S, so a machine without a network answers "no live data" at once.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airken import settings

log = logging.getLogger(__name__)

_DEFAULTS = settings.DEFAULTS
DEFAULT_AIR_URL = _DEFAULTS.air_url
CREDIT = ("Modelled PM2.5: Open-Meteo.com (CC BY 4.0), from the Copernicus Atmosphere Monitoring "
          "Service (CAMS) European and global air-quality forecasts.")
GRID_DEG = 0.1
MAX_PAST_DAYS = 92  # what /v1/air-quality accepts for past_days

NO_LIVE_DATA = "No live air data: the air-quality service cannot be reached from here."
OFF = "No live air data: it is switched off (AIRKEN_AIR=0)."
NO_DATA = "No modelled PM2.5 for this place and hour."
BUSY = "No live air data: the air-quality service is busy (its daily limit of requests is spent)."
_UNITS = {"μg/m³", "µg/m³", "ug/m3", "μg/m3", "µg/m3"}


class AirError(Exception):
    """No modelled PM2.5 for this request; ``args[0]`` says why, in one plain line."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else NO_DATA


@dataclass(frozen=True)
class AirSettings:
    """What the client needs of the AIRKEN_AIR* settings (parsed by airken.settings)."""

    enabled: bool = _DEFAULTS.air
    air_url: str = _DEFAULTS.air_url
    geocode_url: str = _DEFAULTS.geocode_url
    domains: str = _DEFAULTS.air_domains  # auto, cams_europe or cams_global
    connect_timeout_s: float = _DEFAULTS.air_connect_timeout_s
    read_timeout_s: float = _DEFAULTS.air_read_timeout_s
    retry_after_s: float = _DEFAULTS.air_retry_s  # after a network failure, don't try that host again for this long
    cache_size: int = 512

    @classmethod
    def from_env(cls) -> AirSettings:
        """The AIRKEN_AIR* settings as the environment gives them now (cheap: read per call)."""
        env = settings.current()
        return cls(enabled=env.air, air_url=env.air_url, geocode_url=env.geocode_url, domains=env.air_domains,
                   connect_timeout_s=env.air_connect_timeout_s, read_timeout_s=env.air_read_timeout_s,
                   retry_after_s=env.air_retry_s)


def round_place(lat: float | str | None, lon: float | str | None) -> tuple[float, float]:
    """Checked coordinates rounded to the 0.1° grid; AirError with the reason otherwise."""
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AirError("Latitude and longitude must be numbers, e.g. 45.46 and 9.19.") from None
    if not (math.isfinite(la) and -90 <= la <= 90):
        raise AirError("Latitude must be between -90 and 90.")
    if not (math.isfinite(lo) and -180 <= lo <= 180):
        raise AirError("Longitude must be between -180 and 180.")
    return round(la, 1) + 0.0, round(lo, 1) + 0.0  # + 0.0: no "-0.0"


@dataclass(frozen=True)
class Series:
    """Hourly modelled PM2.5 for one grid cell, times aware in the place's time zone."""

    lat: float
    lon: float
    times: tuple[datetime, ...]
    pm25: tuple[float | None, ...]
    zone: tzinfo
    source: str

    def local(self, when: datetime) -> datetime:
        """A time in the place's zone; a naive one is taken as local time there already."""
        return when.replace(tzinfo=self.zone) if when.tzinfo is None else when.astimezone(self.zone)

    def at(self, when: datetime) -> tuple[datetime, float] | None:
        """The hour that holds `when`, or the nearest hour with a value up to 2 h away."""
        hour = self.local(when).replace(minute=0, second=0, microsecond=0).timestamp()
        near = [(abs(t.timestamp() - hour), t, v) for t, v in zip(self.times, self.pm25, strict=True)
                if v is not None and abs(t.timestamp() - hour) <= 2 * 3600]
        if not near:
            return None
        _, t, v = min(near, key=lambda item: (item[0], item[1].timestamp()))
        return t, v

    def between(self, start: datetime, hours: int) -> list[tuple[datetime, float | None]]:
        """The hours from the one holding `start`, for `hours` hours."""
        first = self.local(start).replace(minute=0, second=0, microsecond=0).timestamp()
        last = first + hours * 3600
        return [(t, v) for t, v in zip(self.times, self.pm25, strict=True) if first <= t.timestamp() < last]


@dataclass(frozen=True)
class Place:
    name: str  # "Milan, Lombardy, Italy"
    lat: float  # rounded to the grid
    lon: float


class OpenMeteo:
    """One client per process: a connection pool, a cache per (rounded place, hour), and a
    short memory of hosts that could not be reached. `answers` (optional) keeps every answer
    by its request, for callers whose questions have fixed answers (train.label_photos asks
    the archive, and saves them on disk so that a second run asks nothing again)."""

    def __init__(self, settings: AirSettings | None = None, clock: Callable[[], float] = time.time,
                 answers: MutableMapping[str, object] | None = None):
        self.settings = settings or AirSettings.from_env()
        self._clock = clock
        self._answers = answers
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._http = None

    # ---------------------------------------------------------------- public

    def series(self, lat: float, lon: float, *, past_days: int = 1, forecast_days: int = 3,
               dates: tuple[date, date] | None = None) -> Series:
        """Hourly PM2.5 for the grid cell of (lat, lon): `past_days` back and `forecast_days`
        ahead of today (local), or the local `dates` (first, last) from the archive."""
        lat, lon = round_place(lat, lon)
        params: dict[str, object] = {"latitude": lat, "longitude": lon, "hourly": "pm2_5",
                                     "domains": self.settings.domains, "timezone": "auto"}
        if dates is None:
            params.update(past_days=min(max(past_days, 0), MAX_PAST_DAYS), forecast_days=forecast_days)
        else:
            params.update(start_date=dates[0].isoformat(), end_date=dates[1].isoformat())
        key = ("air", tuple(sorted(params.items())), self.hour())
        return self.cached(key, lambda: _parse_series(self._answer(self.settings.air_url, params), lat, lon,
                                                        f"open-meteo:{self.settings.domains}"))

    def geocode(self, name: str) -> Place:
        """The best match for a place name (its coordinates rounded to the grid)."""
        name = " ".join(str(name or "").split())
        if not name:
            raise AirError("Type the name of a town or city.")
        if len(name) > 100:
            raise AirError("That place name is too long: type the name of a town or city.")
        params = {"name": name, "count": 1, "language": "en", "format": "json"}
        return self.cached(("place", name.lower()), lambda: _parse_place(
            self._get(self.settings.geocode_url, params), name))

    # ---------------------------------------------------------------- plumbing

    def hour(self) -> int:
        """The current hour (UTC, as a count): what the cache keys of live answers carry."""
        return int(self._clock() // 3600)

    def cached(self, key: tuple, fetch: Callable[[], object]):
        """fetch() once per key (until it falls out of the LRU); errors are not kept."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = fetch()  # outside the lock: other places must not wait on this request
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self.settings.cache_size:
                self._cache.popitem(last=False)
        return value

    def warm(self) -> None:
        """Build the HTTP client now (its TLS context takes ~0.1 s), so that the first
        lookup of a visitor does not wait for it. The app calls it in a background thread."""
        if self.settings.enabled:
            self._client()

    def _client(self):
        import httpx  # here, not at import: the CLI and training need it only when they ask

        with self._lock:
            if self._http is None:
                # httpx logs every request URL at INFO, and ours carry the (rounded) place.
                logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
                s = self.settings
                timeout = httpx.Timeout(s.read_timeout_s, connect=s.connect_timeout_s)
                self._http = httpx.Client(timeout=timeout, follow_redirects=True,
                                          headers={"User-Agent": "airken"})
            return self._http

    def _answer(self, url: str, params: dict) -> object:
        if self._answers is None:
            return self._get(url, params)
        key = json.dumps([url, sorted(params.items())])
        if key not in self._answers:
            self._answers[key] = self._get(url, params)
        return self._answers[key]

    def _get(self, url: str, params: dict) -> object:
        import httpx

        if not self.settings.enabled:
            raise AirError(OFF)
        host = urlsplit(url).netloc
        if self._down_until.get(host, 0.0) > self._clock():
            raise AirError(NO_LIVE_DATA)
        try:
            response = self._client().get(url, params=params)
        except httpx.TimeoutException:
            self._down_until[host] = self._clock() + self.settings.retry_after_s
            raise AirError("No live air data: the air-quality service did not answer in time.") from None
        except (httpx.TransportError, OSError) as err:  # DNS, refused, unreachable, TLS, proxy
            log.info("air-quality service unreachable (%s): no live data for %.0f s",
                     type(err).__name__, self.settings.retry_after_s)
            self._down_until[host] = self._clock() + self.settings.retry_after_s
            raise AirError(NO_LIVE_DATA) from None
        if response.status_code == 429:  # the free tier's limit: no live data until it lets us in again
            self._down_until[host] = self._clock() + self.settings.retry_after_s
            raise AirError(BUSY)
        return _read_json(response)


def _read_json(response) -> object:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        reason = " ".join(str(body.get("reason") or "no reason given").split())[:200]
        raise AirError(f"The air-quality service refused the request: {reason}")
    if response.status_code >= 400:
        raise AirError(f"The air-quality service failed (HTTP {response.status_code}): try again later.")
    if not isinstance(body, dict):
        raise AirError("The air-quality service sent an answer that cannot be read.")
    return body


def _zone(name: object, offset_s: object) -> tzinfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        try:
            return timezone(timedelta(seconds=int(offset_s)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return timezone.utc


def _value(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        return None
    return float(v)


def _parse_series(body: dict, lat: float, lon: float, source: str) -> Series:
    hourly = body.get("hourly")
    times = hourly.get("time") if isinstance(hourly, dict) else None
    values = hourly.get("pm2_5") if isinstance(hourly, dict) else None
    if not isinstance(times, list) or not isinstance(values, list) or len(times) != len(values):
        raise AirError(NO_DATA)
    units = body.get("hourly_units")
    unit = units.get("pm2_5") if isinstance(units, dict) else None
    if unit is not None and unit not in _UNITS:
        raise AirError(f"The air-quality service answered in {str(unit)[:20]!r}, not in µg/m³.")
    zone = _zone(body.get("timezone"), body.get("utc_offset_seconds"))
    try:
        stamps = tuple(datetime.fromisoformat(str(t)).replace(tzinfo=zone) for t in times)
    except ValueError:
        raise AirError("The air-quality service sent an answer that cannot be read.") from None
    pm25 = tuple(_value(v) for v in values)
    if all(v is None for v in pm25):
        raise AirError(NO_DATA)
    return Series(lat, lon, stamps, pm25, zone, source)


def _parse_place(body: dict, name: str) -> Place:
    results = body.get("results")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise AirError(f"No place called \u201c{name[:60]}\u201d was found: try the nearest town's name.")
    best = results[0]
    lat, lon = round_place(best.get("latitude"), best.get("longitude"))
    parts = [best.get("name"), best.get("admin1"), best.get("country")]
    label = ", ".join(dict.fromkeys(str(p) for p in parts if p)) or name
    return Place(label, lat, lon)


_default: OpenMeteo | None = None
_default_lock = threading.Lock()


def default_client() -> OpenMeteo:
    """The process-wide client, rebuilt when the AIRKEN_AIR* settings change."""
    global _default
    wanted = AirSettings.from_env()
    with _default_lock:
        if _default is None or _default.settings != wanted:
            _default = OpenMeteo(wanted)
        return _default
