"""Calibration profiles: the ordinal map and the view calibration it makes, the file and its
refusals, `airken calibrate` from a station's readings and from the air model's archive, and a
verdict read through a profile, with and without the air model."""
from __future__ import annotations

import json
import shutil
from datetime import datetime

import numpy as np
import pytest

from airken import calibrate, datafolder
from airken.core import ordinal
from airken.core.profiles import OLDER, BadProfile, Profile, check_name, load_profile, save_profile
from airken.core.view import fit_view, without_noise
from airken.examples import EXAMPLES_DIR as EXAMPLES
from bench.fixtures.exif_photos import photo_with_exif

CLEAR = ["clear-kite.jpg", "clear-mountains-picos-de-europa.jpg", "clear-bridge-cables.jpg"]


def _synthetic(n=300, seed=0, slope=2.0):
    """Photos whose haze score and one feature both follow the true class, as in one view."""
    rng = np.random.default_rng(seed)
    truth = ordinal.OrdinalMap((slope, 1.0), -0.5, 1.5)
    z = rng.normal(0.0, 1.0, (n, 2))
    y = np.array([rng.choice(3, p=p) for p in truth.probs(z)])
    return z, y


def test_the_ordinal_map_learns_a_view_and_keeps_its_thresholds_in_order():
    z, y = _synthetic()
    found = ordinal.fit(z, np.eye(3)[y], strength=0.01)
    assert found.t0 < found.t1 and found.weights[0] > 1.0 and found.weights[1] > 0.3
    right = (found.probs(z).argmax(1) == y).mean()
    assert right > 0.6


def test_a_few_readings_move_the_map_only_a_little_from_its_anchor():
    z, y = _synthetic(6)
    few = ordinal.fit(z[:, :1], np.eye(3)[y], strength=5.0)
    anchor = ordinal.IDENTITY
    assert abs(few.weights[0] - anchor.weights[0]) < 0.5 and abs(few.t0 - anchor.t0) < 0.5


def _probs_of(scores):
    """Class shares whose haze score is each of `scores` (for the view's first input)."""
    upper = 1 / (1 + np.exp(-np.asarray(scores)))
    return np.stack([1 - upper, upper * 0.5, upper * 0.5], axis=1)


def test_a_view_calibration_reads_its_frames_against_its_own_usual_frame():
    z, y = _synthetic(200)
    probs, feats = _probs_of(z[:, 0]), z[:, 1:]
    view = fit_view(probs, feats, np.eye(3)[y], np.arange(200), strength=0.01)
    shares = view.shares(probs, feats)
    assert shares[y == 2, 2].mean() > shares[y == 0, 2].mean() + 0.3  # hazier frames, hazier shares
    assert np.allclose(view.base, shares.mean(axis=0), atol=0.05)  # the evidence's baseline is its own average


def test_every_reading_weighs_the_same_however_many_frames_it_has():
    z, y = _synthetic(20)
    probs, feats, targets = _probs_of(z[:, 0]), z[:, 1:], np.eye(3)[y]
    repeat = np.r_[np.full(50, 0), np.arange(1, 20)]
    many = fit_view(probs[repeat], feats[repeat], targets[repeat], repeat, strength=1.0)
    once = fit_view(probs, feats, targets, np.arange(20), strength=1.0)
    assert np.allclose(many.map.weights, once.map.weights, atol=1e-3)


def test_label_noise_is_taken_out_of_a_map_fitted_on_the_air_models_labels():
    flat = ordinal.OrdinalMap((1.0,), -1.0, 1.0)
    sharp = without_noise(flat, 0.4)
    assert sharp.weights[0] > 1.0 and sharp.t1 - sharp.t0 > 2.0
    assert without_noise(flat, 10.0).weights[0] == pytest.approx(3.0)  # at most threefold


def test_a_profile_file_round_trips_and_an_older_one_says_make_it_again(tmp_path):
    z, y = _synthetic(30)
    view = fit_view(_probs_of(z[:, 0]), z[:, 1:], np.eye(3)[y], np.arange(30))
    profile = Profile("balcony-east", view, 30, 30, "station", (10, 10, 10), {"before": 0.4, "after": 0.7}, "ab" * 32)
    path = save_profile(profile, tmp_path)
    again = load_profile("balcony-east", tmp_path)
    assert path.name == "balcony-east.json" and again == profile
    old = json.dumps({"format": 1, "labels": ["healthy", "moderate", "danger"], "name": "a", "offsets": [0, 0, 0],
                      "readings": 3, "photos": 3})
    with pytest.raises(BadProfile, match="older Airken"):
        Profile.from_json(old)
    assert "airken calibrate" in OLDER


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"format": 2, "labels": ["healthy", "moderate", "danger"]}',
                                  "\x00\xff", '{"format": 2, "labels": ["healthy", "moderate", "danger"], "name": "a", '
                                  '"view": {"map": {"weights": [1], "t0": 2, "t1": 1}, "mean": [], "std": [], '
                                  '"base": [0.3, 0.3, 0.4]}, "readings": 1, "photos": 1, "label_source": "station"}'])
def test_damaged_profiles_are_refused_in_plain_words(text):
    with pytest.raises(BadProfile, match="calibration profile") as found:
        Profile.from_json(text)
    assert "format 1" not in str(found.value) and "classes healthy" not in str(found.value)


@pytest.mark.parametrize("name", ["", "../etc/passwd", "a/b", ".hidden", "x" * 65, "sp ace", "a..b"])
def test_names_that_are_not_plain_file_names_are_refused(name):
    with pytest.raises(BadProfile, match="profile name"):
        check_name(name)


def test_a_missing_profile_says_how_to_make_one(tmp_path):
    with pytest.raises(BadProfile, match="airken calibrate --name rooftop"):
        load_profile("rooftop", tmp_path)


