"""Late fusion: the network's probabilities averaged with a small colour/haze model's.

Across places left out of training (train.lopo), neither the fine-tuned network nor the
colour/haze logistic regression alone did as well as their average. The haze model is 11
hand-made features (airken.core.haze_features) of the same 224 px input, standardised, and a
multinomial logistic regression; its numbers travel in the model's metrics.json ("fusion").
Numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airken.core.haze_features import FEATURE_NAMES, colour_features


@dataclass(frozen=True)
class HazeModel:
    mean: np.ndarray  # (F,) feature means of the training frames
    std: np.ndarray  # (F,)
    coef: np.ndarray  # (C, F) logistic regression weights, one row per class in `classes`
    intercept: np.ndarray  # (C,)
    classes: tuple[int, ...]  # class indices the regression saw (the others get probability 0)
    n_classes: int = 3

    def proba_features(self, feats: np.ndarray) -> np.ndarray:
        """(N, F) colour features -> (N, n_classes) probabilities."""
        z = (np.asarray(feats, dtype=np.float64) - self.mean) / self.std
        out = np.zeros((len(z), self.n_classes))
        if len(self.classes) == 1:
            out[:, self.classes[0]] = 1.0
            return out
        logits = z @ self.coef.T + self.intercept
        if len(self.classes) == 2:  # sklearn's binary form: one row, the second class's logit
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        out[:, list(self.classes)] = e / e.sum(axis=1, keepdims=True)
        return out

    def to_dict(self) -> dict:
        return {"features": list(FEATURE_NAMES), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept.tolist(), "classes": list(self.classes),
                "n_classes": self.n_classes}

    @classmethod
    def from_dict(cls, d: dict) -> HazeModel:
        if list(d.get("features", FEATURE_NAMES)) != list(FEATURE_NAMES):
            raise ValueError("haze model was fitted on other features than airken.core.haze_features computes")
        model = cls(np.asarray(d["mean"], float), np.asarray(d["std"], float), np.asarray(d["coef"], float),
                    np.asarray(d["intercept"], float), tuple(int(c) for c in d["classes"]), int(d.get("n_classes", 3)))
        f = len(FEATURE_NAMES)
        if model.mean.shape != (f,) or model.std.shape != (f,) or model.coef.shape[1:] != (f,):
            raise ValueError("haze model arrays do not match the feature count")
        return model


@dataclass(frozen=True)
class Fusion:
    """p = (1 - weight) * network + weight * haze model."""

    weight: float
    haze: HazeModel

    def apply(self, network_probs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """One uint8 RGB model input (H, W, 3) and the network's probabilities for it."""
        return self.apply_features(np.asarray(network_probs)[None], colour_features(x)[None])[0]

    def apply_features(self, network_probs: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """A batch: (N, K) network probabilities and (N, F) colour features."""
        return (1 - self.weight) * np.asarray(network_probs, float) + self.weight * self.haze.proba_features(feats)

    def to_dict(self) -> dict:
        return {"weight": self.weight, "haze_model": self.haze.to_dict()}

    @classmethod
    def from_metrics(cls, metrics: dict) -> Fusion | None:
        """The "fusion" block of a model's metrics.json; None when it has none (network only)."""
        block = metrics.get("fusion")
        if not block:
            return None
        weight = float(block["weight"])
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"fusion weight {weight} is outside 0-1")
        return cls(weight, HazeModel.from_dict(block["haze_model"]))
