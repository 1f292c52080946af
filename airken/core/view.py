"""One fixed view, calibrated: how the photos of one camera and scene map to the classes.

A view's inputs are the photo model's haze score and the frame's within-view haze features
(airken.core.haze_features.view_features), standardised over the view's own calibration
photos. An ordinal map (airken.core.ordinal) turns them into class shares, penalised towards
the map of views never seen (the anchor), so a few readings move it a little and many move it
far. The verdict then uses the view's evidence relative to its own average photo: a view that
always looks the same says nothing, a frame hazier than the view's usual says "hazier".

Labels from the air model's archive are the class of a modelled value, which wanders from the
truth hour by hour (log-normal, sd ``label_noise``). A map fitted on them is flatter than the
view deserves: the classes' spread it learns is the photo's own plus that noise. Its scale is
read off the thresholds (they sit log(54/30) apart in log PM2.5) and the noise taken out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from airken.core import ordinal
from airken.core.classes import DANGER_ABOVE, HEALTHY_BELOW
from airken.core.witnesses import SHARE_FLOOR

STRENGTH = 1.0  # the penalty towards the anchor, in readings (train.airstudy reports the choice)
BAND_GAP = math.log(DANGER_ABOVE / HEALTHY_BELOW)  # the moderate band's width in log PM2.5
LOGISTIC_SD = math.pi / math.sqrt(3)


@dataclass(frozen=True)
class ViewCalibration:
    map: ordinal.OrdinalMap
    mean: tuple[float, ...]  # of the view features over the calibration photos
    std: tuple[float, ...]
    base: tuple[float, ...]  # the map's mean class shares over the calibration photos

    def inputs(self, probs: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """(N, 1 + F) or (1 + F,): the haze score, then the standardised features."""
        return view_inputs(probs, feats, np.asarray(self.mean), np.asarray(self.std))

    def shares(self, probs: np.ndarray, feats: np.ndarray) -> np.ndarray:
        return self.map.probs(self.inputs(probs, feats))

    def to_dict(self) -> dict:
        return {"map": self.map.to_dict(), "mean": [round(v, 6) for v in self.mean],
                "std": [round(v, 6) for v in self.std], "base": [round(v, 6) for v in self.base]}

    @classmethod
    def from_dict(cls, d: dict) -> ViewCalibration:
        found = cls(ordinal.OrdinalMap.from_dict(d["map"]), tuple(map(float, d["mean"])),
                    tuple(map(float, d["std"])), tuple(map(float, d["base"])))
        if len(found.mean) != len(found.std) or len(found.map.weights) != 1 + len(found.mean) \
                or len(found.base) != 3 or min(found.std, default=1.0) <= 0 or min(found.base) <= 0:
            raise ValueError("a view calibration needs one weight per input, positive spreads and base shares")
        return found


def view_inputs(probs: np.ndarray, feats: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    s = np.asarray(ordinal.score(probs))
    return np.concatenate([s[..., None], (np.asarray(feats, dtype=np.float64) - mean) / std], axis=-1)


def reading_weights(readings: np.ndarray) -> np.ndarray:
    """Every reading weighs 1 in all, however many frames it has."""
    _, inverse, counts = np.unique(np.asarray(readings), return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def without_noise(found: ordinal.OrdinalMap, noise: float) -> ordinal.OrdinalMap:
    """The map sharpened by the label noise it absorbed (at most threefold)."""
    total = LOGISTIC_SD * BAND_GAP / max(found.t1 - found.t0, 1e-6)  # the classes' spread, in log PM2.5
    own = math.sqrt(max(total**2 - noise**2, (total / 3) ** 2))
    c = total / own
    return replace(found, weights=tuple(w * c for w in found.weights), t0=found.t0 * c, t1=found.t1 * c)


def fit_view(probs: np.ndarray, feats: np.ndarray, targets: np.ndarray, readings: np.ndarray,
             anchor: ordinal.OrdinalMap = ordinal.IDENTITY, strength: float = STRENGTH,
             label_noise: float = 0.0) -> ViewCalibration:
    """The view's calibration from its photos (probs, feats) and their labels as class shares
    (one-hot for a reading; ``label_noise``: the labels' log-normal noise, 0 for a station)."""
    w = reading_weights(readings)
    feats = np.asarray(feats, dtype=np.float64)
    mean = (w[:, None] * feats).sum(axis=0) / w.sum()
    std = np.sqrt((w[:, None] * (feats - mean) ** 2).sum(axis=0) / w.sum())
    std = np.where(std > 1e-6, std, 1.0)  # a feature that never moves here says nothing
    z = view_inputs(probs, feats, mean, std)
    found = ordinal.fit(z, targets, w, anchor, strength)
    found = without_noise(found, label_noise) if label_noise > 0 else found
    base = (w[:, None] * found.probs(z)).sum(axis=0) / w.sum()
    base = np.maximum(base, SHARE_FLOOR) / np.maximum(base, SHARE_FLOOR).sum()
    # As it will be saved (to_dict rounds): a profile loaded from its file reads as the one fitted.
    return ViewCalibration.from_dict(ViewCalibration(found, tuple(mean.tolist()), tuple(std.tolist()),
                                                     tuple(base.tolist())).to_dict())
