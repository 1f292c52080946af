"""The air model's archive for one photo: the modelled hourly PM2.5 at the photo's place (its
EXIF GPS, or a place given) and hour (its EXIF time). What labels a folder of your own photos
(`airken calibrate --from-air`, `python -m train.label_photos`)."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from airken.airmodel.openmeteo import AirError, OpenMeteo, round_place
from airken.core.intake import Photo

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff"}
NO_GPS = "no GPS position in its EXIF"
NO_TIME = "no time in its EXIF"
NO_VALUE = "no modelled PM2.5 for that hour"


def photos_in(folder: Path) -> list[Path]:
    """The photos in a folder and its subfolders, by name."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


@dataclass(frozen=True)
class ModelledHour:
    hour: datetime  # local time at the place
    pm25: float
    lat: float  # the 0.1 degree grid cell
    lon: float


def modelled_hour(photo: Photo, client: OpenMeteo, lat: float | None = None,
                  lon: float | None = None) -> tuple[ModelledHour | None, str | None]:
    """(the modelled value at the photo's place and hour, None) or (None, why there is none)."""
    if photo.latitude is not None and photo.longitude is not None:
        lat, lon = photo.latitude, photo.longitude
    if lat is None or lon is None:
        return None, NO_GPS
    if photo.taken_at is None:
        return None, NO_TIME
    try:
        lat, lon = round_place(lat, lon)
        day = photo.taken_at.date()  # local at the place, or in the camera's own offset
        series = client.series(lat, lon, dates=(day - timedelta(days=1), day + timedelta(days=1)))
    except AirError as err:
        return None, err.message
    hit = series.at(photo.taken_at)
    return (None, NO_VALUE) if hit is None else (ModelledHour(hit[0], hit[1], lat, lon), None)


class JsonAnswers(MutableMapping):
    """Archive answers by request, saved to a JSON file after each new one (atomically): a
    second run asks nothing it asked before."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._data = {}

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __setitem__(self, key: str, value: object) -> None:
        self._data[key] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data), encoding="utf-8")
        os.replace(tmp, self.path)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
