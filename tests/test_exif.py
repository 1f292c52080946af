"""EXIF time and GPS position, read in intake's single pass over the file, in every format
a phone writes; broken or missing blocks give no time or place and the photo still reads."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

from airken.core.intake import read_photo
from bench.fixtures.exif_photos import SKY, exif_block, photo_with_exif

WHEN = datetime(2025, 3, 14, 9, 30)


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "heic"])
def test_time_with_offset_and_position_in_every_format(tmp_path, ext):
    path = photo_with_exif(tmp_path / f"sky.{ext}", when=WHEN, offset="+01:00", lat=45.4642, lon=9.19)
    photo = read_photo(path)
    assert photo.taken_at == WHEN.replace(tzinfo=timezone(timedelta(hours=1)))
    assert photo.latitude == pytest.approx(45.4642, abs=1e-4)
    assert photo.longitude == pytest.approx(9.19, abs=1e-4)
    assert photo.image.mode == "RGB" and max(photo.image.size) <= 448


def test_south_and_west_are_negative(tmp_path):
    photo = read_photo(photo_with_exif(tmp_path / "s.jpg", when=WHEN, lat=-33.87, lon=-70.65))
    assert photo.latitude == pytest.approx(-33.87, abs=1e-4)
    assert photo.longitude == pytest.approx(-70.65, abs=1e-4)


def test_no_offset_is_local_time_unless_the_gps_clock_says_utc(tmp_path):
    naive = read_photo(photo_with_exif(tmp_path / "n.jpg", when=WHEN, lat=1.0, lon=2.0))
    assert naive.taken_at == WHEN and naive.taken_at.tzinfo is None
    utc = datetime(2025, 3, 14, 8, 30, 5, tzinfo=timezone.utc)
    gps = read_photo(photo_with_exif(tmp_path / "g.jpg", when=WHEN, lat=1.0, lon=2.0, gps_utc=utc))
    assert gps.taken_at == utc


def test_negative_offset(tmp_path):
    photo = read_photo(photo_with_exif(tmp_path / "o.jpg", when=WHEN, offset="-05:00"))
    assert photo.taken_at.utcoffset() == timedelta(hours=-5)
    assert photo.latitude is None and photo.longitude is None


def test_no_exif_and_zero_position_mean_unknown(tmp_path):
    plain = read_photo(SKY)
    assert (plain.taken_at, plain.latitude, plain.longitude) == (None, None, None)
    zero = read_photo(photo_with_exif(tmp_path / "z.jpg", when=WHEN, lat=0.0, lon=0.0))
    assert zero.latitude is None and zero.longitude is None and zero.taken_at == WHEN


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("block", [
    b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 16,  # not a TIFF header
    b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff",  # an IFD that claims 65535 entries
])
def test_broken_exif_block_keeps_the_photo(block):
    buf = io.BytesIO()
    Image.open(SKY).convert("RGB").save(buf, "JPEG", exif=block)
    photo = read_photo(buf.getvalue())
    assert photo.image.size[0] > 0
    assert (photo.taken_at, photo.latitude, photo.longitude) == (None, None, None)


def test_placeholder_dates_are_ignored():
    exif = exif_block()
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    buf = io.BytesIO()
    Image.open(SKY).convert("RGB").save(buf, "JPEG", exif=exif.tobytes())
    assert read_photo(buf.getvalue()).taken_at is None
