"""Per-place profiles: the fit moves the level to the place's readings, the file round-trips,
and names and files that are not profiles are refused with a message."""
from __future__ import annotations

import numpy as np
import pytest

from airken.profiles import (
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
    with pytest.raises(BadProfile, match="place name"):
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
