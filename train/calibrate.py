"""Calibrated confidence: temperature scaling, expected calibration error, reliability
diagrams and the "uncertain" threshold.

A softmax trained on a few hundred near-duplicate frames is over-confident, and on a place
it has never seen more so. Temperature scaling divides the logits by one number T fitted on
validation frames (minimum negative log-likelihood); it changes how sure the model says it
is, never which class it picks. numpy only (matplotlib for the diagram). The temperature
functions themselves (``apply_temperature``, ``softmax``, ``to_logits``) are the app's, from
airken.core.calibration, so training and the app scale in exactly one way.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# re-exported: train.train and train.places call calibrate.apply_temperature
from airken.core.calibration import apply_temperature, is_probabilities, softmax, to_logits  # noqa: F401

log = logging.getLogger(__name__)

T_MIN, T_MAX = 0.05, 20.0  # search range of the temperature
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _labels(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    if y.size != n:
        raise ValueError(f"{n} score rows but {y.size} labels")
    return y


def negative_log_likelihood(scores: Any, y: Any, temperature: float = 1.0) -> float:
    logits = to_logits(scores) / float(temperature)
    y = _labels(y, len(logits))
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def fit_temperature(scores: Any, y: Any, t_min: float = T_MIN, t_max: float = T_MAX,
                    iters: int = 80) -> float:
    """Temperature minimising the NLL of ``y`` under softmax(logits / T).

    The NLL is convex in 1/T (log-sum-exp of a linear function minus a linear term), so a
    golden-section search over 1/T in [1/t_max, 1/t_min] finds the minimum. Returns 1.0
    when there is nothing to fit (no rows).
    """
    logits = to_logits(scores)
    y = _labels(y, len(logits))
    if not len(y):
        return 1.0

    def f(beta: float) -> float:
        return negative_log_likelihood(logits, y, 1.0 / beta)

    lo, hi = 1.0 / t_max, 1.0 / t_min
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(iters):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = f(b)
    beta = (lo + hi) / 2.0
    # The ends of the range are candidates too (a separable set wants T -> 0).
    best = min((f(x), x) for x in (beta, 1.0 / t_max, 1.0 / t_min))[1]
    return float(1.0 / best)


# ---------------------------------------------------------------------------------------
# calibration error and diagram


@dataclass(frozen=True)
class ReliabilityBin:
    lo: float
    hi: float
    n: int
    confidence: float | None  # mean top probability in the bin
    accuracy: float | None  # share of the bin's frames whose top class is right


def reliability_bins(probs: Any, y: Any, bins: int = 10) -> list[ReliabilityBin]:
    """Top-label confidence in ``bins`` equal-width bins over [0, 1]."""
    p = np.asarray(probs, dtype=np.float64)
    y = _labels(y, len(p))
    conf = p.max(axis=1) if len(p) else np.zeros(0)
    right = p.argmax(axis=1) == y if len(p) else np.zeros(0, bool)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        n = int(m.sum())
        out.append(ReliabilityBin(b / bins, (b + 1) / bins, n,
                                  float(conf[m].mean()) if n else None,
                                  float(right[m].mean()) if n else None))
    return out


def expected_calibration_error(probs: Any, y: Any, bins: int = 10) -> float:
    """ECE: bin-size-weighted mean |accuracy - confidence| of the top label (0 = calibrated).
    NaN for no rows."""
    rows = reliability_bins(probs, y, bins)
    n = sum(b.n for b in rows)
    if not n:
        return float("nan")
    return float(sum(b.n * abs(b.accuracy - b.confidence) for b in rows if b.n) / n)


def reliability_diagram(probs_before: Any, probs_after: Any, y: Any,
                        path: str | os.PathLike, bins: int = 10, title: str = "",
                        labels: tuple[str, str] = ("before", "after temperature scaling")) -> Path:
    """Two panels (before / after) of accuracy against confidence per bin, the diagonal
    being perfect calibration; ECE and frame counts in the panel titles."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.4), dpi=110)
    FigureCanvasAgg(fig)
    for k, (probs, name) in enumerate(((probs_before, labels[0]), (probs_after, labels[1]))):
        ax = fig.add_subplot(1, 2, k + 1)
        rows = reliability_bins(probs, y, bins)
        centres = [(b.lo + b.hi) / 2 for b in rows]
        acc = [b.accuracy or 0.0 for b in rows]
        ax.bar(centres, acc, width=1.0 / bins, edgecolor="black", color="#4c72b0",
               alpha=0.85, label="accuracy")
        gap = [(b.confidence or 0.0) - (b.accuracy or 0.0) for b in rows]
        ax.bar(centres, gap, bottom=acc, width=1.0 / bins, color="#dd8452", alpha=0.5,
               edgecolor="none", label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        for c, b in zip(centres, rows, strict=True):
            if b.n:
                ax.text(c, 0.02, str(b.n), ha="center", va="bottom", fontsize=7, color="white")
        ece = expected_calibration_error(probs, y, bins)
        ax.set_title(f"{name}\nECE {ece:.3f} (n={len(np.asarray(y).reshape(-1))})", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        if k == 0:
            ax.set_ylabel("accuracy")
            ax.legend(loc="upper left", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


# ---------------------------------------------------------------------------------------
# the "uncertain" flag


@dataclass(frozen=True)
class UncertainThreshold:
    """``uncertain = confidence < threshold``.

    threshold: lowest top probability at which the frames at or above it still reach
    ``target_accuracy`` on validation; 0.0 when all of them do, 1.0 when not even the most
    confident ``min_count`` frames do (then every answer is flagged uncertain).
    """

    threshold: float
    target_accuracy: float
    accuracy_above: float | None  # validation accuracy of the frames kept as certain
    coverage: float  # share of validation frames at or above the threshold
    n: int
    achieved: bool


def choose_uncertain_threshold(probs: Any, y: Any, target_accuracy: float = 0.8,
                               min_count: int = 5) -> UncertainThreshold:
    """Threshold on the top probability, chosen on validation frames.

    Frames are ranked by confidence; the threshold is the confidence of the last frame of
    the largest top-ranked set (at least ``min_count`` frames, cut only between different
    confidences) whose accuracy is still >= ``target_accuracy``. Below it, answers are
    flagged ``uncertain``.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = _labels(y, len(p))
    n = len(y)
    if not n:
        return UncertainThreshold(1.0, target_accuracy, None, 0.0, 0, False)
    conf = p.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    conf_sorted = conf[order]
    right = (p.argmax(axis=1) == y)[order]
    acc_top = np.cumsum(right) / np.arange(1, n + 1)
    # only cut where the next frame is less confident (ties stay on one side)
    cut_ok = np.r_[conf_sorted[:-1] > conf_sorted[1:], True]
    k_ok = np.flatnonzero(cut_ok & (acc_top >= target_accuracy)
                          & (np.arange(1, n + 1) >= min(min_count, n)))
    if not k_ok.size:
        return UncertainThreshold(1.0, target_accuracy, None, 0.0, n, False)
    k = int(k_ok.max())
    threshold = 0.0 if k == n - 1 else float(conf_sorted[k])
    return UncertainThreshold(threshold, target_accuracy, float(acc_top[k]), (k + 1) / n, n, True)


def selective_scores(probs: Any, y: Any, threshold: float) -> dict[str, float | int | None]:
    """Coverage and accuracy of the frames at or above ``threshold`` (for held-out data)."""
    p = np.asarray(probs, dtype=np.float64)
    y = _labels(y, len(p))
    keep = p.max(axis=1) >= threshold if len(p) else np.zeros(0, bool)
    right = p.argmax(axis=1) == y if len(p) else np.zeros(0, bool)
    return {"n": int(len(y)), "kept": int(keep.sum()),
            "coverage": float(keep.mean()) if len(y) else None,
            "accuracy_kept": float(right[keep].mean()) if keep.any() else None,
            "accuracy_uncertain": float(right[~keep].mean()) if (~keep).any() else None}


@dataclass(frozen=True)
class CalibrationReport:
    """What temperature scaling did on one set of frames."""

    temperature: float
    n: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float


def calibration_report(scores: Any, y: Any, temperature: float, bins: int = 10) -> CalibrationReport:
    """ECE and NLL of ``scores`` before and after dividing the logits by ``temperature``."""
    before = softmax(to_logits(scores))
    after = apply_temperature(scores, temperature)
    return CalibrationReport(float(temperature), int(len(before)),
                       expected_calibration_error(before, y, bins),
                       expected_calibration_error(after, y, bins),
                       negative_log_likelihood(before, y), negative_log_likelihood(after, y))