def _folder(tmp_path, rows):
    images = tmp_path / "cam" / "images"
    images.mkdir(parents=True)
    lines = ["file,timestamp_local,pm25,label"]
    for i, (src, stamp, pm25, label) in enumerate(rows):
        name = f"{i:02d}-{src}"
        if src != "missing.jpg":
            shutil.copy(EXAMPLES / src, images / name)
        lines.append(f"{name},{stamp},{pm25},{label}")
    (tmp_path / "cam" / "labels.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "cam"


def test_a_folder_of_station_readings_calibrates_a_view(tmp_path):
    from airken.core.predictor import get_predictor

    folder = _folder(tmp_path, [
        ("clear-kite.jpg", "2026-05-01T10:00", "8", ""),
        ("clear-mountains-picos-de-europa.jpg", "2026-05-01T10:30", "", "healthy"),
        ("clear-bridge-cables.jpg", "2026-05-02T11:00", "12", ""), ("overcast-storm.jpg", "2026-05-03T12:00", "60", ""),
        ("night-rocket-launch.jpg", "2026-05-04T21:00", "15", ""), ("missing.jpg", "2026-05-04T10:00", "15", ""),
        ("fog-pier.jpg", "2026-05-05T09:00", "n/a", ""),
    ])
    done = calibrate.from_readings(get_predictor(), folder, "balcony")
    p = done.profile
    assert (p.photos, p.readings, p.classes, p.label_source) == (4, 3, (2, 0, 1), "station")
    assert any("night" in why for _, why in done.skipped) and any("line 7" in why for _, why in done.skipped)
    assert 0.0 <= p.scores["before"] <= 1.0 and 0.0 <= p.scores["after"] <= 1.0
    words = "\n".join(calibrate.describe(done))
    assert "3 readings (2 healthy, 1 unhealthy)" in words and "a station's readings" in words
    assert "rests on only 3 readings" in words  # too little to lean on, and it says so


def test_calibrating_ignores_the_profile_the_app_is_set_to(tmp_path, monkeypatch):
    from airken.core.predictor import get_predictor

    folder = _folder(tmp_path, [("clear-kite.jpg", "2026-05-01T10:00", "8", ""),
                                ("overcast-storm.jpg", "2026-05-03T12:00", "60", "")])
    predictor = get_predictor()
    plain = calibrate.from_readings(predictor, folder, "balcony").profile
    monkeypatch.setenv("AIRKEN_PROFILE", plain.to_json().replace('"balcony"', '"elsewhere"'))
    again = calibrate.from_readings(predictor, folder, "balcony").profile
    assert again.view == plain.view
    assert predictor.predict(EXAMPLES / "clear-kite.jpg").profile == "elsewhere"  # where the app reads with it


def test_a_folder_without_the_layout_is_refused_with_the_columns_it_needs(tmp_path):
    with pytest.raises(datafolder.BadFolder, match="labels.csv"):
        calibrate.from_readings(None, tmp_path, "balcony")
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("photo,pm2.5\nkite.jpg,8\n")
    with pytest.raises(datafolder.BadFolder, match="needs the columns file, pm25 or label .* are: photo, pm2.5"):
        calibrate.from_readings(None, tmp_path, "balcony")


def test_the_air_models_archive_labels_a_folder_of_photos(tmp_path, air_server):
    from airken.core.predictor import get_predictor

    photos = tmp_path / "webcam"
    photos.mkdir()
    for i, (name, hour) in enumerate(zip(CLEAR + ["overcast-storm.jpg"], (15, 16, 7, 8), strict=True)):
        photo_with_exif(photos / f"{i}.jpg", source=EXAMPLES / name, when=datetime(2025, 3, 10 + i, hour),
                        offset="+01:00", lat=45.46, lon=9.19)
    photo_with_exif(photos / "nowhere.jpg", when=datetime(2025, 3, 1, 12))  # no GPS: skipped, says why
    done = calibrate.from_air_model(get_predictor(), photos, "webcam")
    assert done.profile.photos == 4 and done.profile.label_source == "air_model"
    assert [why for f, why in done.skipped] == ["no GPS position in its EXIF (give the place with --lat and --lon)"]
    assert (photos / calibrate.ANSWERS).is_file()  # a second run asks the archive nothing again
    asked = len(air_server.requests)
    again = calibrate.from_air_model(get_predictor(), photos, "webcam", lat=45.5, lon=9.2)
    assert len(air_server.requests) == asked + 1 and again.profile.photos == 5  # only the new place's day
    assert "air model's archive" in "\n".join(calibrate.describe(again))


def test_a_verdict_read_through_a_profile_says_so_and_keeps_the_air_model_as_level(tmp_path):
    from verdicts import FakeLookup, report, with_lookup

    from airken.core.predictor import get_predictor

    folder = _folder(tmp_path, [(n, f"2026-05-0{i + 1}T10:00", "8", "") for i, n in enumerate(CLEAR)]
                     + [("overcast-storm.jpg", "2026-05-09T10:00", "70", "")])
    profile = calibrate.from_readings(get_predictor(), folder, "balcony").profile
    alone = get_predictor().predict(EXAMPLES / "clear-kite.jpg", profile=profile)
    assert alone.basis == "profile" and alone.profile == "balcony"
    assert any("profile 'balcony'" in w.says for w in alone.witnesses)
    placed = with_lookup(FakeLookup(report(80))).predict(EXAMPLES / "clear-kite.jpg", profile=profile,
                                                        latitude=45.46, longitude=9.19)
    assert placed.basis == "profile" and [w.name for w in placed.witnesses][:2] == ["air_model", "profile"]
    assert placed.probabilities["danger"] > alone.probabilities["danger"]  # the air model of the hour still counts
