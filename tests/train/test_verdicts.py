"""train.verdicts on synthetic LOPO outputs: priors, unsure thresholds, few-shot profiles."""
from __future__ import annotations

import numpy as np

from train import verdicts
from train.places.folds import Fold


def _outputs(seed=0):
    """Two places whose model ranks right but reads one place one class too high."""
    rng = np.random.default_rng(seed)
    y, readings, outputs, start = [], [], [], 0
    for place, shift in (("a", 0), ("b", 1)):
        labels = rng.integers(0, 2, 60)
        probs = np.full((60, 3), 0.1)
        probs[np.arange(60), labels] = 0.35 if shift else 0.8
        if shift:  # b: the next class up comes out on top, the true one second
            probs[np.arange(60), labels + 1] = 0.55
        probs /= probs.sum(1, keepdims=True)
        idx = np.arange(start, start + 60)
        y.append(labels)
        readings.append(idx // 3)  # three frames per reading
        val = probs[:20]
        outputs.append((place, idx, probs, val, labels[:20]))
        start += 60
    y, readings = np.concatenate(y), np.concatenate(readings)
    folds = []
    for place, idx, probs, val, _ in outputs:
        f = Fold(place, np.array([], int), idx[:20], idx)
        folds.append(verdicts.FoldOutput(f, probs, val))
    return folds, y, readings


def test_tables_hold_every_prior_and_coverage():
    outputs, y, readings = _outputs()
    r = verdicts.study(outputs, y, readings)
    assert set(r["priors"]) == set(verdicts.PRIORS)
    none = r["priors"]["none"]["pooled"]
    assert 0.0 <= none["ece"] <= 1.0 and none["n"] == 120
    for rows in r["selective"].values():
        assert {"unsure_threshold", "coverage_0.5", "coverage_0.7", "coverage_0.9"} <= set(rows)
    lines = "\n".join(verdicts.report_lines("model", r))
    assert "pooled BA with profile" in lines and "| world |" in lines


def test_a_profile_from_a_few_readings_fixes_the_misread_place():
    outputs, y, readings = _outputs()
    few = verdicts.few_shot_table(outputs, y, readings, shots=(3,), draws=5)["k3"]
    assert few["places"] == ["a", "b"]
    assert verdicts._scores(y[60:], outputs[1].test)["balanced_accuracy"] < 0.5 < few["per_place_mean"]["b"]
    assert few["pooled_ba_mean"] > few["zero_shot_same_frames"]
