"""One predict function behind every entry point (UI, API, CLI).

bytes/path -> checked image (intake) -> scene checks -> model input -> probabilities ->
Prediction. Bad files raise airken.core.intake.ImageRejected with a message for a person.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np

from airken import settings
from airken.core.calibration import Calibration
from airken.core.classes import CLASSES, LABELS, UNSURE_WARNING
from airken.core.fusion import Fusion
from airken.core.intake import IntakeLimits, Photo, read_photo
from airken.core.model import ModelUnreadable, TFLiteModel
from airken.core.preprocess import to_model_input
from airken.core.prior import UNIFORM, WORLD_PRIOR, PriorLike, apply_prior, parse_prior
from airken.core.profiles import PlaceProfile, resolve_place
from airken.core.scene import check_scene
from airken.core.weights import ModelSource, cannot_run, resolve_model

log = logging.getLogger(__name__)

REFUSED_HEADLINE = "Can't read the air from this photo"
BETTER_PHOTO = "Take a daytime photo with plenty of open sky in it, and try again."
PROFILE_OTHER_MODEL = ("The place profile {name!r} was fitted on another model file: calibrate it again "
                       "(python -m airken calibrate) for a reliable reading.")

ImageSource = bytes | str | os.PathLike | BinaryIO | Photo  # a Photo: already read (airken.airmodel.report)


@dataclass
class Prediction:
    label: str | None
    probabilities: dict[str, float] | None
    pm25_range: str | None
    colour: str | None
    headline: str
    advice: str
    plan: dict[str, str]
    warnings: list[str]
    model: dict
    confidence: float | None = None  # calibrated probability of the label; None when refused
    uncertain: bool = False  # confidence under the model's unsure threshold, or a photo that cannot back one
    prior: dict[str, float] | None = None  # the class prior the probabilities were corrected to
    place: str | None = None  # the place profile (airken.core.profiles) the probabilities were calibrated with
    air: dict | None = None  # modelled PM2.5 for the photo's place and hour (airken.airmodel.report), or {"error"}
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The decoded photo (upright image, EXIF time and place), for the page's pictures and the
    # air-quality lookup: never serialised.
    photo: Photo | None = field(default=None, repr=False, compare=False)

    @property
    def refused(self) -> bool:
        return self.label is None

    def to_dict(self) -> dict:
        """The one serialisation of a Prediction: the API returns it, the CLI prints it with the path."""
        return {name: _plain(getattr(self, name)) for name in self.serialised_fields()}

    @classmethod
    def serialised_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in _UNSERIALISED]


_UNSERIALISED = {"photo"}  # in-memory only: the decoded image is no business of a JSON reader


def _plain(value):
    """A JSON-able copy of a field value (dicts and lists copied, so callers cannot mutate ours)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class Predictor:
    def __init__(self, model: TFLiteModel, source: ModelSource, limits: IntakeLimits | None = None,
                 metrics: dict | None = None):
        """``metrics``: the model's metrics.json (fusion, calibration, class prior); default the
        one beside the file or bundled for it. Training passes its own before bundling."""
        self.model = model
        self.source = source
        self.limits = limits or IntakeLimits.from_env()
        self.metrics = read_metrics(source) if metrics is None else metrics
        self.calibration = Calibration.from_metrics(self.metrics)
        self.fusion = _fusion(self.metrics)
        self.train_prior, self.default_prior = _priors(self.metrics)
        if model.n_classes != len(LABELS):
            raise RuntimeError(f"{source.path} has {model.n_classes} outputs, expected {len(LABELS)}: {LABELS}")

    @classmethod
    def load(cls, instances: int | None = None) -> Predictor:
        """The model resolve_model picks; a Hub file that LiteRT cannot run gives way to the
        bundled copy (as any other Hub failure does), a local or bundled one is an error."""
        instances = instances or settings.current().concurrency
        source = resolve_model()
        try:
            return cls(TFLiteModel(source.path, instances=instances), source)
        except ModelUnreadable as err:
            if source.source != "hub":
                raise cannot_run(source, str(err)) from None
            log.warning("%s; falling back", cannot_run(source, str(err)))
        source = resolve_model(hub=False)
        try:
            return cls(TFLiteModel(source.path, instances=instances), source)
        except ModelUnreadable as err:
            raise cannot_run(source, str(err)) from None

    def predict(self, image: ImageSource, *, prior: PriorLike = None,
                place: str | PlaceProfile | None = None) -> Prediction:
        """Read one photo. ``prior``: the class prior of the place and hour (see airken.core.prior);
        None uses the default (AIRKEN_PRIOR, else the model's world prior). ``place``: a place
        profile, or the name of a saved one (airken.core.profiles; default AIRKEN_PLACE), which
        calibrates the output to that camera and then stands in for the prior (a profile's
        JSON text works too). A bad prior or an unknown profile raises (BadPrior, BadProfile)
        before the photo is read."""
        profile = self._profile(place)
        shares = None if profile else self.default_prior if prior is None else parse_prior(prior)
        t0 = time.perf_counter()
        photo = image if isinstance(image, Photo) else read_photo(image, self.limits)
        t1 = time.perf_counter()
        scene = check_scene(photo.image)
        t2 = time.perf_counter()
        if scene.refused:
            timings = _timings(t0, t1, t2, t2)
            result = self._refusal(scene.reason or "The photo cannot be read.", list(scene.warnings), timings)
        else:
            x = to_model_input(photo.image, self.model.input_size)
            probs = self.model.predict_proba(x)
            if self.fusion is not None:
                probs = self.fusion.apply(probs, x)
            t3 = time.perf_counter()
            result = self._verdict(probs, shares, list(scene.warnings), _timings(t0, t1, t2, t3), scene.unreliable,
                                   profile)
        result.photo = photo
        return result

    def _profile(self, place: str | PlaceProfile | None) -> PlaceProfile | None:
        return resolve_place(settings.current().place if place is None else place)

    def _verdict(self, probs: np.ndarray, prior: tuple[float, ...] | None, warnings: list[str],
                 timings: dict, unreliable: bool = False, profile: PlaceProfile | None = None) -> Prediction:
        """``unreliable``: the scene checks say the photo cannot back a verdict (it is then
        shown as unsure whatever the confidence; the checks' warning says why)."""
        probs = self.calibration.apply(probs)
        if profile is not None:
            probs = profile.apply(probs)
            if profile.model_sha256 not in (None, self.source.sha256):
                warnings = [*warnings, PROFILE_OTHER_MODEL.format(name=profile.name)]
        else:
            probs = apply_prior(probs, prior, self.train_prior)
        best = CLASSES[int(np.argmax(probs))]
        confidence = float(probs.max())
        unsure = confidence < self.calibration.uncertain_below
        if unsure:
            warnings = [*warnings, UNSURE_WARNING]
        uncertain = unsure or unreliable
        return Prediction(
            label=best.name,
            probabilities={name: round(float(p), 4) for name, p in zip(LABELS, probs, strict=True)},
            pm25_range=best.band,
            colour=best.colour,
            headline=best.headline,
            advice=best.advice,
            plan=dict(best.plan),
            warnings=warnings,
            model=self.source.to_dict(),
            confidence=round(confidence, 4),
            uncertain=uncertain,
            prior=None if prior is None else dict(zip(LABELS, prior, strict=True)),
            place=None if profile is None else profile.name,
            timings_ms=timings,
        )

    def _refusal(self, reason: str, warnings: list[str], timings: dict) -> Prediction:
        return Prediction(
            label=None,
            probabilities=None,
            pm25_range=None,
            colour=None,
            headline=REFUSED_HEADLINE,
            advice=f"{reason} {BETTER_PHOTO}",
            plan={},
            warnings=warnings,
            model=self.source.to_dict(),
            timings_ms=timings,
        )

    def about(self) -> dict:
        """Where the model came from and what was measured on it (its metrics.json)."""
        return {"model": self.source.to_dict(), "metrics": self.metrics}


