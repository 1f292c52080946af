"""The words of a verdict, built once: headline, advice, plan, colour, why it is unsure and
what each witness said. The page, the batch table, the CSV, the CLI and the JSON all show
these strings as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from airken.core.classes import CLASSES, LABELS, NEUTRAL_COLOUR, AirClass, class_by_name
from airken.core.intake import Photo
from airken.core.rule import AIR_MODEL, PRIOR, PROFILE
from airken.core.verdict import Verdict, Where, Witness, frozen
from airken.core.witnesses import verdict_class

REFUSED_HEADLINE = "Can't read the air from this photo"
UNSURE_HEADLINE = "Can't tell reliably"
UNSURE_ADVICE = "If it matters today, check an official air-quality station near you."
ASK_FOR_PLACE = ("Tell Airken where and when the photo was taken: the modelled air of that place and hour "
                 "makes the answer far more reliable.")
# A close call must not tell anyone to wear a mask, nor that all is well.
UNSURE_PLAN = {
    "run": "Go by how the air feels; if you are sensitive, check a station before a long run.",
    "bike commute": "Ride as usual; check a station if the air smells of smoke.",
    "children playing outside": "Normal play is fine; check a station if a child has asthma.",
    "opening windows": "Air the rooms as usual; close them if it smells of smoke.",
}
WHERE_MEASURED = {
    AIR_MODEL: "on places the model never saw, with the air model's usual errors simulated",
    PRIOR: "on places the model never saw, from the photo alone",
    PROFILE: "by this calibrated view",
}
PHOTO_LEANS = {1: "looks hazier than that", -1: "looks cleaner than that", 0: "shows nothing that changes it"}
PHOTO_SILENT = (", but on places the model never saw a photo did not improve on the air model, so the "
                "verdict goes by the air model")


def percent(share: float) -> str:
    """A share for people: never "100%" or "0%", which a photo cannot back."""
    if share >= 0.995:
        return "over 99%"
    if share < 0.005:
        return "under 1%"
    return f"{share:.0%}"


@dataclass(frozen=True)
class Facts:
    """What the predictor found, before it is put into words."""

    probabilities: np.ndarray | None  # the combined shares; None when the photo was refused
    refusal: str | None
    confidence: float | None
    unsure_below: float
    measured: bool  # the confidence is a measured share of right verdicts, not the top probability itself
    unreliable: str | None  # a scene warning that says the photo cannot back a sure verdict
    basis: str | None  # what set the level (airken.core.rule)
    lean: int  # which way the photo, at full weight, would move the level: +1 hazier, -1 cleaner, 0 neither
    where: Where | None
    air_model: dict | None  # the report's JSON, {"error": why}, or None
    prior: tuple[float, ...] | None
    profile: Any  # airken.core.profiles.Profile or None
    warnings: tuple[str, ...]
    photo_weight: float = 1.0  # how far the photo was allowed to move the level (airken.core.rule)
    photo_label: int | None = None  # the class the photo points to at full weight, beside the level
    by_median: bool = False  # the air model's value set the level: the verdict is the median class


def verdict(facts: Facts, model: dict, timings: dict, photo: Photo | None) -> Verdict:
    """The Verdict of these facts, every word of it."""
    common = dict(witnesses=tuple(witnesses(facts)), basis=facts.basis, where=facts.where,
                  air_model=frozen(facts.air_model), profile=getattr(facts.profile, "name", None),
                  prior=None if facts.prior is None else frozen(dict(zip(LABELS, facts.prior, strict=True))),
                  warnings=facts.warnings, model=frozen(model), timings_ms=frozen(timings), photo=photo)
    if facts.probabilities is None:
        return Verdict(label=None, unsure=False, headline=REFUSED_HEADLINE, advice=facts.refusal or "",
                       plan=frozen({}), colour=NEUTRAL_COLOUR, pm25_range=None, confidence=None,
                       unsure_reason=None, probabilities=None, **common)
    best = CLASSES[verdict_class(facts.probabilities, facts.by_median)]
    reason = unsure_reason(facts)
    shares = frozen({name: round(float(p), 4) for name, p in zip(LABELS, facts.probabilities, strict=True)})
    confidence = None if facts.confidence is None else round(facts.confidence, 4)
    if reason is None:
        return Verdict(label=best.name, unsure=False, headline=best.headline, advice=best.advice,
                       plan=frozen(best.plan), colour=best.colour, pm25_range=best.band, confidence=confidence,
                       unsure_reason=None, probabilities=shares, **common)
    return Verdict(label=best.name, unsure=True, headline=UNSURE_HEADLINE, advice=_unsure_advice(best, facts),
                   plan=frozen(UNSURE_PLAN), colour=NEUTRAL_COLOUR, pm25_range=best.band, confidence=confidence,
                   unsure_reason=reason, probabilities=shares, **common)


def unsure_reason(facts: Facts) -> str | None:
    """Why the verdict is only a leaning, in one sentence; None for a sure verdict."""
    if facts.unreliable:
        return facts.unreliable
    if facts.confidence is None or facts.confidence >= facts.unsure_below:
        return None
    if not facts.measured:
        return f"Its confidence ({percent(facts.confidence)}) is under the unsure line ({percent(facts.unsure_below)})."
    where = WHERE_MEASURED.get(facts.basis or PRIOR, "")
    if facts.unsure_below > 1:  # no confidence was ever enough there
        return (f"Verdicts like this were right {percent(facts.confidence)} of the time {where}: Airken never "
                "calls one sure without the place and hour.")
    return (f"Verdicts this sure were right {percent(facts.confidence)} of the time {where}; Airken calls a "
            f"verdict from {percent(facts.unsure_below)}.")


def _unsure_advice(best: AirClass, facts: Facts) -> str:
    text = f"It leans to {best.word} ({best.band}). {UNSURE_ADVICE}"
    return f"{text} {ASK_FOR_PLACE}" if facts.where is None else text


# ---------------------------------------------------------------- the witnesses


def witnesses(facts: Facts) -> list[Witness]:
    """What each witness said, level first, the photo last."""
    out = [_level_witness(facts)]
    if facts.basis != AIR_MODEL and facts.air_model and "error" not in facts.air_model:
        out.insert(0, _air_model_witness(facts))  # shown, though something else set the level
    if facts.probabilities is not None:
        out.append(_photo_witness(facts))
    return out


def _level_witness(facts: Facts) -> Witness:
    if facts.basis == PROFILE:
        p = facts.profile
        return Witness(PROFILE, f"Calibrated to your camera by the profile {p.name!r} "
                                f"({p.readings} readings of its view).")
    if facts.basis == AIR_MODEL:
        return _air_model_witness(facts)
    lead = ""
    if facts.air_model and "error" in facts.air_model:
        lead = f"{facts.air_model['error']} "
    elif facts.where is None:
        lead = "No place and hour known. "
    shares = ", ".join(f"{percent(s)} {c.word}" for s, c in zip(facts.prior or (), CLASSES, strict=False))
    return Witness(PRIOR, f"{lead}The photo is read on its own against a prior of {shares}.")


def _air_model_witness(facts: Facts) -> Witness:
    report, where = facts.air_model or {}, facts.where
    cls = class_by_name(report["label"])
    at = "where the photo was taken" if where and where.place_from == "photo" else f"for {_place(where)}"
    return Witness(AIR_MODEL, f"Air model {at} at {hour_words(report['time'])}: "
                              f"{float(report['pm25']):.0f} \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE} ({cls.word}).",
                   cls.name)


def _photo_witness(facts: Facts) -> Witness:
    best = CLASSES[verdict_class(facts.probabilities, facts.by_median)]
    if facts.basis == AIR_MODEL:
        silent = PHOTO_SILENT if facts.lean and facts.photo_weight <= 0 else ""
        label = best.name if facts.photo_label is None else CLASSES[facts.photo_label].name
        return Witness("photo", f"Your photo {PHOTO_LEANS[facts.lean]}{silent}.", label)
    if facts.basis == PROFILE:
        return Witness("photo", f"Your photo, read as this camera sees the air: {best.word}.", best.name)
    return Witness("photo", f"Your photo on its own leans to {best.word}.", best.name)


def _place(where: Where | None) -> str:
    if where is None or not where.name:
        return f"{where.lat:.1f}, {where.lon:.1f}" if where else "this place"
    return where.name


def hour_words(iso: str, now: datetime | None = None) -> str:
    """"14:00 today", "09:00 yesterday" or "14:00 on 1 May 2025", in the place's own time."""
    t = datetime.fromisoformat(iso)
    today = (now or datetime.now(t.tzinfo)).astimezone(t.tzinfo).date() if t.tzinfo else (now or datetime.now()).date()
    days = (t.date() - today).days
    day = {0: "today", -1: "yesterday", 1: "tomorrow"}.get(days, f"on {t.day} {t:%b %Y}")
    return f"{t:%H:%M} {day}"
