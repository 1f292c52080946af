"""An ordinal map from what a photo shows to the three classes: what a calibration profile
(airken.core.profiles) fits for one view, and what the study fits for all views at once.

A photo is a few numbers z: first its haze score, read off the photo model's class shares p,

    s = (logit P(y > healthy) + logit P(y > moderate)) / 2,

then, for a view, simple haze features of the frame (airken.core.haze_features), which rank
hazy hours within one view though they say little across views. The map has a weight per
number and two ordered thresholds (a cumulative logit model):

    P(y > healthy) = sigmoid(b.z - t0),  P(y > moderate) = sigmoid(b.z - t1),  t0 < t1

Labels may be soft (a row of class shares per photo): the air model's archive gives a modelled
value with a known error, not a class, and fitting the shares that error implies keeps the
weights from shrinking towards the noise. The fit is penalised towards an anchor map, so that a
handful of readings moves it only a little. Numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CLIP = 1e-4
MAX_SCORE = 9.0


def score(probs: np.ndarray) -> np.ndarray:
    """The haze score of one (K,) or many (N, K) rows of class shares."""
    p = np.clip(np.asarray(probs, dtype=np.float64), _CLIP, 1.0)
    above0 = np.clip(p[..., 1] + p[..., 2], _CLIP, 1 - _CLIP)
    above1 = np.clip(p[..., 2], _CLIP, 1 - _CLIP)
    logit = lambda q: np.log(q) - np.log1p(-q)  # noqa: E731
    return np.clip((logit(above0) + logit(above1)) / 2, -MAX_SCORE, MAX_SCORE)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(z / 2))


@dataclass(frozen=True)
class OrdinalMap:
    weights: tuple[float, ...]  # one per number of z; the first is the haze score's slope
    t0: float
    t1: float

    def probs(self, z: np.ndarray) -> np.ndarray:
        """Class shares for (d,) or (N, d) inputs; a plain score (or N scores) is d = 1."""
        z = np.asarray(z, dtype=np.float64)
        z = z[..., None] if z.ndim == 0 or (z.ndim == 1 and len(self.weights) == 1) else z
        eta = z @ np.asarray(self.weights)
        c0, c1 = _sigmoid(eta - self.t0), _sigmoid(eta - self.t1)
        out = np.clip(np.stack([1 - c0, c0 - c1, c1], axis=-1), 1e-9, 1.0)
        return out / out.sum(axis=-1, keepdims=True)

    def padded(self, d: int) -> OrdinalMap:
        """The same map over d numbers (the extra ones weighted 0)."""
        return OrdinalMap(tuple(self.weights) + (0.0,) * (d - len(self.weights)), self.t0, self.t1)

    def to_dict(self) -> dict:
        return {"weights": [round(w, 6) for w in self.weights], "t0": round(self.t0, 6), "t1": round(self.t1, 6)}

    @classmethod
    def from_dict(cls, d: dict) -> OrdinalMap:
        found = cls(tuple(float(w) for w in d["weights"]), float(d["t0"]), float(d["t1"]))
        if not (found.weights and np.isfinite([*found.weights, found.t0, found.t1]).all() and found.t0 < found.t1):
            raise ValueError("an ordinal map has finite weights and thresholds t0 < t1")
        return found


IDENTITY = OrdinalMap((1.0,), -1.0, 1.0)  # the anchor when nothing better is known


def _unpack(theta: np.ndarray) -> OrdinalMap:
    return OrdinalMap(tuple(float(v) for v in theta[:-2]), float(theta[-2]), float(theta[-1]))


def gradient(theta: np.ndarray, z: np.ndarray, targets: np.ndarray, w: np.ndarray, anchor: np.ndarray,
             strength: float) -> tuple[float, np.ndarray]:
    """The penalised log-likelihood and its gradient in (weights, t0, t1)."""
    m = _unpack(theta)
    eta = z @ np.asarray(m.weights)
    c0, c1 = _sigmoid(eta - m.t0), _sigmoid(eta - m.t1)
    g0, g1 = c0 * (1 - c0), c1 * (1 - c1)
    p = np.clip(np.stack([1 - c0, c0 - c1, c1], axis=-1), 1e-12, 1.0)
    q = w[:, None] * targets / p  # d log-likelihood / d p
    d_eta = -q[:, 0] * g0 + q[:, 1] * (g0 - g1) + q[:, 2] * g1
    d_t0 = float((q[:, 0] * g0 - q[:, 1] * g0).sum())
    d_t1 = float((q[:, 1] * g1 - q[:, 2] * g1).sum())
    value = float((w[:, None] * targets * np.log(p)).sum()) - 0.5 * strength * float(((theta - anchor) ** 2).sum())
    return value, np.r_[z.T @ d_eta, d_t0, d_t1] - strength * (theta - anchor)


def fit(z: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None, anchor: OrdinalMap = IDENTITY,
        strength: float = 1.0, iterations: int = 50) -> OrdinalMap:
    """The map maximising the weighted expected log-likelihood of ``targets`` (N, K) class
    shares given inputs ``z`` (N,) or (N, d), penalised towards ``anchor`` with ``strength``
    (1 weighs about as much as one reading). Newton steps (the problem is concave), the
    Hessian from differences of the exact gradient, kept to t0 < t1."""
    z = np.asarray(z, np.float64).reshape(len(targets), -1)
    w = np.ones(len(z)) if weights is None else np.asarray(weights, np.float64)
    centre = np.r_[anchor.padded(z.shape[1]).weights, anchor.t0, anchor.t1]
    theta = centre.copy()
    f = lambda th: gradient(th, z, np.asarray(targets, np.float64), w, centre, strength)  # noqa: E731
    for _ in range(iterations):
        value, grad = f(theta)
        hess = np.stack([(f(theta + e)[1] - grad) / 1e-5 for e in np.eye(len(theta)) * 1e-5])
        step = np.linalg.solve(0.5 * (hess + hess.T) - 1e-6 * np.eye(len(theta)), -grad)
        size = 1.0
        while size > 1e-6 and not _better(f, theta + size * step, value):
            size /= 2
        theta = theta + size * step
        if np.abs(size * step).max() < 1e-8:
            break
    return _unpack(theta)


def _better(f, theta: np.ndarray, value: float) -> bool:
    return theta[-2] < theta[-1] - 1e-3 and f(theta)[0] >= value
