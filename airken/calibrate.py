"""`airken calibrate`: a camera's calibration profile from a folder of its photos.

The labels come from a station nearby (FOLDER is a data folder: photos in images/ and their
readings in labels.csv, airken.datafolder) or, with --from-air, from the air model's archive
for every photo's EXIF place and hour (FOLDER is any folder of photos; --lat/--lon give the
place of photos without GPS). Every photo is read by the app's own photo model; the view's
calibration (airken.core.view) is fitted on them and said in words: what it does, how it reads
its own photos before and after, and when it rests on too little.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from airken import datafolder
from airken.airmodel.archive import NO_GPS, JsonAnswers, modelled_hour, photos_in
from airken.airmodel.openmeteo import AirSettings, OpenMeteo
from airken.core.classes import CLASSES, LABELS, class_for_pm25
from airken.core.intake import ImageRejected, read_photo
from airken.core.ordinal import IDENTITY, OrdinalMap
from airken.core.predictor import Predictor
from airken.core.prior import WORLD_PRIOR
from airken.core.profiles import BadProfile, Profile, check_name
from airken.core.view import STRENGTH, fit_view, reading_weights
from airken.core.witnesses import combine, verdict_class
from airken.core.words import percent

ANSWERS = "air-model-answers.json"  # the archive's answers, kept beside the photos for a second run
FEW_READINGS = 10


@dataclass
class Labelled:
    """Photos with a label each: the photo model's shares, view features, class and reading."""

    probs: list[np.ndarray] = field(default_factory=list)
    feats: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    readings: list[tuple] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, predictor: Predictor, path: Path, label: int, reading: tuple) -> None:
        try:
            found = predictor.view_inputs(path)
        except ImageRejected as err:
            self.skipped.append((path.name, err.reason))
            return
        if isinstance(found, str):
            self.skipped.append((path.name, found))
            return
        self.probs.append(found[0])
        self.feats.append(found[1])
        self.labels.append(label)
        self.readings.append(reading)


@dataclass(frozen=True)
class Calibrated:
    profile: Profile
    skipped: list[tuple[str, str]]
    warnings: list[str]


def from_readings(predictor: Predictor, folder: str | os.PathLike, name: str) -> Calibrated:
    """A profile from a data folder whose labels.csv holds a station's readings."""
    check_name(name)
    found = datafolder.read(folder)
    out = Labelled(skipped=[(p.file, f"line {p.line}: {p.reason}") for p in found.problems])
    if found.unlabelled:
        out.skipped.append((f"{found.unlabelled} rows", "no pm25 or label"))
    for row in found.rows:
        out.add(predictor, row.path, row.label, tuple(row.reading))
    return _fit(predictor, name, out, "station", noise=0.0)


def from_air_model(predictor: Predictor, folder: str | os.PathLike, name: str, lat: float | None = None,
                   lon: float | None = None, settings: AirSettings | None = None) -> Calibrated:
    """A profile from a folder of photos labelled by the air model's archive for each photo's
    place and hour; the archive's answers are kept in FOLDER/air-model-answers.json."""
    check_name(name)
    root = Path(folder)
    if not root.is_dir():
        raise BadProfile(f"{root} is not a folder of photos.")
    client = OpenMeteo(settings or AirSettings.from_env(), answers=JsonAnswers(root / ANSWERS))
    out = Labelled()
    for path in photos_in(root):
        try:
            hit, why = modelled_hour(read_photo(path, predictor.limits), client, lat, lon)
        except ImageRejected as err:
            hit, why = None, err.reason  # a file in a folder, not an upload
        why = f"{why} (give the place with --lat and --lon)" if why == NO_GPS else why
        if hit is None:
            out.skipped.append((path.name, why or "no label"))
            continue
        out.add(predictor, path, class_for_pm25(hit.pm25).index, (hit.lat, hit.lon, hit.hour.isoformat()))
    return _fit(predictor, name, out, "air_model", noise=predictor.rule.air_model_noise_sd)


