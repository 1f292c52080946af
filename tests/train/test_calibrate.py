"""Temperature scaling, calibration error, reliability diagram and the uncertain threshold."""
from __future__ import annotations

import numpy as np
import pytest

from train import calibrate


def _sampled(n: int, temperature: float, seed: int = 0):
    """Logits and labels drawn from softmax(logits / temperature): the true temperature is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, 3))
    p = calibrate.softmax(logits / temperature)
    y = np.array([rng.choice(3, p=row) for row in p])
    return logits, y


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_the_true_temperature(true_t):
    logits, y = _sampled(4000, true_t)
    assert calibrate.fit_temperature(logits, y) == pytest.approx(true_t, rel=0.12)


def test_probabilities_and_logits_give_the_same_temperature():
    logits, y = _sampled(1500, 2.0, seed=1)
    probs = calibrate.softmax(logits)
    assert calibrate.is_probabilities(probs) and not calibrate.is_probabilities(logits)
    assert calibrate.fit_temperature(probs, y) == pytest.approx(calibrate.fit_temperature(logits, y), rel=1e-3)


def test_scaling_keeps_the_argmax_and_lowers_nll_and_ece_of_an_overconfident_model():
    logits, y = _sampled(3000, 3.0, seed=2)  # the raw softmax is 3x too sure
    t = calibrate.fit_temperature(logits, y)
    before, after = calibrate.softmax(logits), calibrate.apply_temperature(logits, t)
    assert np.array_equal(before.argmax(1), after.argmax(1))
    np.testing.assert_allclose(after.sum(1), 1.0)
    assert calibrate.negative_log_likelihood(after, y) < calibrate.negative_log_likelihood(before, y)
    report = calibrate.calibration_report(logits, y, t)
    assert report.ece_after < report.ece_before and report.ece_after < 0.05
    assert report.n == 3000 and report.temperature == t


def test_temperature_one_is_the_identity_on_probabilities():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(calibrate.apply_temperature(p, 1.0), p, atol=1e-9)
    with pytest.raises(ValueError):
        calibrate.apply_temperature(p, 0.0)


def test_ece_by_hand():
    # one bin (0.9-1.0): confidence 0.95, accuracy 0.5 -> |0.5 - 0.95| = 0.45
    p = np.array([[0.95, 0.05, 0.0], [0.95, 0.0, 0.05]])
    assert calibrate.expected_calibration_error(p, [0, 1]) == pytest.approx(0.45)
    bins = calibrate.reliability_bins(p, [0, 1], bins=10)
    assert [b.n for b in bins] == [0] * 9 + [2]
    assert np.isnan(calibrate.expected_calibration_error(np.zeros((0, 3)), []))


def test_ece_of_a_calibrated_model_is_small():
    logits, y = _sampled(5000, 1.0, seed=3)
    assert calibrate.expected_calibration_error(calibrate.softmax(logits), y) < 0.03


def test_reliability_diagram_writes_a_png(tmp_path):
    logits, y = _sampled(300, 2.0, seed=4)
    path = calibrate.reliability_diagram(calibrate.softmax(logits), calibrate.apply_temperature(logits, 2.0),
                                         y, tmp_path / "sub" / "rel.png", title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_uncertain_threshold_is_where_accuracy_drops_under_target():
    # confidences 0.9 .. 0.4; the top 6 are right, then wrong answers
    conf = np.array([0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.45, 0.4])
    right = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], bool)
    p = np.stack([conf, (1 - conf) / 2, (1 - conf) / 2], axis=1)
    y = np.where(right, 0, 1)
    thr = calibrate.choose_uncertain_threshold(p, y, target_accuracy=0.8, min_count=3)
    # top 7 have accuracy 6/7 = 0.857 >= 0.8, top 8 have 0.75
    assert thr.achieved and thr.threshold == pytest.approx(0.6)
    assert thr.coverage == pytest.approx(0.7) and thr.accuracy_above == pytest.approx(6 / 7)
    sel = calibrate.selective_scores(p, y, thr.threshold)
    assert sel["kept"] == 7 and sel["accuracy_uncertain"] == 0.0


def test_uncertain_threshold_edge_cases():
    p = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.5, 0.3, 0.2]])
    assert calibrate.choose_uncertain_threshold(p, [0, 0, 0], 0.8, min_count=1).threshold == 0.0
    never = calibrate.choose_uncertain_threshold(p, [1, 1, 1], 0.8, min_count=1)
    assert never.threshold == 1.0 and not never.achieved
    # ties are never split: both 0.7 frames are on the same side
    tied = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.4, 0.3, 0.3]])
    thr = calibrate.choose_uncertain_threshold(tied, [0, 1, 2], 0.5, min_count=1)
    assert thr.coverage in (2 / 3, 1.0)
    assert calibrate.choose_uncertain_threshold(np.zeros((0, 3)), [], 0.8).n == 0


def test_training_and_the_app_scale_with_one_function():
    import airken.core.calibration

    assert calibrate.apply_temperature is airken.core.calibration.apply_temperature
    assert calibrate.softmax is airken.core.calibration.softmax
