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
    band: str  # PM2.5 band in ug/m3, as shown to people
    colour: str  # hex colour for the verdict
    headline: str
    advice: str
    plan: dict[str, str] = field(default_factory=dict)  # activity -> what to do


CLASSES: tuple[AirClass, ...] = (
    AirClass(
        name="healthy",
        word="healthy",
        index=0,
        band="PM2.5 < 30 ug/m3",
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
        band="PM2.5 30-54 ug/m3",
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
        band="PM2.5 > 54 ug/m3",
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

# When the model is unsure (Prediction.uncertain), the page shows this instead of the class's
# own headline, colour and plan: a close call must not tell anyone to wear a mask.
UNSURE_HEADLINE = "Can't tell reliably from this photo"
UNSURE_WARNING = "The model is unsure about this photo: the classes are close. Treat the verdict as a rough hint."
UNSURE_ADVICE = ("The bands are too close to call from this photo. If it matters today, check an official "
                 "air-quality station near you.")
UNSURE_PLAN = {
    "run": "Go by how the air feels; if you are sensitive, check a station before a long run.",
    "bike commute": "Ride as usual; check a station if the air smells of smoke.",
    "children playing outside": "Normal play is fine; check a station if a child has asthma.",
    "opening windows": "Air the rooms as usual; close them if it smells of smoke.",
}
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
