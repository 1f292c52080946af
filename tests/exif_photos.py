"""Photos with an EXIF time and GPS position, written by the tests from the repo's example
photos (Pillow writes the EXIF block), in JPEG, PNG, WebP and HEIC."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pillow_heif
from PIL import ExifTags, Image

from airken.examples import EXAMPLES_DIR as EXAMPLES

SKY = EXAMPLES / "clear-mountains-picos-de-europa.jpg"
FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return (float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4))


def exif_block(when: datetime | None = None, offset: str | None = None, lat: float | None = None,
               lon: float | None = None, gps_utc: datetime | None = None) -> Image.Exif:
    exif = Image.Exif()
    if when is not None:
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
        ifd[ExifTags.Base.DateTimeOriginal] = when.strftime("%Y:%m:%d %H:%M:%S")
        if offset is not None:
            ifd[ExifTags.Base.OffsetTimeOriginal] = offset
    if lat is not None and lon is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _dms(lon)
        if gps_utc is not None:
            gps[ExifTags.GPS.GPSDateStamp] = gps_utc.strftime("%Y:%m:%d")
            gps[ExifTags.GPS.GPSTimeStamp] = (float(gps_utc.hour), float(gps_utc.minute), float(gps_utc.second))
    return exif


def photo_with_exif(dst: Path, *, source: Path = SKY, **block) -> Path:
    """Write `source` to `dst` (format from its suffix) with the EXIF block of exif_block(**block)."""
    fmt = FORMATS[dst.suffix.lstrip(".").lower()]
    with Image.open(source) as im:
        img = im.convert("RGB")
    img.thumbnail((800, 800))
    exif = exif_block(**block).tobytes()
    if fmt == "HEIF":
        pillow_heif.from_pillow(img).save(dst, quality=80, exif=exif)
    else:
        img.save(dst, fmt, exif=exif, **({"quality": 85} if fmt in ("JPEG", "WEBP") else {}))
    return dst
