"""The class prior: how common each air class is where and when the photo was taken.

The network and the haze model learn from class-balanced epochs, so their output assumes
that each class is a third of all photos (the training prior, ``pi_train``, recorded in the
model's metrics.json "class_prior"). A visitor's photo comes from a world where most hours
are healthy, and Bayes' rule moves the answer accordingly:

    p(c | x)  proportional to  p_model(c | x) * pi(c) / pi_train(c)

``pi`` is the world prior below unless the caller gives another one (``AIRKEN_PRIOR``, the
API's ``prior`` argument, or the modelled PM2.5 for the photo's place and hour). Numpy only.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from airken.core.classes import LABELS

# A rounded judgement, not a measurement: in most places where people live, most daylight
# hours are below 30 ug/m3; 30-54 is common in winter in many cities; above 54 is frequent
# mainly in parts of South Asia, China, Africa and the Middle East. train/README.md reports
# what this prior does to balanced accuracy, calibration and the example photos.
WORLD_PRIOR: tuple[float, ...] = (0.6, 0.25, 0.15)
UNIFORM: tuple[float, ...] = tuple(1.0 / len(LABELS) for _ in LABELS)
NAMED = {"world": WORLD_PRIOR, "uniform": UNIFORM, "train": None}  # "train": no correction

PriorLike = str | Sequence[float] | Mapping[str, float] | None


class BadPrior(ValueError):
    """A prior that is not three non-negative shares; the message says what is expected."""


def parse_prior(value: PriorLike) -> tuple[float, ...] | None:
    """"world" / "uniform" / "train", "0.6,0.25,0.15", [0.6, 0.25, 0.15] or
    {"healthy": 0.6, ...} -> shares summing to 1, or None for "no correction" ("train")."""
    if value is None:
        return WORLD_PRIOR
    if isinstance(value, str):
        text = value.strip().lower()
        if text in NAMED:
            return NAMED[text]
        value = text.split(",")
    if isinstance(value, Mapping):
        unknown = set(value) - set(LABELS)
        if unknown:
            raise BadPrior(f"unknown class(es) in the prior: {', '.join(sorted(map(str, unknown)))}")
        value = [value.get(name, 0.0) for name in LABELS]
    try:
        shares = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        raise BadPrior(f"a prior is {len(LABELS)} numbers ({', '.join(LABELS)}), "
                       "'world', 'uniform' or 'train'") from None
    if shares.shape != (len(LABELS),) or not np.all(np.isfinite(shares)) or np.any(shares < 0) \
            or shares.sum() <= 0:
        raise BadPrior(f"a prior is {len(LABELS)} non-negative numbers, one per class ({', '.join(LABELS)})")
    return tuple(float(s) for s in shares / shares.sum())


def apply_prior(probs: np.ndarray, prior: Sequence[float] | None, train_prior: Sequence[float]) -> np.ndarray:
    """Bayes' rule for a change of class prior; works on one (K,) or a batch (N, K). A class
    with prior 0 gets probability 0; ``prior`` None leaves the probabilities as they are."""
    p = np.asarray(probs, dtype=np.float64)
    if prior is None:
        return p
    ratio = np.asarray(prior, dtype=np.float64) / np.maximum(np.asarray(train_prior, dtype=np.float64), 1e-12)
    moved = p * ratio
    total = moved.sum(axis=-1, keepdims=True)
    # Every class the prior allows had probability 0: keep the model's answer rather than divide by 0.
    return np.where(total > 0, moved / np.where(total > 0, total, 1.0), p)
