"""The air model, simulated from station readings: what it would have said at each photo.

No archive of the air model (CAMS, through Open-Meteo) can be fetched for the training
photos, so the study draws it: modelled = station x exp(b_place + e_hour), with a persistent
bias per place, b ~ N(0, bias_sd^2), and noise per hourly reading, e ~ N(0, noise_sd^2), both
in log space. train/README.md cites the published evaluations the central setting rests on.
Every number this study reports is a simulation and says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airken.core.classes import DANGER_ABOVE, HEALTHY_BELOW


@dataclass(frozen=True)
class Setting:
    bias_sd: float
    noise_sd: float

    @property
    def name(self) -> str:
        return f"bias {self.bias_sd:g}, noise {self.noise_sd:g}"

    @property
    def total_sd(self) -> float:
        return float(np.hypot(self.bias_sd, self.noise_sd))


CENTRAL = Setting(0.3, 0.4)
GRID = tuple(Setting(b, n) for b in (0.0, 0.3, 0.6) for n in (0.2, 0.4, 0.6))


def draw(pm25: np.ndarray, place: np.ndarray, reading: np.ndarray, setting: Setting,
         rng: np.random.Generator) -> np.ndarray:
    """One simulated air model value per frame: frames of one reading share its noise, frames
    of one place its bias."""
    bias = rng.normal(0.0, setting.bias_sd, place.max() + 1)
    noise = rng.normal(0.0, setting.noise_sd, reading.max() + 1)
    return np.maximum(pm25, 1.0) * np.exp(bias[place] + noise[reading])


def classes_of(pm25: np.ndarray) -> np.ndarray:
    """The class index of each value (airken.core.classes' bands, vectorised)."""
    return np.where(pm25 < HEALTHY_BELOW, 0, np.where(pm25 <= DANGER_ABOVE, 1, 2))
