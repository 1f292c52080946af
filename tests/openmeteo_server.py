"""A stand-in for Open-Meteo's air-quality and geocoding APIs, served on 127.0.0.1.

It speaks the JSON of the public endpoints:

* ``GET /v1/air-quality?latitude=..&longitude=..&hourly=pm2_5[&timezone=auto][&domains=..]
  [&past_days=N&forecast_days=M | &start_date=YYYY-MM-DD&end_date=YYYY-MM-DD]`` answers
  ``{"latitude", "longitude", "utc_offset_seconds", "timezone", "timezone_abbreviation",
  "hourly_units": {"time": "iso8601", "pm2_5": "μg/m³"}, "hourly": {"time": [...], "pm2_5": [...]}}``
  with local times from 00:00 of the first day (in ``zone`` when timezone=auto, else GMT), and
  HTTP 400 ``{"error": true, "reason": ...}`` for parameters the real API refuses.
* ``GET /v1/search?name=..&count=..`` answers ``{"results": [...], "generationtime_ms": ..}``,
  without "results" when no place matches.

``pm25(utc_time, lat, lon)`` gives the values. Switches for the failure tests: ``mode`` one of
"normal", "hang" (accepts, never answers), "error500", "busy" (HTTP 429, as the free tier
answers once its daily limit is spent), "bad_json", "empty_hourly"; ``latency_s``
delays every answer. ``requests`` records (path, query) of everything asked.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from local_http import LocalService, QuietHandler

PLACES = {
    "milan": {"name": "Milan", "latitude": 45.46427, "longitude": 9.18951, "country": "Italy",
              "admin1": "Lombardy", "timezone": "Europe/Rome"},
    "kathmandu": {"name": "Kathmandu", "latitude": 27.70169, "longitude": 85.3206, "country": "Nepal",
                  "admin1": "Bagmati Province", "timezone": "Asia/Kathmandu"},
}


def daily_cycle(utc: datetime, lat: float, lon: float) -> float:
    """Clean afternoons, dirty nights and mornings: every class appears within a day."""
    local_hour = (utc.hour + lon / 15.0) % 24
    return round(38.0 + 30.0 * math.cos(2 * math.pi * (local_hour - 6.0) / 24.0), 1)


class FakeOpenMeteo(LocalService):
    def __init__(self, zone: str = "Europe/Rome",
                 pm25: Callable[[datetime, float, float], float | None] = daily_cycle) -> None:
        super().__init__(_Handler)
        self.zone = ZoneInfo(zone)
        self.pm25 = pm25
        self.mode = "normal"
        self.latency_s = 0.0
        self.requests: list[tuple[str, dict[str, str]]] = []

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def air_url(self) -> str:
        return f"{self.url}/v1/air-quality"

    @property
    def geocode_url(self) -> str:
        return f"{self.url}/v1/search"

    def env(self, **extra: str) -> dict[str, str]:
        """Settings that point the app at this server."""
        return {"AIRKEN_AIR": "1", "AIRKEN_AIR_URL": self.air_url, "AIRKEN_GEOCODE_URL": self.geocode_url, **extra}

    # ---------------------------------------------------------------- answers

    def air_quality(self, q: dict[str, str]) -> tuple[int, dict]:
        try:
            lat, lon = float(q["latitude"]), float(q["longitude"])
        except (KeyError, ValueError):
            return 400, {"error": True, "reason": "Parameter 'latitude' and 'longitude' must be floats"}
        zone = self.zone if q.get("timezone") == "auto" else ZoneInfo("GMT")
        today = datetime.now(zone).date()
        if "start_date" in q or "end_date" in q:
            try:
                first, last = date.fromisoformat(q["start_date"]), date.fromisoformat(q["end_date"])
            except (KeyError, ValueError):
                return 400, {"error": True, "reason": "Parameter 'start_date' and 'end_date' must be set together"}
            if first < date(2013, 1, 1) or last > today + timedelta(days=7) or last < first:
                return 400, {"error": True, "reason": f"Parameter 'start_date' is out of allowed range "
                                                      f"from 2013-01-01 to {today + timedelta(days=7)}"}
        else:
            past, ahead = int(q.get("past_days", 0)), int(q.get("forecast_days", 5))
            if not 0 <= past <= 92 or not 0 <= ahead <= 7:
                return 400, {"error": True, "reason": "Parameter 'past_days' must be between 0 and 92"}
            first, last = today - timedelta(days=past), today + timedelta(days=ahead - 1)
        start = datetime.combine(first, datetime.min.time(), zone)
        hours = [start + timedelta(hours=h) for h in range(((last - first).days + 1) * 24)]
        values = [self.pm25(t.astimezone(timezone.utc), lat, lon) for t in hours]
        offset = int(datetime.now(zone).utcoffset().total_seconds())
        body = {
            "latitude": lat, "longitude": lon, "generationtime_ms": 0.4, "utc_offset_seconds": offset,
            "timezone": str(zone.key), "timezone_abbreviation": datetime.now(zone).tzname(), "elevation": 120.0,
            "hourly_units": {"time": "iso8601", "pm2_5": "μg/m³"},
            "hourly": {"time": [t.strftime("%Y-%m-%dT%H:%M") for t in hours], "pm2_5": values},
        }
        if self.mode == "empty_hourly":
            body["hourly"] = {"time": [], "pm2_5": []}
        return 200, body

    def search(self, q: dict[str, str]) -> tuple[int, dict]:
        name = q.get("name", "").strip().lower()
        if not name:
            return 400, {"error": True, "reason": "Parameter 'name' is required"}
        hit = PLACES.get(name)
        body: dict = {"generationtime_ms": 0.3}
        if hit:
            body["results"] = [{"id": 1, **hit}]
        return 200, body


class _Handler(QuietHandler):
    def do_GET(self) -> None:
        fake: FakeOpenMeteo = self.server.owner
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        fake.requests.append((url.path, query))
        if fake.mode == "hang":
            fake.release.wait(60)
            self.close_connection = True
            return
        if fake.latency_s:
            time.sleep(fake.latency_s)
        if fake.mode == "error500":
            return self.send(500, b"Internal Server Error", {"Content-Type": "text/plain"})
        if fake.mode == "busy":
            return self.send(429, json.dumps({"error": True, "reason": "Daily API request limit exceeded. "
                                                                       "Please try again tomorrow."}).encode(), _JSON)
        if fake.mode == "bad_json":
            return self.send(200, b'{"hourly": {"time": ["2025-', _JSON)
        if url.path == "/v1/air-quality":
            status, body = fake.air_quality(query)
        elif url.path == "/v1/search":
            status, body = fake.search(query)
        else:
            status, body = 404, {"error": True, "reason": "Not Found"}
        self.send(status, json.dumps(body).encode(), _JSON)


_JSON = {"Content-Type": "application/json"}
