"""The combined verdict under leave-one-place-out, with the air model simulated.

For every simulated draw and every candidate (photo weight w, air model sigma), the verdict
the app would give on every held-out frame (airken.core.witnesses: combine, then the median
class). w and sigma are chosen for each held-out place on the other places only (nested):
the best pooled balanced accuracy among the candidates that cost no training place more than
GUARD against the air model alone (w = 0 always qualifies: then the verdict is the air model's
own class), ties broken by the log-likelihood of the true class. The held-out place is then
scored with them. Beside it: the air model alone (the class of its value).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from airken.core.calibration import log_probs
from airken.core.witnesses import air_model_shares, combine, verdict_class
from train.airstudy.frames import Frames
from train.airstudy.scores import balanced_accuracy, confusions
from train.airstudy.simulate import Setting, classes_of, draw

WEIGHTS = tuple(round(w, 2) for w in np.arange(0.0, 1.01, 0.1))
SIGMAS = (0.3, 0.4, 0.5, 0.6, 0.8)
GUARD = 0.01  # the most balanced accuracy a choice may cost any one training place


@dataclass
class Draws:
    """Per draw: confusion counts per place of the air model alone and of every candidate,
    and the summed log-likelihood of the true class per candidate and place."""

    setting: Setting
    air_alone: list[np.ndarray] = field(default_factory=list)  # (P, K, K) per draw
    combined: list[np.ndarray] = field(default_factory=list)  # (S, W, P, K, K) per draw
    loglik: np.ndarray | float = 0.0  # (S, W, P), summed over draws


def evidence(frames: Frames) -> np.ndarray:
    """The photo's log evidence, log p(c|x) - log pi_train(c), per frame."""
    return log_probs(frames.probs) - log_probs(np.asarray(frames.train_prior))


def candidates(frames: Frames, m: np.ndarray) -> np.ndarray:
    """(S, W, N, K) combined shares of every candidate for one draw of the air model."""
    ev, w = evidence(frames), np.asarray(WEIGHTS)[None, :, None, None]
    level = np.stack([log_probs(air_model_shares(m, s)) for s in SIGMAS])[:, None]
    z = level + w * ev[None, None]
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def simulate(frames: Frames, setting: Setting, draws: int, seed: int = 0) -> Draws:
    rng, out, places = np.random.default_rng(seed), Draws(setting), len(frames.places)
    per_place = np.eye(places)[frames.place]  # (N, P)
    for _ in range(draws):
        m = draw(frames.pm25, frames.place, frames.reading, setting, rng)
        shares = candidates(frames, m)
        right = np.take_along_axis(shares, frames.y[None, None, :, None], axis=-1)[..., 0]
        out.loglik = out.loglik + np.log(np.maximum(right, 1e-12)) @ per_place
        out.air_alone.append(confusions(frames.y, classes_of(m), frames.place, places))
        out.combined.append(confusions(frames.y, verdict_class(shares), frames.place, places))
    return out


def choose(d: Draws, keep: np.ndarray) -> tuple[int, int]:
    """(sigma index, weight index) chosen on the places in ``keep`` (see the module docstring)."""
    total, air = np.sum(d.combined, axis=0)[:, :, keep], np.sum(d.air_alone, axis=0)[keep]
    loss = (balanced_accuracy(air)[None, None] - balanced_accuracy(total)).max(axis=-1)
    pooled = balanced_accuracy(total.sum(axis=2))
    score = np.where(loss <= GUARD, pooled, -np.inf)
    best = np.flatnonzero(np.isclose(score, np.max(score)))
    ll = d.loglik[:, :, keep].sum(axis=-1).ravel()
    s, w = np.unravel_index(int(best[np.argmax(ll[best])]), score.shape)
    return int(s), int(w)


def nested(d: Draws, places: int) -> dict:
    """Each place scored with the (w, sigma) chosen on the others; pooled per draw."""
    picks = [choose(d, np.arange(places) != p) for p in range(places)]
    pooled = [sum(c[s, w, p] for p, (s, w) in enumerate(picks)) for c in d.combined]
    return {"picks": picks, "pooled_ba": [float(balanced_accuracy(c)) for c in pooled],
            "per_place_ba": {p: float(np.mean([balanced_accuracy(c[s, w, p]) for c in d.combined]))
                             for p, (s, w) in enumerate(picks)},
            "air_alone_ba": [float(balanced_accuracy(c.sum(axis=0))) for c in d.air_alone],
            "air_alone_per_place": {p: float(np.mean([balanced_accuracy(c[p]) for c in d.air_alone]))
                                    for p in range(places)},
            "ship": choose(d, np.ones(places, dtype=bool))}


def photo_alone(frames: Frames, level: np.ndarray, weight: float) -> np.ndarray:
    """(N, K) shares of the photo read against a fixed prior (no place known)."""
    return combine(level, frames.probs, frames.train_prior, weight)


def combined_shares(frames: Frames, m: np.ndarray, sigma: float, weight: float) -> np.ndarray:
    """(N, K) combined shares for one draw and one (sigma, w)."""
    return combine(air_model_shares(m, sigma), frames.probs, frames.train_prior, weight)
