"""Calibrated confidence at run time: temperature scaling and the "unsure" threshold.

train/calibrate.py fits both on validation days and writes them into the model's
metrics.json ("calibration"); train.bundle then replaces the threshold with the one chosen on
the places a leave-one-place-out run never trained on (train.verdicts). Training uses the
same temperature functions as the app, from here.
Temperature scaling divides the logits by one number T: it changes how sure the model says
it is, never which class it picks. numpy only.

Scores may be logits or probabilities: probabilities (rows in [0, 1] summing to 1) are
turned into log-probabilities, which are logits up to a constant per row.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_EPS = 1e-12


def is_probabilities(scores: np.ndarray, atol: float = 1e-3) -> bool:
    s = np.asarray(scores, dtype=np.float64)
    return bool(s.size and s.min() >= 0.0 and s.max() <= 1.0
                and np.allclose(s.sum(axis=1), 1.0, atol=atol))


def to_logits(scores: Any) -> np.ndarray:
    """(N, K) logits; probabilities become log-probabilities (a zero gets log 1e-12)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must be (n, classes), got shape {s.shape}")
    return log_probs(s) if is_probabilities(s) else s


def log_probs(probs: Any) -> np.ndarray:
    """Log-probabilities, a zero taken as 1e-12 (so it can still be shifted back up)."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1.0))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Over the last axis: one (K,) vector or a batch (N, K)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def apply_temperature(scores: Any, temperature: float) -> np.ndarray:
    """Probabilities softmax(logits / T). T > 1 softens, T < 1 sharpens; argmax unchanged."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return softmax(to_logits(scores) / float(temperature))


@dataclass(frozen=True)
class Calibration:
    """The temperature and the "unsure" threshold of one model (its metrics.json
    "calibration"); identity when the model has none."""

    temperature: float = 1.0
    uncertain_below: float = 0.0

    @classmethod
    def from_metrics(cls, metrics: dict) -> Calibration:
        cal = metrics.get("calibration") or {}
        try:
            found = cls(float(cal.get("temperature", 1.0)), float(cal.get("uncertain_below", 0.0)))
        except (TypeError, ValueError):
            found = None
        if found is None or not found.temperature > 0:
            log.warning("ignoring malformed calibration in metrics.json: %r", cal)
            return cls()
        return found

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """One probability vector (K,), re-tempered: same class, better-calibrated confidence."""
        if self.temperature == 1.0:
            return probs
        return apply_temperature(np.asarray(probs)[None], self.temperature)[0].astype(np.float32)
