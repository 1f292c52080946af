"""airken.core.witnesses: Bayes' rule for the level and the photo's evidence, the air model's
class shares, and which way the photo leaned."""
from __future__ import annotations

import math

import numpy as np
import pytest

from airken.core.classes import DANGER_ABOVE, HEALTHY_BELOW, class_for_pm25
from airken.core.prior import UNIFORM
from airken.core.witnesses import (
    LEAN_STEP,
    SHARE_FLOOR,
    air_model_shares,
    combine,
    expected_class,
    lean,
    verdict_class,
)

LEVEL = np.array([0.2, 0.5, 0.3])
PHOTO = np.array([0.7, 0.2, 0.1])


def test_weight_zero_returns_the_level():
    assert combine(LEVEL, PHOTO, UNIFORM, 0.0) == pytest.approx(LEVEL)
    assert combine(LEVEL / 2, PHOTO, (0.5, 0.3, 0.2), 0.0) == pytest.approx(LEVEL)  # normalised


def test_weight_one_with_a_uniform_base_multiplies():
    expected = LEVEL * PHOTO / (LEVEL * PHOTO).sum()
    assert combine(LEVEL, PHOTO, UNIFORM, 1.0) == pytest.approx(expected)


def test_the_evidence_is_the_photo_over_its_training_shares_to_the_weight():
    base = np.array([0.5, 0.3, 0.2])
    raw = LEVEL * (PHOTO / base) ** 0.4
    assert combine(LEVEL, PHOTO, base, 0.4) == pytest.approx(raw / raw.sum())
    assert combine(LEVEL, base, base, 0.7) == pytest.approx(LEVEL)  # a photo that says its training shares says nothing


def test_a_batch_combines_row_by_row():
    photos = np.array([PHOTO, PHOTO[::-1], [1 / 3] * 3])
    levels = np.array([LEVEL, LEVEL[::-1], [0.6, 0.25, 0.15]])
    out = combine(levels, photos, UNIFORM, 1.0)
    assert out.shape == (3, 3) and out.sum(axis=1) == pytest.approx(np.ones(3))
    for row, level, photo in zip(out, levels, photos, strict=True):
        assert row == pytest.approx(combine(level, photo, UNIFORM, 1.0))
    assert combine(LEVEL, photos, UNIFORM, 1.0)[1] == pytest.approx(combine(LEVEL, photos[1], UNIFORM, 1.0))


@pytest.mark.parametrize("pm25", [0.0, 3, 10, 29.9, 30, 42, 54, 54.1, 80, 300, 2000])
def test_air_model_shares_sum_to_one_and_keep_a_floor(pm25):
    shares = air_model_shares(pm25, 0.6)
    assert shares.shape == (3,) and shares.sum() == pytest.approx(1.0)
    assert shares.min() >= SHARE_FLOOR / (1 + 2 * SHARE_FLOOR) - 1e-12  # never ruled out: the photo can still say it


def test_air_model_shares_move_with_the_modelled_value():
    values = np.array([2, 8, 20, 30, 40, 54, 70, 120, 400], dtype=float)
    shares = air_model_shares(values, 0.6)
    assert shares.shape == (len(values), 3)
    assert np.all(np.diff(shares[:, 0]) <= 1e-12) and np.all(np.diff(shares[:, 2]) >= -1e-12)
    assert np.all(np.diff(expected_class(shares)) > 0)
    assert shares[0, 0] > 0.9 and shares[-1, 2] > 0.9
    for row, value in zip(shares, values, strict=True):
        assert row == pytest.approx(air_model_shares(value, 0.6))  # an array reads as its values one by one


def test_air_model_shares_are_log_normal_around_the_value():
    pm25, sigma = 40.0, 0.5

    def below(limit: float) -> float:
        return 0.5 * (1 + math.erf((math.log(limit) - math.log(pm25)) / (sigma * math.sqrt(2))))

    healthy, danger = below(HEALTHY_BELOW), 1 - below(DANGER_ABOVE)
    assert air_model_shares(pm25, sigma) == pytest.approx([healthy, 1 - healthy - danger, danger])
    assert air_model_shares(42, 0.3)[1] > air_model_shares(42, 0.9)[1]  # a sharper model, a sharper level


def test_lean_says_which_way_the_photo_moved_the_verdict():
    level = np.array([0.3, 0.4, 0.3])
    assert lean(level, np.array([0.1, 0.3, 0.6])) == 1  # hazier
    assert lean(level, np.array([0.6, 0.3, 0.1])) == -1  # cleaner
    assert lean(level, level) == 0
    nudge = np.array([0.3 - LEAN_STEP / 4, 0.4, 0.3 + LEAN_STEP / 4])  # moved by LEAN_STEP / 2: about the same
    assert lean(level, nudge) == 0
    assert expected_class(np.array([0.0, 0.0, 1.0])) == 2.0 and expected_class(level) == pytest.approx(1.0)


@pytest.mark.parametrize("sigma", [0.3, 0.6, 0.9])
def test_a_photo_that_says_nothing_leaves_the_air_models_own_class(sigma):
    """The verdict is the band holding the median of the shares: the modelled value's own band,
    whatever the model's error, even where another band has the largest share."""
    for pm25 in (3, 20, 29, 31, 42, 53, 56, 80, 300):
        assert verdict_class(air_model_shares(pm25, sigma)) == class_for_pm25(pm25).index, pm25
    near = air_model_shares(31, 0.6)
    assert int(near.argmax()) == 0 and verdict_class(near) == 1  # healthy is likeliest, the median is moderate
    assert list(verdict_class(air_model_shares(np.array([5.0, 40.0, 90.0]), 0.6))) == [0, 1, 2]
