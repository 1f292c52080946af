"""The one predict path behind every entry point (page, batch tab, API, CLI, library).

bytes -> checked photo (intake, decoded once) -> the place and hour (the photo's EXIF first,
else what the caller gives) -> the air model's report -> scene checks -> the photo model ->
the witnesses combined (airken.core.witnesses) -> confidence and the unsure rule
(airken.core.rule) -> an immutable Verdict with its words (airken.core.words).

Bad files raise airken.core.intake.ImageRejected, a bad setting BadPrior, BadProfile or
AirError (a latitude out of range, a time that is not ISO 8601), each with a message for a
person, before anything is decoded where it can be.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any, BinaryIO

import numpy as np

from airken import settings
from airken.airmodel.openmeteo import OFF, round_place
from airken.airmodel.report import air_block, parse_time
from airken.core import words
from airken.core.calibration import Calibration
from airken.core.classes import LABELS
from airken.core.fusion import Fusion
from airken.core.haze_features import colour_features, view_features
from airken.core.intake import IntakeLimits, Photo, read_photo
from airken.core.model import ModelUnreadable, TFLiteModel
from airken.core.preprocess import to_model_input
from airken.core.prior import UNIFORM, WORLD_PRIOR, PriorLike, parse_prior
from airken.core.profiles import Profile, resolve_profile
from airken.core.rule import AIR_MODEL, PRIOR, PROFILE, VerdictRule
from airken.core.scene import UNRELIABLE_WARNINGS, check_scene
from airken.core.verdict import Verdict, Where
from airken.core.weights import ModelSource, cannot_run, resolve_model
from airken.core.witnesses import air_model_shares, combine, lean, verdict_class

log = logging.getLogger(__name__)

PROFILE_OTHER_MODEL = ("The calibration profile {name!r} was fitted on another model file: calibrate it again "
                       "(airken calibrate) for a reliable reading.")
ImageSource = bytes | str | os.PathLike | BinaryIO
Lookup = Callable[[float, float, datetime | None], dict]  # (lat, lon, hour) -> air_block's JSON


class Predictor:
    def __init__(self, model: TFLiteModel, source: ModelSource, limits: IntakeLimits | None = None,
                 metrics: dict | None = None, lookup: Lookup | None = None):
        """``metrics``: the model's metrics.json (fusion, calibration, class prior, verdict
        rule); default the one beside the file or bundled for it. ``lookup``: the air model
        (default: Open-Meteo through airken.airmodel.report.air_block)."""
        self.model = model
        self.source = source
        self.limits = limits or IntakeLimits.from_env()
        self.metrics = read_metrics(source) if metrics is None else metrics
        self.calibration = Calibration.from_metrics(self.metrics)
        self.fusion = _fusion(self.metrics)
        self.rule = VerdictRule.from_metrics(self.metrics)
        self.train_prior, self.default_prior = _priors(self.metrics)
        self.lookup = lookup or (lambda lat, lon, hour: air_block(lat, lon, hour))
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

    def predict(self, image: ImageSource, *, latitude: float | str | None = None, longitude: float | str | None = None,
                place_name: str | None = None, time: str | datetime | None = None, prior: PriorLike = None,
                profile: str | Profile | None = None) -> Verdict:
        """Read one photo with everything known about it.

        ``latitude``/``longitude`` (``place_name`` names them on the card) and ``time`` (ISO
        8601) say where and when it was taken, for a photo whose EXIF does not. ``prior``: a
        class prior to use instead of the air model ("world", "uniform", "train" for none, or
        three shares); ``profile``: a camera's calibration profile, or the name of a saved one
        (default AIRKEN_PROFILE)."""
        found = self._profile(profile)
        explicit = prior is not None
        shares = parse_prior(prior) if explicit else None
        given = _given(latitude, longitude, place_name, time)
        clock = [perf_counter()]
        photo = read_photo(image, self.limits)
        clock.append(perf_counter())
        where, air = self._air_model(photo, given)
        clock.append(perf_counter())
        scene = check_scene(photo.image)
        clock.append(perf_counter())
        evidence = None if scene.refused else self._photo_model(photo)
        clock.append(perf_counter())
        facts = self._facts(evidence, scene, where, air, explicit, shares, found)
        return words.verdict(facts, self.source.to_dict(), _timings(clock), photo)

    def _profile(self, profile: str | Profile | None) -> Profile | None:
        return resolve_profile(settings.current().profile if profile is None else profile)

    def _air_model(self, photo: Photo, given: dict | None) -> tuple[Where | None, dict | None]:
        """The place and hour of the photo (its EXIF first) and the air model's report for them."""
        where, hour = _where(photo, given)
        if where is None:
            return None, None
        if not settings.current().air:
            return where, {"error": OFF}
        report = self.lookup(where.lat, where.lon, hour)
        if "error" not in report:
            where = Where(where.lat, where.lon, where.name, where.place_from, report["time"], where.time_from)
        return where, report

    def _photo_model(self, photo: Photo) -> Evidence:
        """The photo's own class shares (network, fused with the haze model, tempered) and what
        a calibrated view needs besides them."""
        x = to_model_input(photo.image, self.model.input_size)
        probs, colour = self.model.predict_proba(x), None
        if self.fusion is not None:
            colour = colour_features(x)
            probs = self.fusion.apply_features(np.asarray(probs)[None], colour[None])[0]
        return Evidence(np.asarray(self.calibration.apply(probs), dtype=np.float64), x, colour)

    def view_inputs(self, image: ImageSource) -> tuple[np.ndarray, np.ndarray] | str:
        """(the photo's shares, its within-view features) for calibrating a view, or why the
        scene checks refuse it. ImageRejected for a file that is not a usable photo."""
        photo = read_photo(image, self.limits)
        scene = check_scene(photo.image)
        if scene.refused:
            return scene.reason or "refused"
        found = self._photo_model(photo)
        return found.probs, found.view_features()

    def _facts(self, evidence, scene, where, air, explicit: bool, shares, profile) -> words.Facts:
        warnings = tuple(scene.warnings)
        if profile is not None and profile.model_sha256 not in (None, self.source.sha256):
            warnings += (PROFILE_OTHER_MODEL.format(name=profile.name),)
        probs = None if evidence is None else evidence.probs
        basis, level, posterior = self._level(evidence, air, explicit, shares, profile)
        by_median = level is not None and basis in (AIR_MODEL, PROFILE)  # the air model's value set the level
        confidence = None if posterior is None else self.rule.confidence(basis, top_share(posterior, by_median))
        unreliable = next((w for w in scene.warnings if w in UNRELIABLE_WARNINGS), None)
        full = None if probs is None or level is None else combine(level, probs, self.train_prior)
        return words.Facts(
            probabilities=posterior, refusal=scene.reason, confidence=confidence,
            unsure_below=self.rule.line(basis), measured=basis in self.rule.reliability, unreliable=unreliable,
            basis=basis,
            lean=0 if full is None else lean(level, full), where=where, air_model=air,
            prior=None if basis != PRIOR else level_tuple(level), profile=profile, warnings=warnings,
            photo_weight=self.rule.weight(basis), photo_label=None if full is None else verdict_class(full),
            by_median=by_median)

    def _level(self, evidence, air, explicit: bool, shares, profile):
        """(what set the level, its class shares, the combined shares) of one photo."""
        modelled = air is not None and "error" not in air and settings.current().air_prior and not explicit
        level = air_model_shares(float(air["pm25"]), self.air_model_sigma()) if modelled else None
        probs = None if evidence is None else evidence.probs
        if profile is not None:
            return PROFILE, level, None if evidence is None else profile_posterior(profile, evidence, level)
        if modelled:
            basis = AIR_MODEL
        elif explicit and shares is None:  # prior "train": the photo model's own output, no correction
            return PRIOR, None, probs
        else:
            basis, level = PRIOR, np.asarray(shares or self.default_prior, dtype=np.float64)
        weight = self.rule.weight(basis)
        return basis, level, None if probs is None else combine(level, probs, self.train_prior, weight)

    def air_model_sigma(self) -> float:
        return settings.current().air_prior_sigma or self.rule.air_model_sigma

    def about(self) -> dict:
        """Where the model came from and what was measured on it (its metrics.json)."""
        return {"model": self.source.to_dict(), "metrics": self.metrics}


