"""A fixed view calibrated from the air model's archive, per place, on days it never saw.

For every place with two or more classes: the photo model that never saw the place (its
leave-one-place-out fold), half of its days to calibrate and the other half to test,
repeated over random halves and simulated draws of the air model. The calibration labels are
the simulated air model's values (what `airken calibrate --from-air` gets from the archive),
turned into class shares with the air model's error (the labels are known to be noisy); the
test is against the stations. Beside it: the air model alone, the photo and the air model
combined with no calibration, today's three-offset profile fitted on the same labels, and
profiles fitted on k = 3, 5, 10 station readings. Every calibrated view is combined with the
air model of the test hour, as the app does (airken.core.predictor.profile_posterior).
"""
from __future__ import annotations

import numpy as np

from airken.core import ordinal
from airken.core.view import fit_view, reading_weights
from airken.core.witnesses import air_model_shares, combine, verdict_class
from train.airstudy.frames import Frames
from train.airstudy.scores import balanced_accuracy, confusions
from train.airstudy.simulate import Setting, classes_of, draw
from train.verdicts import fit_offsets, shift

SHOTS = (3, 5, 10)
STRENGTHS = (0.3, 1.0, 3.0, 10.0)


def _ba(y: np.ndarray, pred: np.ndarray) -> float:
    """Balanced accuracy of class predictions, or of the verdicts (median class) of shares."""
    pred = verdict_class(pred) if pred.ndim == 2 else pred
    return float(balanced_accuracy(confusions(y, pred, np.zeros_like(y), 1)[0]))


def one_split(f: Frames, calib: np.ndarray, m: np.ndarray, sigma: float, weight: float, anchor: ordinal.OrdinalMap,
              strength: float, rng: np.random.Generator, setting: Setting) -> dict[str, float]:
    """Every method's balanced accuracy on the test days of one split and one draw."""
    test = ~calib
    y, level = f.y[test], air_model_shares(m[test], sigma)
    scores = {"air model alone": _ba(y, classes_of(m[test])),
              "photo + air model": _ba(y, combine(level, f.probs[test], f.train_prior, weight))}
    labels, noise = np.eye(3)[classes_of(m[calib])], setting.noise_sd
    scores["calibrated from the air model + air model"] = _ba(y, _calibrated(
        f, calib, test, labels, level, anchor, strength, noise=noise))
    scores["haze score only, from the air model + air model"] = _ba(y, _calibrated(
        f, calib, test, labels, level, anchor, strength, features=False, noise=noise))
    offsets = fit_offsets(f.probs[calib], classes_of(m[calib]), f.reading[calib])
    scores["today's profile from the air model"] = _ba(y, shift(f.probs[test], offsets).argmax(axis=1))
    for k in SHOTS:
        readings = np.unique(f.reading[calib])
        if len(readings) <= k:
            continue
        pick = calib & np.isin(f.reading, rng.choice(readings, k, replace=False))
        scores[f"calibrated on {k} station readings + air model"] = _ba(y, _calibrated(
            f, pick, test, np.eye(3)[f.y[pick]], level, anchor, strength))
    return scores


def _calibrated(f: Frames, calib: np.ndarray, test: np.ndarray, targets: np.ndarray, level: np.ndarray,
                anchor: ordinal.OrdinalMap, strength: float, features: bool = True, noise: float = 0.0) -> np.ndarray:
    """The test frames' combined shares: the view calibrated on ``calib`` with ``targets``,
    combined with the air model's ``level`` of each test hour (as the app does)."""
    feats = f.features if features else f.features[:, :0]
    view = fit_view(f.probs[calib], feats[calib], targets, f.reading[calib], anchor, strength, noise)
    return combine(level, view.shares(f.probs[test], feats[test]), view.base, 1.0)


def halves(day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random half of the days (at least one, and one left to test)."""
    days = np.unique(day)
    chosen = rng.choice(days, max(1, len(days) // 2), replace=False)
    return np.isin(day, chosen)


def study_place(f: Frames, setting: Setting, sigma: float, weight: float, anchor: ordinal.OrdinalMap,
                strength: float, splits: int = 10, draws: int = 10, seed: int = 0) -> dict[str, float]:
    """Mean balanced accuracy of every method on one place's test days."""
    rng = np.random.default_rng(seed)
    found: dict[str, list[float]] = {}
    for _ in range(splits):
        calib = halves(f.day, rng)
        for _ in range(draws):
            m = draw(f.pm25, f.place, f.reading, setting, rng)
            for name, value in one_split(f, calib, m, sigma, weight, anchor, strength, rng, setting).items():
                found.setdefault(name, []).append(value)
    return {name: float(np.mean(v)) for name, v in found.items()}


def anchor_of(f: Frames) -> ordinal.OrdinalMap:
    """The ordinal map of photos on places never seen, fitted on station labels: where a
    profile starts from before its own readings move it."""
    return ordinal.fit(ordinal.score(f.probs), np.eye(3)[f.y], reading_weights(f.reading), ordinal.IDENTITY, 1e-3)