def _fit(predictor: Predictor, name: str, found: Labelled, source: str, noise: float) -> Calibrated:
    if not found.labels:
        raise BadProfile("No usable photo to calibrate on: " + "; ".join(
            f"{f}: {why}" for f, why in found.skipped[:5]) if found.skipped else "No photo to calibrate on.")
    probs, feats = np.array(found.probs), np.array(found.feats)
    labels = np.array(found.labels, dtype=np.int64)
    readings = np.array(datafolder.reading_ids(found.readings))
    anchor = OrdinalMap.from_dict(predictor.rule.ordinal_anchor) if predictor.rule.ordinal_anchor else IDENTITY
    view = fit_view(probs, feats, np.eye(len(LABELS))[labels], readings, anchor, STRENGTH, noise)
    classes = tuple(len(set(readings[labels == c])) for c in range(len(LABELS)))
    scores = _scores(probs, view.shares(probs, feats), labels, readings, predictor)
    profile = Profile(name, view, len(set(readings)), len(labels), source, classes, scores, predictor.source.sha256,
                      datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return Calibrated(profile, found.skipped, _warnings(profile))


def _scores(probs: np.ndarray, view: np.ndarray, labels: np.ndarray, readings: np.ndarray,
            predictor: Predictor) -> dict[str, float]:
    """How often its own photos get their label's band, averaged over the bands (every reading
    weighs one): read as a photo of a new place (before) and through the profile (after)."""
    before = combine(np.asarray(WORLD_PRIOR), probs, predictor.train_prior, predictor.rule.weight("prior"))
    w = reading_weights(readings)

    def balanced(shares: np.ndarray) -> float:
        right = verdict_class(shares, by_median=False) == labels  # no place: the most likely band
        present = [c for c in range(len(LABELS)) if (labels == c).any()]
        return float(np.mean([(w * right)[labels == c].sum() / w[labels == c].sum() for c in present]))

    return {"before": round(balanced(before), 4), "after": round(balanced(view), 4)}


def _warnings(p: Profile) -> list[str]:
    out = []
    if p.readings < FEW_READINGS:
        out.append(f"It rests on only {p.readings} readings: it stays close to how Airken reads photos of places "
                   "it never saw. Photos of more days make it stronger.")
    present = [c.word for c, n in zip(CLASSES, p.classes, strict=True) if n]
    if len(present) == 1:
        out.append(f"Every reading is {present[0]}: it learns how this view looks on such days, not where the "
                   "other bands begin. Add photos of hazier or cleaner days.")
    if p.label_source == "air_model":
        out.append("Its labels are the air model's: it learns how haze shows in this view, not where the air "
                   "model is off at your place (a station's readings would).")
    return out


def describe(cal: Calibrated) -> list[str]:
    """The profile in words, for the command line."""
    p = cal.profile
    counts = ", ".join(f"{n} {c.word}" for c, n in zip(CLASSES, p.classes, strict=True) if n)
    source = "a station's readings" if p.label_source == "station" else "the air model's archive (Open-Meteo, CAMS)"
    agree = "got their band" if p.label_source == "station" else "agreed with the archive's band"
    return [f"Calibration profile {p.name!r}: {p.photos} photos, {p.readings} readings ({counts}), "
            f"labelled by {source}.",
            "What it does: it learns how haze shows in this view (the photo model's haze score and the "
            "contrast, dark channel and colour of its frames) and reads each new photo against the view's "
            "usual frame; with a place and hour, the air model still sets the level.",
            f"On its own photos (averaged over the bands): {percent(p.scores['before'])} {agree} as photos of a "
            f"new place, {percent(p.scores['after'])} through the profile (measured on the photos it was "
            "fitted on, so new photos will do a little worse).", *(f"Note: {w}" for w in cal.warnings)]
