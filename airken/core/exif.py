"""When and where a photo was taken, from its EXIF block (JPEG, HEIC, PNG, WebP, TIFF).

Read from the already opened image inside intake's single pass over the file: no second
read, no pixels decoded. A missing or broken block gives no time or place, never an error:
the photo is still read.
"""
from __future__ import annotations

import logging
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image

log = logging.getLogger(__name__)

_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_OFFSET_TIME = 0x9010
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_GPS_TIME, _GPS_DATE = 7, 29
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
# What Pillow raises for malformed EXIF blocks (kept narrow: our own bugs must surface).
_EXIF_ERRORS = (SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error, OSError,
                ZeroDivisionError, AttributeError)


@dataclass(frozen=True)
class Taken:
    """EXIF time (aware when the file says its UTC offset, else local time at the place)
    and GPS position in decimal degrees; None where the file does not say."""

    at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


def read_taken(im: Image.Image) -> Taken:
    """The time and place recorded in an opened image's EXIF block."""
    try:
        exif = im.getexif()
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        latitude, longitude = _position(gps)
        return Taken(_time(exif.get_ifd(ExifTags.IFD.Exif), gps), latitude, longitude)
    except _EXIF_ERRORS as exc:
        log.info("ignoring unreadable EXIF block: %s", type(exc).__name__)
        return Taken()


def _time(ifd: dict, gps: dict) -> datetime | None:
    """DateTimeOriginal with its OffsetTimeOriginal; without an offset, the GPS clock (UTC)
    where the camera wrote one, else the naive local time."""
    local = _parse_datetime(ifd.get(_DATETIME_ORIGINAL))
    offset = _parse_offset(ifd.get(_OFFSET_TIME_ORIGINAL) or ifd.get(_OFFSET_TIME))
    if local is not None and offset is not None:
        return local.replace(tzinfo=offset)
    return _gps_time(gps) or local


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    return str(value).strip().strip("\x00").strip()


def _parse_datetime(value) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.strptime(_text(value)[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None


def _parse_offset(value) -> timezone | None:
    match = _OFFSET.match(_text(value)) if value is not None else None
    if match is None:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > 14 * 60:
        return None
    return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))


def _gps_time(gps: dict) -> datetime | None:
    date, hms = gps.get(_GPS_DATE), gps.get(_GPS_TIME)
    if date is None or hms is None or len(hms) != 3:
        return None
    try:
        day = datetime.strptime(_text(date)[:10], "%Y:%m:%d")
    except ValueError:
        return None
    seconds = sum(float(v) * scale for v, scale in zip(hms, (3600, 60, 1), strict=True))
    if not 0 <= seconds < 86400:
        return None
    return day.replace(tzinfo=timezone.utc) + timedelta(seconds=seconds)


def _position(gps: dict) -> tuple[float | None, float | None]:
    latitude = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S", 90.0)
    longitude = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W", 180.0)
    if latitude is None or longitude is None or latitude == longitude == 0.0:  # 0,0: no fix
        return None, None
    return latitude, longitude


def _degrees(dms, ref, negative: str, limit: float) -> float | None:
    """(degrees, minutes, seconds) rationals and an N/S or E/W reference -> signed degrees."""
    if dms is None or len(dms) != 3:
        return None
    value = sum(float(v) / scale for v, scale in zip(dms, (1, 60, 3600), strict=True))
    if not math.isfinite(value) or value > limit:
        return None
    return -value if _text(ref or "").upper() == negative else value
