"""Confusion counts and balanced accuracy, per place and pooled, vectorised over many
candidate settings at once (the study scores hundreds per simulated draw)."""
from __future__ import annotations

import numpy as np

K = 3


def confusions(y: np.ndarray, pred: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """(..., groups, K, K) counts of (true, predicted) per group, for ``pred`` of shape (..., N)."""
    lead = pred.shape[:-1]
    flat = pred.reshape(-1, pred.shape[-1])
    cells = group * K * K + y * K
    offsets = np.arange(len(flat))[:, None] * groups * K * K
    counts = np.bincount((offsets + cells[None, :] + flat).ravel(), minlength=len(flat) * groups * K * K)
    return counts.reshape(*lead, groups, K, K)


def balanced_accuracy(conf: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present, for (..., K, K) confusion counts."""
    support = conf.sum(axis=-1)
    recall = np.divide(np.diagonal(conf, axis1=-2, axis2=-1), support, out=np.zeros(support.shape),
                       where=support > 0)
    present = (support > 0).sum(axis=-1)
    return np.divide(recall.sum(axis=-1), present, out=np.zeros(present.shape, dtype=float), where=present > 0)
