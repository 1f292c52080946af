"""Per-place profiles: the fit moves the level to the place's readings, the file round-trips,
and names and files that are not profiles are refused with a message."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from airken.core.classes import LABELS as LABELS_
from airken.core.profiles import (
    MAX_OFFSET,
    BadProfile,
    PlaceProfile,
    check_name,
    fit_offsets,
    fit_profile,
    load_profile,
    save_profile,
)


def _too_polluted(n=40, seed=0):
    """A model that calls a healthy place moderate: right ranking, wrong level."""
    rng = np.random.default_rng(seed)
    clean = rng.random(n) < 0.5
    probs = np.where(clean[:, None], [0.3, 0.6, 0.1], [0.05, 0.45, 0.5])
    labels = np.where(clean, 0, 1)
    return probs, labels, np.arange(n)


def test_offsets_fix_the_level_of_a_place():
    probs, labels, readings = _too_polluted()
    before = (probs.argmax(1) == labels).mean()
    profile = fit_profile("rooftop", probs, labels, readings)
    after = (profile.apply(probs).argmax(1) == labels).mean()
    assert before == 0.0 and after == 1.0
    assert profile.readings == 40 and profile.photos == 40 and len(profile.offsets) == 3


def test_every_reading_weighs_the_same_however_many_frames_it_has():
    probs, labels, _ = _too_polluted(2)
    p = np.repeat(probs, [50, 1], axis=0)
    y = np.repeat(labels, [50, 1])
    by_reading = fit_offsets(p, y, np.repeat([0, 1], [50, 1]))
    by_frame = fit_offsets(p, y, np.arange(51))
    assert not np.allclose(by_reading, by_frame)
    assert np.allclose(by_reading, fit_offsets(probs, labels, np.arange(2)), atol=1e-6)


def test_strength_pulls_the_offsets_towards_zero_and_they_stay_bounded():
    probs, labels, readings = _too_polluted()
    weak, strong = fit_offsets(probs, labels, readings, 0.01), fit_offsets(probs, labels, readings, 10.0)
    assert np.abs(strong).sum() < np.abs(weak).sum()
    one_class = fit_offsets(np.tile([0.98, 0.01, 0.01], (5, 1)), np.full(5, 2), np.arange(5), 1e-6)
    assert np.abs(one_class).max() <= MAX_OFFSET


def test_profile_file_round_trips(tmp_path):
    probs, labels, readings = _too_polluted()
    profile = fit_profile("balcony-east", probs, labels, readings, model_sha256="ab" * 32)
    path = save_profile(profile, tmp_path)
    assert path.name == "balcony-east.json"
    again = load_profile("balcony-east", tmp_path)
    assert again.offsets == profile.offsets and again.model_sha256 == profile.model_sha256


@pytest.mark.parametrize("name", ["", "../etc/passwd", "a/b", ".hidden", "x" * 65, "sp ace", "a..b"])
def test_names_that_are_not_plain_file_names_are_refused(name):
    with pytest.raises(BadProfile, match="profile name"):
        check_name(name)


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"format": 1, "labels": ["healthy", "moderate", "danger"]}',
                                  '{"format": 1, "labels": ["healthy", "moderate", "danger"], "name": "a", '
                                  '"offsets": [1, 2, 1e9], "readings": 3, "photos": 3}', "\x00\xff"])
def test_damaged_profiles_are_refused(text):
    with pytest.raises(BadProfile):
        PlaceProfile.from_json(text)


def test_a_missing_profile_says_how_to_make_one(tmp_path):
    with pytest.raises(BadProfile, match="airken calibrate --name rooftop"):
        load_profile("rooftop", tmp_path)


def _folder(tmp_path, rows):
    import shutil

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


EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"


def test_a_folder_of_labelled_photos_calibrates_a_place(tmp_path):
    from airken.core.predictor import get_predictor
    from airken.core.profiles import calibrate_folder, read_folder

    folder = _folder(tmp_path, [
        ("clear-kite.jpg", "2026-05-01T10:00", "8", ""),
        ("clear-mountains-picos-de-europa.jpg", "2026-05-01T10:30", "", "healthy"),
        ("clear-bridge-cables.jpg", "2026-05-02T11:00", "12", ""), ("overcast-storm.jpg", "2026-05-03T12:00", "20", ""),
        ("night-rocket-launch.jpg", "2026-05-04T21:00", "15", ""), ("missing.jpg", "2026-05-04T10:00", "15", ""),
        ("fog-pier.jpg", "2026-05-05T09:00", "n/a", ""),
    ])
    found = read_folder(folder)
    assert len(found.paths) == 5 and found.readings[0] == found.readings[1]  # one hour, one reading
    assert {why for _, why in found.skipped} == {"no such image", "no usable pm25 or label"}
    predictor = get_predictor()
    before = [predictor.predict(p, prior="train").label for p in found.paths[:4]]
    profile, skipped = calibrate_folder(predictor, folder, "balcony")
    assert profile.readings == 3 and profile.photos == 4  # the night photo is refused by the scene checks
    assert any("night" in why for _, why in skipped)
    after = [LABELS_[int(np.argmax(profile.apply(np.array([predictor.predict(p, prior="train").probabilities[c]
                                                        for c in LABELS_]))))] for p in found.paths[:4]]
    assert after.count("healthy") >= before.count("healthy") and after.count("healthy") >= 3
    assert profile.model_sha256 == predictor.source.sha256


def test_calibrating_ignores_the_profile_the_app_is_set_to(tmp_path, monkeypatch):
    import dataclasses

    from airken.core.predictor import get_predictor
    from airken.core.profiles import calibrate_folder

    folder = _folder(tmp_path, [("clear-kite.jpg", "2026-05-01T10:00", "8", ""),
                                ("overcast-storm.jpg", "2026-05-03T12:00", "60", "")])
    predictor = get_predictor()
    plain, _ = calibrate_folder(predictor, folder, "balcony")
    other = dataclasses.replace(plain, name="elsewhere", offsets=(-6.0, 0.0, 6.0))
    monkeypatch.setenv("AIRKEN_PROFILE", other.to_json())  # the app's default profile: not what is fitted on
    again, _ = calibrate_folder(predictor, folder, "balcony")
    assert again.offsets == plain.offsets
    assert predictor.predict(EXAMPLES / "clear-kite.jpg").profile == "elsewhere"  # where the app reads with it


def test_a_folder_without_the_layout_is_refused(tmp_path):
    from airken.core.profiles import read_folder

    with pytest.raises(BadProfile, match="labels.csv"):
        read_folder(tmp_path)
