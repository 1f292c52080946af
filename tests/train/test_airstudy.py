"""train.airstudy on made-up frames: the simulated air model, the nested choice of the photo's
weight, the sure verdicts, the fixed views and the verdict rule the app reads back."""
from __future__ import annotations

import numpy as np
import pytest

from airken.core.rule import VerdictRule
from train.airstudy import combined, study, sureness
from train.airstudy.frames import Frames
from train.airstudy.scores import balanced_accuracy, confusions
from train.airstudy.simulate import CENTRAL, Setting, classes_of, draw


def frames(n_places: int = 4, per_place: int = 60, seed: int = 0, photo_says: float = 0.0) -> Frames:
    """Places with readings of all three classes; the photo's shares carry ``photo_says`` of the
    truth (0: a photo that says nothing, its shares uniform)."""
    rng = np.random.default_rng(seed)
    n = n_places * per_place
    pm25 = np.exp(rng.uniform(np.log(5), np.log(150), n))
    y = classes_of(pm25)
    probs = np.full((n, 3), 1 / 3) * (1 - photo_says) + np.eye(3)[y] * photo_says
    place = np.repeat(np.arange(n_places), per_place)
    reading = np.arange(n) // 2  # two frames a reading
    day = np.arange(n) // 6
    return Frames(probs, y, pm25, place, reading, day, tuple(f"p{i}" for i in range(n_places)), None,
                  rng.normal(size=(n, 16)))


def test_the_simulated_air_model_shares_its_bias_within_a_place_and_its_noise_within_a_reading():
    f = frames()
    m = draw(f.pm25, f.place, f.reading, Setting(0.5, 0.0), np.random.default_rng(1))
    ratio = np.log(m / f.pm25)
    assert all(np.ptp(ratio[f.place == p]) < 1e-9 for p in range(4)) and np.ptp(ratio) > 0
    m = draw(f.pm25, f.place, f.reading, Setting(0.0, 0.4), np.random.default_rng(1))
    ratio = np.log(m / f.pm25)
    assert np.allclose(ratio[0::2], ratio[1::2]) and np.std(ratio) > 0.2


def test_balanced_accuracy_per_group_and_pooled():
    y, pred, group = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), np.array([0, 0, 0, 1, 1])
    conf = confusions(y, pred, group, 2)
    assert balanced_accuracy(conf[0]) == pytest.approx(0.75) and balanced_accuracy(conf[1]) == pytest.approx(0.5)
    assert balanced_accuracy(conf.sum(axis=0)) == pytest.approx((0.5 + 1 + 0.5) / 3)


def test_whatever_its_weight_a_silent_photo_leaves_the_air_models_own_verdict():
    f = frames(photo_says=0.0)
    found = combined.nested(combined.simulate(f, CENTRAL, draws=4), len(f.places))
    assert np.mean(found["pooled_ba"]) == pytest.approx(np.mean(found["air_alone_ba"]), abs=1e-9)


def test_a_photo_that_knows_the_truth_gets_weight_and_beats_the_air_model():
    f = frames(photo_says=0.6)
    found = combined.nested(combined.simulate(f, Setting(0.3, 0.6), draws=4), len(f.places))
    assert all(combined.WEIGHTS[w] > 0 for _, w in found["picks"])
    assert np.mean(found["pooled_ba"]) > np.mean(found["air_alone_ba"]) + 0.05


def test_the_unsure_line_keeps_verdicts_right_as_often_as_asked():
    rng = np.random.default_rng(0)
    top = rng.uniform(0.34, 1.0, 4000)
    right = rng.random(4000) < top  # verdicts as sure as their share
    rel, line = sureness.fit(top, right, target=0.9)
    conf = np.interp(top, rel.x, rel.y)
    assert right[conf >= line].mean() >= 0.9 and 0.5 < line < 1.0
    assert all(b >= a for a, b in zip(rel.y, rel.y[1:], strict=False))  # monotone
    assert sureness.unsure_line(np.array([0.5, 0.6]), np.array([False, False])) > 1  # never sure


def test_the_rule_the_study_writes_is_the_one_the_app_reads():
    f = frames(photo_says=0.3)
    block = study.rule(f, sigma=0.5, weight=0.2, draws=3)
    rule = VerdictRule.from_metrics({"verdict_rule": block})
    assert rule.weight("air_model") == 0.2 and rule.weight("prior") == 1.0 and rule.air_model_sigma == 0.5
    assert set(rule.unsure_below) == {"air_model", "prior"} and rule.ordinal_anchor
    assert 0.0 <= rule.confidence("air_model", 0.9) <= 1.0


def test_fixed_views_are_scored_on_days_they_never_saw():
    f = frames(n_places=3, per_place=48, photo_says=0.4)
    out = study.fixed_views(f, [(2, 3)] * 3, splits=2, draws=2)
    per = out["per_place"]
    assert set(per) == set(f.places)
    for v in per.values():
        assert v["strength"] in (0.3, 1.0, 3.0, 10.0)
        assert 0 <= v["air model alone"] <= 1 and 0 <= v["calibrated from the air model + air model"] <= 1