@dataclass(frozen=True)
class Evidence:
    """What the photo model read: its tempered class shares, and the model input and colour
    features they came from (a calibrated view reads more of them)."""

    probs: np.ndarray
    x: np.ndarray
    colour: np.ndarray | None

    def view_features(self) -> np.ndarray:
        return view_features(self.x, self.colour)


def profile_posterior(profile: Profile, evidence: Evidence, level: np.ndarray | None) -> np.ndarray:
    """A calibrated view's shares; with the air model of the hour as the level when there is one,
    the view's evidence relative to its own average frame."""
    view = profile.shares(evidence.probs, evidence.view_features())
    return view if level is None else combine(level, view, profile.base, 1.0)


def top_share(shares: np.ndarray, by_median: bool) -> float:
    """The share of the class the verdict names (airken.core.witnesses.verdict_class)."""
    return float(shares[verdict_class(shares, by_median)])


def level_tuple(level: np.ndarray | None) -> tuple[float, ...] | None:
    return None if level is None else tuple(round(float(s), 4) for s in level)


def _given(latitude, longitude, name: str | None, when) -> dict | None:
    """The caller's place and hour, checked before the photo is read (AirError says what is wrong)."""
    at = parse_time(when)
    if latitude is None and longitude is None or latitude == "" and longitude == "":
        return {"time": at} if at else None
    lat, lon = round_place(latitude, longitude)
    return {"lat": lat, "lon": lon, "name": (name or "").strip() or None, "time": at}


