"""The verdict rule: how much the photo weighs, how wrong the air model is taken to be, what
"confidence" means and when a verdict is called unsure. One home for all of it.

train.airstudy measures these on places the model never saw, with the air model simulated
from station readings, and writes them into the model's metrics.json ("verdict_rule"):

- ``photo_weight``: per level witness, the power of the photo's evidence
  (airken.core.witnesses.combine): with the air model, what the photo was measured to add on
  places it never saw; without a place, 1 (the photo is the only witness);
- ``air_model_sigma``: the log-normal error of the modelled PM2.5; ``air_model_noise_sd`` the
  part of it that changes hour by hour (what a view calibrated from the archive takes out);
- ``reliability``: per level witness ("air_model", "prior"), a monotone map from the
  combined verdict's top probability to how often verdicts that sure were right on held-out
  places. That share is what the app calls "confidence": never a number the data did not back;
- ``unsure_below``: per level witness, a verdict whose confidence is below it is shown as
  unsure; chosen so that the verdicts at or above it were right ``target`` of the time on
  held-out places. A calibrated view uses the air model's line.

A model without the block (an older one) gets the photo at full weight, its own top
probability as confidence and the threshold of its "calibration" block.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

AIR_MODEL, PRIOR, PROFILE = "air_model", "prior", "profile"  # what set the level of a verdict
DEFAULT_AIR_MODEL_SIGMA = 0.6  # a factor of 1.8 either way, until a study says otherwise


@dataclass(frozen=True)
class Reliability:
    """Top probability -> the share of such verdicts that were right (piecewise linear)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, top: float) -> float:
        return float(np.interp(top, self.x, self.y))

    @classmethod
    def from_dict(cls, d: Mapping) -> Reliability:
        x, y = tuple(float(v) for v in d["x"]), tuple(float(v) for v in d["y"])
        rising = all(np.all(np.diff(v) >= 0) for v in (x, y))
        if len(x) < 2 or len(x) != len(y) or not rising or not all(0.0 <= v <= 1.0 for v in (*x, *y)):
            raise ValueError("a reliability map is two equal lists, both rising, values in 0-1")
        return cls(x, y)

    def to_dict(self) -> dict:
        return {"x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class VerdictRule:
    photo_weight: Mapping[str, float] = field(default_factory=dict)  # level witness -> weight (default 1)
    air_model_sigma: float = DEFAULT_AIR_MODEL_SIGMA
    unsure_below: Mapping[str, float] = field(default_factory=dict)  # level witness -> line; "default" for the rest
    target: float | None = None  # how often the verdicts at or above the line were right
    reliability: Mapping[str, Reliability] = field(default_factory=dict)
    measured_on: str = ""  # where the numbers come from, in a line
    air_model_noise_sd: float = DEFAULT_AIR_MODEL_SIGMA
    ordinal_anchor: Mapping | None = None  # how photos of places never seen map to the classes (airken.core.view)

    def weight(self, basis: str) -> float:
        """How much the photo's evidence counts beside this level witness."""
        return float(self.photo_weight.get(basis, 1.0))

    def confidence(self, basis: str, top: float) -> float:
        """How often verdicts as sure as ``top`` were right, for this level witness; the top
        probability itself where nothing was measured (a calibrated view, an older model)."""
        found = self.reliability.get(basis)
        return found(top) if found is not None else float(top)

    def line(self, basis: str) -> float:
        """The confidence under which a verdict of this level witness is shown as unsure."""
        return float(self.unsure_below.get(basis, self.unsure_below.get(AIR_MODEL, self.unsure_below.get(
            "default", 0.0))))

    @classmethod
    def from_metrics(cls, metrics: Mapping) -> VerdictRule:
        """The model's "verdict_rule" block; an older model's calibration threshold without one."""
        block = metrics.get("verdict_rule")
        legacy = cls(unsure_below={"default": float((metrics.get("calibration") or {}).get("uncertain_below") or 0)})
        if not block:
            return legacy
        try:
            return cls({k: float(v) for k, v in block["photo_weight"].items()}, float(block["air_model_sigma"]),
                       {k: float(v) for k, v in block["unsure_below"].items()}, float(block["target"]),
                       {k: Reliability.from_dict(v) for k, v in block["reliability"].items()},
                       str(block.get("measured_on", "")),
                       float(block.get("air_model_noise_sd", block["air_model_sigma"])), block.get("ordinal_anchor"))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            log.warning("ignoring malformed verdict_rule in metrics.json (%s)", err)
            return legacy
