"""What "confidence" means and where the unsure line goes, measured on held-out places.

Confidence is how often verdicts as sure as this one were right: a monotone (isotonic) map
from the combined verdict's top share to the share of right verdicts, fitted on held-out
frames. The unsure line is the lowest confidence above which at least TARGET of those
verdicts were right. For each held-out place both are fitted on the other places (nested),
then the place is scored: the share of its verdicts shown as sure, and how often those are
right. The map and line shipped in the model's metrics.json are fitted on every place.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.isotonic import IsotonicRegression

from airken.core.rule import Reliability
from airken.core.witnesses import verdict_class

TARGET = 0.9  # verdicts shown as sure must have been right this often on held-out places
GRID = np.round(np.linspace(1 / 3, 1.0, 21), 4)  # where the shipped map is tabulated


def reliability(top: np.ndarray, right: np.ndarray) -> Reliability:
    """The isotonic map top share -> share right, tabulated on GRID."""
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(top, right.astype(float))
    return Reliability(tuple(float(x) for x in GRID), tuple(round(float(v), 4) for v in iso.predict(GRID)))


def unsure_line(confidence: np.ndarray, right: np.ndarray, target: float = TARGET) -> float:
    """The lowest confidence at and above which at least ``target`` of the verdicts were right;
    above 1 (never sure) when no such line exists."""
    order = np.argsort(-confidence)
    conf, ok = confidence[order], right[order].astype(float)
    accuracy = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    # A line may only fall between distinct confidences: the last index of each value.
    last = np.r_[conf[1:] != conf[:-1], True]
    good = np.flatnonzero(last & (accuracy >= target))
    return float(conf[good[-1]]) if len(good) else 1.01


def named_share(shares: np.ndarray, by_median: bool = True) -> np.ndarray:
    """The share of the class each verdict names (airken.core.witnesses.verdict_class)."""
    return np.take_along_axis(shares, verdict_class(shares, by_median)[:, None], axis=1)[:, 0]


def fit(top: np.ndarray, right: np.ndarray, target: float = TARGET) -> tuple[Reliability, float]:
    rel = reliability(top, right)
    conf = np.interp(top, rel.x, rel.y)
    return rel, unsure_line(conf, right, target)


Verdicts = tuple[np.ndarray, np.ndarray, np.ndarray]  # (M, K) shares, (M,) true class, (M,) place


def nested(verdicts_of: Callable[[int], Verdicts], places: int, target: float = TARGET,
           by_median: bool = True) -> dict:
    """Sure and right shares per held-out place and pooled. ``verdicts_of(p)`` gives every
    frame's verdict (of every draw) under the choices made for held-out place p."""
    sure = right_sure = total = 0
    per_place = {}
    for p in range(places):
        shares, y, place = verdicts_of(p)
        top, ok = named_share(shares, by_median), verdict_class(shares, by_median) == y
        train, test = place != p, place == p
        rel, line = fit(top[train], ok[train], target)
        shown = np.interp(top[test], rel.x, rel.y) >= line
        n, s, r = int(test.sum()), int(shown.sum()), int((shown & ok[test]).sum())
        per_place[p] = {"sure": s / n, "right_when_sure": r / s if s else None, "line": line}
        sure, right_sure, total = sure + s, right_sure + r, total + n
    return {"sure": float(sure / total), "right_when_sure": float(right_sure / sure) if sure else None,
            "per_place": per_place}