def _where(photo: Photo, given: dict | None) -> tuple[Where | None, datetime | None]:
    """The photo's own EXIF place and time come first; the caller's fill what it lacks."""
    given = given or {}
    if photo.latitude is not None and photo.longitude is not None:
        lat, lon = round_place(photo.latitude, photo.longitude)
        name, place_from = None, "photo"
    elif "lat" in given:
        lat, lon, name, place_from = given["lat"], given["lon"], given["name"], "given"
    else:
        return None, None
    hour, time_from = photo.taken_at, "photo"
    if hour is None:
        hour, time_from = given.get("time"), "given"
    if hour is None:
        hour, time_from = datetime.now(timezone.utc), "now"
    return Where(lat, lon, name, place_from, hour.isoformat(timespec="minutes"), time_from), hour


def _fusion(metrics: dict) -> Fusion | None:
    try:
        return Fusion.from_metrics(metrics)
    except (KeyError, TypeError, ValueError) as err:
        log.warning("ignoring malformed fusion block in metrics.json (%s): the network answers alone", err)
        return None


def _priors(metrics: dict) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(the training prior the model's output assumes, the prior to use without a place):
    metrics.json "class_prior" where the model has one; AIRKEN_PRIOR overrides the second."""
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
            default = parse_prior(env) or default
        except ValueError as err:
            log.warning("ignoring AIRKEN_PRIOR=%r: %s", env, err)
    return train or UNIFORM, default or WORLD_PRIOR


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


def _timings(clock: list[float]) -> dict[str, float]:
    """Milliseconds per step: decode, air model, scene checks, photo model, and the total."""
    steps = ("decode", "air_model", "checks", "model")
    spans = {name: round((b - a) * 1000, 2) for name, a, b in zip(steps, clock, clock[1:], strict=False)}
    return {**spans, "total": round((clock[-1] - clock[0]) * 1000, 2)}


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


def predict(image: ImageSource, **options: Any) -> Verdict:
    """Read one photo with the process-wide predictor (options: see Predictor.predict)."""
    return get_predictor().predict(image, **options)
