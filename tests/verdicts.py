"""Verdicts for the tests: the bundled model with a fake air model (a lookup that answers what
a test tells it and records what it was asked), a photo model that says nothing (its evidence
is the training prior itself), and Verdicts built from chosen facts by airken.core.words."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from airken.core import words
from airken.core.classes import LABELS, class_for_pm25
from airken.core.haze_features import VIEW_FEATURE_NAMES
from airken.core.ordinal import OrdinalMap
from airken.core.predictor import Evidence, Predictor, get_predictor
from airken.core.prior import WORLD_PRIOR
from airken.core.profiles import Profile
from airken.core.verdict import Verdict
from airken.core.view import ViewCalibration


def report(pm25: float, time: str = "2026-03-14T12:00+01:00", lat: float = 45.5, lon: float = 9.2) -> dict:
    """An air model report as airken.airmodel.report.air_block gives it (no hours ahead)."""
    return {"lat": lat, "lon": lon, "time": time, "pm25": pm25, "label": class_for_pm25(pm25).name,
            "source": "fake", "hourly": [], "best": {}}


class FakeLookup:
    """(lat, lon, hour) -> ``answer`` for that place and hour; every question kept in ``calls``."""

    def __init__(self, answer: dict):
        self.answer = answer
        self.calls: list[tuple[float, float, datetime | None]] = []

    def __call__(self, lat: float, lon: float, hour: datetime | None) -> dict:
        self.calls.append((lat, lon, hour))
        if "error" in self.answer:
            return dict(self.answer)
        when = (hour or datetime.now(timezone.utc)).isoformat(timespec="minutes")
        return {**self.answer, "lat": lat, "lon": lon, "time": when}


def with_lookup(lookup: Any) -> Predictor:
    """The process-wide predictor's model and metrics, with ``lookup`` as its air model."""
    base = get_predictor()
    return Predictor(base.model, base.source, base.limits, base.metrics, lookup=lookup)


def neutral(predictor: Predictor, monkeypatch) -> None:
    """The photo says nothing: its shares are the training prior, so its evidence is 1 for every class."""
    quiet = Evidence(np.asarray(predictor.train_prior, dtype=float), np.zeros((224, 224, 3), np.uint8), None)
    monkeypatch.setattr(predictor, "_photo_model", lambda photo: quiet)


def made(label: str = "danger", confidence: float = 0.9, unsure_below: float = 0.74, **facts: Any) -> Verdict:
    """The Verdict of a photo whose combined shares give ``label`` ``confidence``; the facts
    default to a photo read against the world prior, without a place."""
    rest = (1 - (confidence or 0.0)) / (len(LABELS) - 1)  # None: a refused photo (probabilities=None)
    probs = np.array([confidence if name == label else rest for name in LABELS])
    base = dict(probabilities=probs, refusal=None, confidence=confidence, unsure_below=unsure_below, measured=False,
                unreliable=None, basis="prior", lean=0, where=None, air_model=None, prior=WORLD_PRIOR, profile=None,
                warnings=())
    return words.verdict(words.Facts(**(base | facts)), {"source": "test"}, {"total": 41.0}, None)



def clean_profile(name: str = "rooftop", readings: int = 5) -> Profile:
    """A calibration profile of a view that is always clean: it reads every photo healthy."""
    n = len(VIEW_FEATURE_NAMES)
    view = ViewCalibration(OrdinalMap((0.0,) * (n + 1), 4.0, 6.0), (0.0,) * n, (1.0,) * n, (0.6, 0.3, 0.1))
    return Profile(name, view, readings, readings, "station", (readings, 0, 0))