def _fusion(metrics: dict) -> Fusion | None:
    try:
        return Fusion.from_metrics(metrics)
    except (KeyError, TypeError, ValueError) as err:
        log.warning("ignoring malformed fusion block in metrics.json (%s): the network answers alone", err)
        return None


def _priors(metrics: dict) -> tuple[tuple[float, ...], tuple[float, ...] | None]:
    """(the training prior the model's output assumes, the default prior to correct it to):
    metrics.json "class_prior" where the model has one; AIRKEN_PRIOR overrides the default."""
    block = metrics.get("class_prior") or {}
    try:
        train = parse_prior(block.get("train") or UNIFORM)
        default = parse_prior(block.get("world") or WORLD_PRIOR)
    except ValueError as err:
        log.warning("ignoring malformed class_prior in metrics.json (%s)", err)
        train, default = UNIFORM, WORLD_PRIOR
    env = settings.current().prior
    if env:
        try:
            default = parse_prior(env)
        except ValueError as err:
            log.warning("ignoring AIRKEN_PRIOR=%r: %s", env, err)
    return train or UNIFORM, default


def read_metrics(source: ModelSource) -> dict:
    """metrics.json beside the model file, or the bundled one when it describes this file."""
    candidates = [source.path.parent / "metrics.json", Path(__file__).resolve().parents[1] / "models" / "metrics.json"]
    for path in candidates:
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if metrics.get("model_sha256") in (None, source.sha256):
            return metrics
    return {}


def _timings(t0: float, t1: float, t2: float, t3: float) -> dict[str, float]:
    def ms(a: float, b: float) -> float:
        return round((b - a) * 1000, 2)

    return {"decode": ms(t0, t1), "checks": ms(t1, t2), "model": ms(t2, t3), "total": ms(t0, t3)}


_predictor: Predictor | None = None
_lock = threading.Lock()


def get_predictor(instances: int | None = None) -> Predictor:
    """The process-wide predictor, loaded on first use with `instances` interpreters (calls
    served at once; default AIRKEN_CONCURRENCY or 2)."""
    global _predictor
    with _lock:
        if _predictor is None:
            _predictor = Predictor.load(instances)
        return _predictor


def predict(image: ImageSource, **options) -> Prediction:
    """Read one photo with the process-wide predictor (options: see Predictor.predict)."""
    return get_predictor().predict(image, **options)
