"""Opt-in photo donation against the fake Hub on 127.0.0.1: off unless configured, nothing kept
without consent, the shared copy carries only its time and rounded place, commits are batched
by CommitScheduler, a session is capped, and the committed folder is one train/ can read."""
from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from huggingface_hub import constants
from PIL import ExifTags, Image
from verdicts import FakeLookup, with_lookup

from airken.airmodel.donate import DonateSettings, Donations, clean_jpeg
from airken.core.exif import read_taken
from airken.core.intake import read_photo
from bench.fixtures.exif_photos import photo_with_exif

AIR = {"lat": 45.5, "lon": 9.2, "time": "2026-03-14T09:00+01:00", "pm25": 42.04, "label": "moderate"}
REPO = "airken/donations"


@pytest.fixture
def photo(tmp_path):
    path = photo_with_exif(tmp_path / "phone.jpg", when=datetime(2026, 3, 14, 9, 12), offset="+01:00",
                           lat=45.46427, lon=9.18951)
    with Image.open(path) as im:  # a camera's own tags, which must not travel
        exif = im.getexif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "PhoneMaker", "Phone 15"
    rich = tmp_path / "rich.jpg"
    Image.open(path).save(rich, "JPEG", exif=exif.tobytes())
    return read_photo(rich)


def donations_for(tmp_path, **extra) -> Donations:
    settings = {"repo": REPO, "token": "hf_test", "folder": tmp_path / "stage", "every_min": 60, **extra}
    return Donations(DonateSettings(**settings))


