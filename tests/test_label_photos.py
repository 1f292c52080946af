"""train.label_photos: EXIF time and GPS -> the archive's modelled PM2.5 -> a data folder that
train/ reads; photos it cannot label are listed; a second run asks nothing again; no TensorFlow."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from airken.airmodel.openmeteo import AirSettings
from bench.fixtures.exif_photos import photo_with_exif
from bench.fixtures.openmeteo_server import daily_cycle
from train import label_photos
from train.data import read_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
ROME = ZoneInfo("Europe/Rome")
DAY = (datetime.now(ROME) - timedelta(days=20)).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
EARLIER = DAY - timedelta(days=3)


@pytest.fixture
def server(air_server):
    return air_server


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "phone"
    (folder / "trip").mkdir(parents=True)
    photo_with_exif(folder / "a.jpg", when=DAY.replace(hour=11, minute=20), lat=45.4642, lon=9.1895)
    offset = datetime.now(ROME).strftime("%z")  # the camera's offset, as Rome's today
    photo_with_exif(folder / "trip" / "b.heic", when=EARLIER.replace(hour=16, minute=5),
                    offset=f"{offset[:3]}:{offset[3:]}", lat=45.47, lon=9.21)
    photo_with_exif(folder / "trip" / "a.jpg", when=EARLIER.replace(hour=8), lat=45.5, lon=9.2)  # same name
    photo_with_exif(folder / "no-gps.png", when=DAY.replace(hour=11))
    photo_with_exif(folder / "no-time.webp", lat=45.46, lon=9.19)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def rows_of(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_labels_a_folder_that_train_reads(server, photos, tmp_path):
    out = tmp_path / "data"
    counts = label_photos.run(photos, out, settings=AirSettings(air_url=server.air_url))
    assert counts["labelled"] == 3 and counts["skipped"] == 3
    rows = {r["source_file"]: r for r in rows_of(out / "labels.csv")}
    assert set(rows) == {"a.jpg", "trip/a.jpg", "trip/b.heic"}
    a = rows["a.jpg"]
    hour = DAY.replace(hour=11, tzinfo=ROME)
    assert float(a["pm25"]) == pytest.approx(daily_cycle(hour.astimezone(timezone.utc), 45.5, 9.2), abs=0.05)
    assert (a["timestamp_local"], a["date"], a["place"], a["label_source"]) == (
        f"{DAY:%Y-%m-%d}T11:00", f"{DAY:%Y-%m-%d}", "+45.5+009.2", "cams")
    assert rows["trip/a.jpg"]["daylight"] == "true" and rows["trip/a.jpg"]["file"] != rows["a.jpg"]["file"]
    skipped = dict(csv.reader((out / "skipped.csv").open()))
    assert skipped.pop("file") == "reason"
    assert skipped["no-gps.png"] == "no GPS position in its EXIF" and skipped["no-time.webp"] == "no time in its EXIF"
    assert skipped["broken.jpg"] == "The image file is damaged or incomplete"  # a file, not an upload
    assert not [why for why in skipped.values() if "upload" in why]
    samples, problems = read_folder(out)
    assert len(samples) == 3 and not problems
    assert {s.place for s in samples} == {"+45.5+009.2"} and {s.hour for s in samples} == {8, 11, 16}
    assert all((out / "images" / r["file"]).is_file() for r in rows.values())


def test_a_second_run_asks_nothing_again(server, photos, tmp_path):
    out = tmp_path / "data"
    label_photos.run(photos, out, settings=AirSettings(air_url=server.air_url))
    asked = len(server.requests)
    assert asked == 2  # one per grid cell and day, however many photos
    again = label_photos.run(photos, out, settings=AirSettings(air_url=server.air_url))
    assert again["labelled"] == 0 and again["already_labelled"] == 3
    assert len(server.requests) == asked
    photo_with_exif(photos / "c.jpg", when=DAY.replace(hour=15), lat=45.46, lon=9.19)  # a day asked before
    third = label_photos.run(photos, out, settings=AirSettings(air_url=server.air_url))
    assert third["labelled"] == 1 and len(server.requests) == asked
    assert len(rows_of(out / "labels.csv")) == 4


def test_link_instead_of_copy(server, photos, tmp_path):
    out = tmp_path / "data"
    label_photos.run(photos, out, link=True, settings=AirSettings(air_url=server.air_url))
    images = list((out / "images").iterdir())
    assert len(images) == 3 and all(p.is_symlink() for p in images)


def test_no_data_is_a_skip_not_a_crash(server, photos, tmp_path):
    server.mode = "error500"
    out = tmp_path / "data"
    counts = label_photos.run(photos, out, settings=AirSettings(air_url=server.air_url))
    assert counts["labelled"] == 0 and "The air-quality service failed (HTTP 500): try again later." in (
        counts["skipped_by_reason"])


def test_command_line_without_tensorflow(server, photos, tmp_path):
    out = tmp_path / "data"
    code = (
        "import sys; from train import label_photos; "
        f"rc = label_photos.main([{str(photos)!r}, '--out', {str(out)!r}, '--air-url', {server.air_url!r}]); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'torch')]; "
        "sys.exit(rc or (3 if bad else 0))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["labelled"] == 3
    missing = subprocess.run([sys.executable, "-m", "train.label_photos", str(tmp_path / "nope"), "--out", str(out)],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr


def test_old_dates_are_asked_from_the_archive(server, tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    when = datetime.now(ROME).replace(tzinfo=None, minute=0, second=0, microsecond=0) - timedelta(days=200)
    photo_with_exif(folder / "x.jpg", when=when, lat=45.46, lon=9.19)
    out = tmp_path / "data"
    assert label_photos.run(folder, out, settings=AirSettings(air_url=server.air_url))["labelled"] == 1
    (_, query), = server.requests
    assert query["start_date"] == (when.date() - timedelta(days=1)).isoformat()


def test_a_run_that_labels_nothing_says_why_and_fails(photos, tmp_path):
    """The air service cannot be reached (a closed port): every photo is skipped."""
    out = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "train.label_photos", str(photos), "--out", str(out),
                           "--air-url", "http://127.0.0.1:9/v1/air-quality"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("label_photos: none of the 6 photos could be labelled (No live air data")
    assert str(out / "skipped.csv") in last and "Traceback" not in done.stderr
