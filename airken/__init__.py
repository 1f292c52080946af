"""Airken: reads air quality (PM2.5 class) from a photo of the sky.

    >>> import airken
    >>> airken.predict("sky.jpg").label
    'healthy'

The package runs on LiteRT and never imports TensorFlow. Attributes are loaded lazily so that
`airken.core.classes` (shared with the training pipeline) stays import-light.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["LABELS", "ImageRejected", "Predictor", "Verdict", "get_predictor", "predict"]


def __getattr__(name: str):
    if name == "Verdict":
        from airken.core.verdict import Verdict

        return Verdict
    if name in ("predict", "get_predictor", "Predictor"):
        import importlib

        # import_module, not `from airken import predict`: that would ask this hook again.
        return getattr(importlib.import_module("airken.core.predictor"), name)
    if name == "ImageRejected":
        from airken.core.intake import ImageRejected

        return ImageRejected
    if name == "LABELS":
        from airken.core.classes import LABELS

        return LABELS
    raise AttributeError(f"module 'airken' has no attribute {name!r}")
