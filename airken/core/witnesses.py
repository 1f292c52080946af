"""What a verdict rests on: the witnesses, combined by Bayes' rule.

The level witness says how common each class is at this place and hour: the air model (the
modelled PM2.5, with a log-normal error), a prior the caller gives, or the world prior when
nothing is known. The photo is evidence on top of it: the model's output divided by the class
shares it was trained with, raised to a weight measured on places it never saw
(train.airstudy chooses it; it travels in the model's metrics.json):

    p(c | photo, place, hour)  proportional to  level(c) * (p_model(c | x) / pi_train(c)) ** w

A view calibrated by a profile (airken.core.profiles) has the camera's bias taken out, so its
evidence, p_view(c | x) / pi_view(c), enters at full weight.

When the air model's value sets the level, the verdict is the class that holds the median of
the combined shares (`verdict_class`): when the photo says nothing, that is exactly the class
of the air model's own value, whatever its error, and the photo moves the verdict only as far
as its evidence carries the median across a band's edge. Against a prior of classes (no
place), the verdict is the most likely class. One home for this arithmetic: the app and
the study that measures it both call these functions. Numpy only.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from airken.core.calibration import log_probs, softmax
from airken.core.classes import DANGER_ABOVE, HEALTHY_BELOW, LABELS

SHARE_FLOOR = 0.02  # the air model never rules a class out: the photo can still say it
LEAN_STEP = 0.2  # a shift of the expected class (0 healthy .. 2 unhealthy) the words call a lean


def air_model_shares(pm25: float | np.ndarray, sigma: float) -> np.ndarray:
    """How likely each class is when the air model says ``pm25`` (one value or an array).

    The true hourly PM2.5 at the camera is taken as log-normal around the modelled value,
    ln(true) ~ N(ln(pm25), sigma^2): CAMS errors scale with the concentration, and a grid cell
    of 11-45 km averages over streets, parks and valleys. Each class keeps SHARE_FLOOR.
    """
    centre = np.log(np.maximum(np.asarray(pm25, dtype=np.float64), 0.5))
    scale = max(float(sigma), 1e-6) * math.sqrt(2)
    below = np.vectorize(lambda z: 0.5 * (1 + math.erf(z)), otypes=[float])
    healthy = below((math.log(HEALTHY_BELOW) - centre) / scale)
    danger = 1 - below((math.log(DANGER_ABOVE) - centre) / scale)
    shares = np.maximum(np.stack([healthy, 1 - healthy - danger, danger], axis=-1), SHARE_FLOOR)
    return shares / shares.sum(axis=-1, keepdims=True)


def combine(level: Sequence[float] | np.ndarray, probs: np.ndarray, base: Sequence[float] | np.ndarray,
            weight: float = 1.0) -> np.ndarray:
    """Bayes' rule: the level witness times the photo's evidence ``probs / base`` to the power
    ``weight``. One (K,) or a batch (N, K); ``level`` may be one row or one per photo."""
    evidence = log_probs(probs) - log_probs(base)
    return softmax(log_probs(level) + float(weight) * evidence)


def verdict_class(shares: np.ndarray, by_median: bool = True) -> np.ndarray | int:
    """The class a verdict names for one (K,) or many (N, K) rows of ordered class shares: the
    one holding the median, or (by_median False) the most likely one."""
    shares = np.asarray(shares, dtype=np.float64)
    found = (np.cumsum(shares, axis=-1) < 0.5 - 1e-9).sum(axis=-1) if by_median else shares.argmax(axis=-1)
    return int(found) if np.ndim(found) == 0 else found


def expected_class(shares: np.ndarray) -> np.ndarray:
    """The mean class index (0 healthy, 1 moderate, 2 unhealthy) of one or many share rows."""
    return np.asarray(shares, dtype=np.float64) @ np.arange(len(LABELS), dtype=np.float64)


def lean(level: np.ndarray, posterior: np.ndarray) -> int:
    """Which way the photo moved the verdict from the level witness: +1 hazier, -1 cleaner, 0
    about the same."""
    shift = float(expected_class(posterior) - expected_class(level))
    return 0 if abs(shift) < LEAN_STEP else int(math.copysign(1, shift))
