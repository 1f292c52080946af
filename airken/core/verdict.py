"""The result of reading one photo: an immutable Verdict that carries its own words.

Every entry point (page, batch tab, API, CLI) shows a Verdict as it is: nothing downstream
decides the class again or rewrites a word, so the JSON says exactly what the page says.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from airken.core.intake import Photo


@dataclass(frozen=True)
class Witness:
    """What one witness said: the air model, a prior, a calibrated view or the photo."""

    name: str  # "air_model", "prior", "profile" or "photo"
    says: str  # one plain sentence
    label: str | None = None  # the class it points to, where it points to one


@dataclass(frozen=True)
class Where:
    """The place and hour a verdict was read for, and where each came from."""

    lat: float  # the 0.1 degree grid cell
    lon: float
    name: str | None  # a town the visitor typed, "your location", or None for coordinates
    place_from: str  # "photo" (its EXIF GPS) or "given" (the page, the API, the CLI)
    time: str | None = None  # ISO 8601, local time at the place
    time_from: str | None = None  # "photo", "given" or "now"


@dataclass(frozen=True)
class Verdict:
    label: str | None  # the class the verdict names or leans to; None when the photo was refused
    unsure: bool  # shown as "can't tell reliably": the label is only a leaning
    headline: str
    advice: str
    plan: Mapping[str, str]  # activity -> what to do; empty when refused
    colour: str  # of the card: the class's, or neutral when unsure or refused
    pm25_range: str | None
    confidence: float | None  # how often verdicts as sure as this were right (airken.core.rule)
    unsure_reason: str | None  # why it is unsure, in one sentence
    probabilities: Mapping[str, float] | None
    witnesses: tuple[Witness, ...]
    basis: str | None  # what set the level: "air_model", "prior" or "profile"
    where: Where | None
    air_model: Mapping[str, Any] | None  # the modelled PM2.5 report, {"error": why}, or None without a place
    prior: Mapping[str, float] | None  # the class prior the level came from, when not the air model
    profile: str | None  # the calibration profile of the camera, if one was used
    warnings: tuple[str, ...]
    model: Mapping[str, Any]
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    photo: Photo | None = field(default=None, repr=False, compare=False)  # the decoded photo: never serialised

    @property
    def refused(self) -> bool:
        return self.label is None

    def to_dict(self) -> dict[str, Any]:
        """The one serialisation: the API returns it, the CLI prints it with the path."""
        return {name: plain(getattr(self, name)) for name in self.serialised_fields()}

    @classmethod
    def serialised_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "photo"]


def frozen(value: Any) -> Any:
    """A read-only copy: mappings become MappingProxyType, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """A JSON-able copy of a field value."""
    if isinstance(value, (Witness, Where)):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
