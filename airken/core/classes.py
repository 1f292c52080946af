"""The Airken class table: PM2.5 bands, colours and what each class means for a day.

This is the single source of truth for class names and order; the training pipeline
imports it, and the model's output index i is CLASSES[i].
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AirClass:
    name: str  # the label in JSON and in training
    index: int
    word: str  # the one word people read for it, on the page, in the batch table and CSV
    band: str  # PM2.5 band, as shown to people
    colour: str  # hex colour for the verdict
    headline: str
    advice: str
    plan: dict[str, str] = field(default_factory=dict)  # activity -> what to do


CLASSES: tuple[AirClass, ...] = (
    AirClass(
        name="healthy",
        word="healthy",
        index=0,
        band="PM2.5 < 30 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}",
        colour="#2e7d32",
        headline="Healthy air",
        advice="Air quality looks fine for everyone outdoors.",
        plan={
            "run": "Go ahead, any distance or pace.",
            "bike commute": "Ride as usual.",
            "children playing outside": "No limits.",
            "opening windows": "Open them and air the rooms.",
        },
    ),
    AirClass(
        name="moderate",
        word="moderate",
        index=1,
        band="PM2.5 30-54 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}",
        colour="#ef8f00",
        headline="Moderate air",
        advice=(
            "Most people are fine. Sensitive groups (asthma, heart or lung conditions, "
            "older adults, children) should limit long or heavy exertion outdoors."
        ),
        plan={
            "run": "Keep it short or easy; sensitive people move it indoors.",
            "bike commute": "Fine for most; pick quieter streets away from traffic.",
            "children playing outside": "Fine, with breaks from hard running games.",
            "opening windows": "Air the rooms briefly, not for hours.",
        },
    ),
    AirClass(
        name="danger",
        word="unhealthy",
        index=2,
        band="PM2.5 > 54 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}",
        colour="#c62828",
        headline="Unhealthy air",
        advice=(
            "Everyone should cut outdoor exertion. Sensitive groups should stay indoors "
            "and keep activity light."
        ),
        plan={
            "run": "Skip the outdoor run; train indoors.",
            "bike commute": "Take transit if you can, or wear a well-fitting FFP2/N95 mask.",
            "children playing outside": "Keep play indoors today.",
            "opening windows": "Keep windows shut; use an air purifier if you have one.",
        },
    ),
)

LABELS: tuple[str, ...] = tuple(c.name for c in CLASSES)
WORDS: dict[str, str] = {c.name: c.word for c in CLASSES}

NEUTRAL_COLOUR = "#455a64"  # no class: refused, unsure
HEALTHY_BELOW = 30.0  # healthy: pm25 < 30
DANGER_ABOVE = 54.0  # danger: pm25 > 54; moderate in between


def class_for_pm25(pm25: float) -> AirClass:
    """Map a PM2.5 concentration (ug/m3) to its class."""
    if pm25 != pm25 or pm25 < 0:  # NaN or negative: not a measurement
        raise ValueError(f"not a valid PM2.5 value: {pm25!r}")
    if pm25 < HEALTHY_BELOW:
        return CLASSES[0]
    if pm25 <= DANGER_ABOVE:
        return CLASSES[1]
    return CLASSES[2]


def class_by_name(name: str) -> AirClass:
    for c in CLASSES:
        if c.name == name:
            return c
    raise KeyError(f"unknown class {name!r}; expected one of {', '.join(LABELS)}")