def test_off_unless_configured(monkeypatch):
    for name in ("AIRKEN_DONATE_REPO", "AIRKEN_DONATE_TOKEN", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert not DonateSettings.from_env().enabled
    monkeypatch.setenv("AIRKEN_DONATE_REPO", REPO)
    assert not DonateSettings.from_env().enabled  # no token
    monkeypatch.setenv("AIRKEN_DONATE_TOKEN", "hf_x")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert not DonateSettings.from_env().enabled  # offline
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert DonateSettings.from_env().enabled


def test_shared_photos_are_committed_in_batches(online_hub, photo, tmp_path):
    donations = donations_for(tmp_path)
    try:
        for session in ("s1", "s2", "s3"):
            assert donations.share(photo, AIR, session).startswith("Thank you")
        donations.flush()
    finally:
        donations.close()
    # The scheduler pushes once when it starts, then every `every_min`: here the flush.
    assert 1 <= len(online_hub.commit_log) <= 2 and {repo for repo, _, _ in online_hub.commit_log} == {REPO}
    files = online_hub.repos[REPO].commits[online_hub.repos[REPO].refs["main"]]
    prefix = f"donations/{donations.instance}/"
    assert all(p.startswith(prefix) for p in files)
    assert sum(p.endswith(".jpg") for p in files) == 3 and prefix + "labels.csv" in files
    rows = list(csv.DictReader(io.StringIO(files[prefix + "labels.csv"].decode())))
    assert [r["label_source"] for r in rows] == ["cams"] * 3
    assert rows[0]["pm25"] == "42.0" and rows[0]["label"] == "moderate" and rows[0]["place"] == "+45.5+009.2"
    assert rows[0]["timestamp_local"] == "2026-03-14T09:00" and rows[0]["date"] == "2026-03-14"
    image = Image.open(io.BytesIO(files[prefix + "images/" + rows[0]["file"]]))
    _only_time_and_rounded_place(image)


def _only_time_and_rounded_place(image: Image.Image) -> None:
    exif = image.getexif()
    assert set(exif) <= {ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo}  # no Make, Model, Software...
    assert set(exif.get_ifd(ExifTags.IFD.Exif)) == {ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal}
    taken = read_taken(image)
    assert (taken.latitude, taken.longitude) == (45.5, 9.2)
    assert taken.at.isoformat() == "2026-03-14T09:12:00+01:00"
    assert max(image.size) <= 448


def test_the_committed_folder_is_a_training_data_folder(online_hub, photo, tmp_path):
    from train.data import read_folder

    donations = donations_for(tmp_path)
    try:
        donations.share(photo, AIR, "s1")
        donations.flush()
    finally:
        donations.close()
    files = online_hub.repos[REPO].commits[online_hub.repos[REPO].refs["main"]]
    prefix = f"donations/{donations.instance}/"
    for path, data in files.items():
        out = tmp_path / "download" / path.removeprefix(prefix)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    samples, problems = read_folder(tmp_path / "download")
    assert len(samples) == 1 and not problems
    assert samples[0].pm25 == 42.0 and samples[0].hour == 9 and samples[0].place == "+45.5+009.2"


def test_capped_per_session(online_hub, photo, tmp_path):
    donations = donations_for(tmp_path, per_session=2)
    try:
        answers = [donations.share(photo, AIR, "s1") for _ in range(3)]
        assert answers[2].startswith("Not shared: at most 2")
        assert donations.share(photo, AIR, "s2").startswith("Thank you")
    finally:
        donations.close()
    assert len(list((tmp_path / "stage" / "images").glob("*.jpg"))) == 3


def test_no_label_no_share_and_nothing_written(online_hub, photo, tmp_path):
    donations = donations_for(tmp_path)
    assert donations.share(photo, None, "s1").startswith("Not shared")
    assert donations.share(photo, {"error": "No live air data"}, "s1").startswith("Not shared")
    # The block comes back from the browser: a tampered one is no label, never a crash.
    for tampered in ({**AIR, "time": "soon"}, {k: v for k, v in AIR.items() if k != "time"},
                     {**AIR, "pm25": "lots"}, {**AIR, "lat": float("nan")}, {**AIR, "lon": 900}, {**AIR, "lat": None}):
        assert donations.share(photo, tampered, "s1").startswith("Not shared"), tampered
    assert not (tmp_path / "stage").exists() or not any((tmp_path / "stage").iterdir())
    assert online_hub.requests == []


def test_a_failing_hub_does_not_fail_the_visitor(online_hub, photo, tmp_path):
    online_hub.error500 = True
    donations = donations_for(tmp_path)
    try:
        assert donations.share(photo, AIR, "s1").startswith("Thank you")  # staged on disk
        donations.flush()  # the scheduler could not start: the photo waits
        assert online_hub.commit_log == []
        online_hub.error500 = False
        donations.share(photo, AIR, "s2")  # the next donation starts it
        donations.flush()
    finally:
        donations.close()
    files = online_hub.repos[REPO].commits[online_hub.repos[REPO].refs["main"]]
    assert sum(p.endswith(".jpg") for p in files) == 2


def test_clean_jpeg_from_a_naive_time():
    image = Image.new("RGB", (64, 48), (120, 160, 220))
    data = clean_jpeg(image, datetime(2026, 3, 14, 9, 0), -33.87, -70.65)
    taken = read_taken(Image.open(io.BytesIO(data)))
    assert taken.at == datetime(2026, 3, 14, 9, 0) and (taken.latitude, taken.longitude) == (-33.9, -70.7)


def _tab(predictor):
    """A read tab whose components are their own names: its events' answers are keyed by them."""
    import dataclasses

    from airken.web.handlers import ReadTab

    names = [f.name for f in dataclasses.fields(ReadTab) if f.name != "predictor"]
    return ReadTab(predictor, **{n: n for n in names})


def test_the_page_offers_the_box_only_when_configured(online_hub, photo, tmp_path, monkeypatch):
    import airken.airmodel.donate
    from airken.core.predictor import get_predictor
    from airken.web import ui

    monkeypatch.setattr(airken.airmodel.donate, "_donations", None)
    for name in ("AIRKEN_DONATE_REPO", "AIRKEN_DONATE_TOKEN", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ids = {getattr(b, "elem_id", None) for b in ui.build_demo(get_predictor()).blocks.values()}
    assert "ak-share" not in ids
    monkeypatch.setattr(airken.airmodel.donate, "_donations", None)
    monkeypatch.setenv("AIRKEN_DONATE_REPO", REPO)
    monkeypatch.setenv("AIRKEN_DONATE_TOKEN", "hf_test")
    monkeypatch.setenv("AIRKEN_DONATE_DIR", str(tmp_path / "stage"))
    boxes = [b for b in ui.build_demo(get_predictor()).blocks.values() if getattr(b, "elem_id", None) == "ak-share"]
    assert len(boxes) == 1 and boxes[0].value is False  # unticked
    tab = _tab(with_lookup(FakeLookup(AIR)))
    v = tab.predictor.predict(tmp_path / "rich.jpg")  # the photo fixture's file, with GPS and time
    assert v.air_model["pm25"] == AIR["pm25"] and v.basis == "air_model"
    assert tab._shared(v, False, None)["shared"]["visible"] is False  # not ticked: nothing
    assert not (tmp_path / "stage" / "images").exists()
    said = tab._shared(v, True, None)["shared"]
    assert said["visible"] is True and "Thank you" in said["value"]
    assert len(list((tmp_path / "stage" / "images").glob("*.jpg"))) == 1
    airken.airmodel.donate.donations().close()


def test_the_share_event_reads_uploads_only(online_hub, tmp_path, monkeypatch):
    """The donation shares the photo the read event read, and that event names its photo like
    every event: a file outside the upload folder is not opened, and nothing is staged."""
    import airken.airmodel.donate
    from airken.web.uploads import NOT_AN_UPLOAD

    monkeypatch.setattr(airken.airmodel.donate, "_donations", None)
    monkeypatch.setenv("AIRKEN_DONATE_REPO", REPO)
    monkeypatch.setenv("AIRKEN_DONATE_TOKEN", "hf_test")
    monkeypatch.setenv("AIRKEN_DONATE_DIR", str(tmp_path / "stage"))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    outside = photo_with_exif(tmp_path / "elsewhere.jpg", when=datetime(2026, 3, 14, 9, 12), lat=45.46, lon=9.19)
    tab = _tab(with_lookup(FakeLookup(AIR)))
    refused = tab.read({"path": str(outside)}, None, None, True)
    assert NOT_AN_UPLOAD in refused["card"] and refused["shared"]["visible"] is False
    assert not (tmp_path / "stage" / "images").exists()
    upload = tmp_path / "uploads" / "abc" / "sky.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(outside.read_bytes())
    answer = tab.read({"path": str(upload)}, None, None, True)["shared"]
    assert "Thank you" in answer["value"] and len(list((tmp_path / "stage" / "images").glob("*.jpg"))) == 1
    airken.airmodel.donate.donations().close()
