"""Per-place calibration: "calibrate to your camera".

A webcam owner, or anyone who photographs the same view, can give a handful of photos with
PM2.5 readings. The global model already ranks hazier days above clearer ones within one
scene; what it gets wrong on a new place is the level. A place profile fixes the level with
three numbers, one log-probability offset per class, fitted by penalised maximum likelihood
on those photos (every hourly reading weighs the same, however many frames it has):

    p(c | x, place)  proportional to  p_model(c | x) * exp(offset_c)

The offsets are fitted on the model's calibrated output before any class prior, so they
absorb the place's own class frequencies: a profile replaces the world prior. No
retraining, numpy only. Profiles are small JSON files under a user folder
(``AIRKEN_PROFILES_DIR``, default ``~/.config/airken/places``), written by
``python -m airken calibrate --name NAME DATA_FOLDER`` and used by
``python -m airken predict --place NAME``, the API and the page.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from airken.core.calibration import log_probs, softmax
from airken.core.classes import LABELS, class_by_name, class_for_pm25

if TYPE_CHECKING:
    from airken.core.predictor import Predictor

STRENGTH = 0.1  # L2 pull of the offsets towards 0; the few-shot study in train/ reports its effect
MAX_OFFSET = 8.0  # log-probability offsets are clipped here: a profile cannot make a class impossible
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FORMAT = 1


class BadProfile(ValueError):
    """A profile name or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class PlaceProfile:
    name: str
    offsets: tuple[float, ...]  # added to the log-probabilities, one per class in LABELS order
    readings: int  # hourly readings it was fitted on
    photos: int
    model_sha256: str | None = None  # the model whose output it was fitted on
    created: str | None = None

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """One (K,) or a batch (N, K) of probabilities -> the place's probabilities."""
        return shift(probs, np.asarray(self.offsets, dtype=np.float64))

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self), "labels": list(LABELS)}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> PlaceProfile:
        try:
            d = json.loads(text)
            if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("labels") != list(LABELS):
                raise BadProfile("This file is not an Airken calibration profile: make one on your computer with "
                                 "the command airken calibrate, then load the .json file it writes.")
            offsets = tuple(float(v) for v in d["offsets"])
            if len(offsets) != len(LABELS) or not all(math.isfinite(v) and abs(v) <= MAX_OFFSET for v in offsets):
                raise BadProfile("This calibration profile is damaged (its numbers are missing or out of range): "
                                 "make it again with the command airken calibrate.")
            return cls(check_name(str(d["name"])), offsets, int(d["readings"]), int(d["photos"]),
                       d.get("model_sha256"), d.get("created"))
        except BadProfile:
            raise
        except (ValueError, TypeError, KeyError):
            raise BadProfile("This file cannot be read as an Airken calibration profile: make one on your computer "
                             "with the command airken calibrate, then load the .json file it writes.") from None


def shift(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The probabilities with ``offsets`` added to their logs, renormalised."""
    return softmax(log_probs(probs) + offsets)


def fit_offsets(probs: np.ndarray, labels: np.ndarray, readings: np.ndarray,
                strength: float = STRENGTH, iterations: int = 50) -> np.ndarray:
    """Offsets maximising sum_i w_i log shift(p_i)[y_i] - strength/2 |offsets|^2, where every
    hourly reading (``readings`` id) weighs 1 in all. Newton's method: the problem is concave
    and has three unknowns."""
    logp = log_probs(probs)
    labels, readings = np.asarray(labels, dtype=np.int64), np.asarray(readings)
    _, inverse, counts = np.unique(readings, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    onehot = np.eye(logp.shape[1])[labels]
    b = np.zeros(logp.shape[1])
    for _ in range(iterations):
        p = softmax(logp + b)
        grad = (w[:, None] * (onehot - p)).sum(axis=0) - strength * b
        hess = np.diag((w[:, None] * p).sum(axis=0)) - np.einsum("n,ni,nj->ij", w, p, p) + strength * np.eye(len(b))
        step = np.linalg.solve(hess, grad)
        b = b + step
        if np.abs(step).max() < 1e-8:
            break
    b = b - b.mean()  # only differences matter
    return np.clip(b, -MAX_OFFSET, MAX_OFFSET)


def fit_profile(name: str, probs: np.ndarray, labels: np.ndarray, readings: np.ndarray,
                model_sha256: str | None = None, strength: float = STRENGTH) -> PlaceProfile:
    if len(probs) == 0:
        raise BadProfile("None of these photos could be used to calibrate: each needs open sky in daylight "
                         "and a reading.")
    offsets = fit_offsets(probs, labels, readings, strength)
    return PlaceProfile(check_name(name), tuple(round(float(v), 6) for v in offsets), len(set(readings)),
                        len(probs), model_sha256, datetime.now(timezone.utc).isoformat(timespec="seconds"))


def check_name(name: str) -> str:
    """A profile name is a plain file name: letters, digits, '_', '-', '.', at most 64."""
    if not _NAME.fullmatch(name or "") or ".." in name:
        raise BadProfile(f"A profile name is 1-64 letters, digits, '_', '-' or '.', starting with a letter "
                         f"or digit; {name!r} is not one.")
    return name


def profiles_dir() -> Path:
    """AIRKEN_PROFILES_DIR, else airken/places under the user's config folder (XDG)."""
    from airken import settings
    configured = settings.current().profiles_dir
    if configured:
        return configured
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "airken" / "profiles"


def save_profile(profile: PlaceProfile, folder: Path | None = None) -> Path:
    folder = folder or profiles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{profile.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(profile.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    return path


MAX_PROFILE_BYTES = 64 * 1024  # a profile is a few hundred bytes


def resolve_place(value: str | PlaceProfile | None) -> PlaceProfile | None:
    """A place as the API and the CLI give it: nothing, a profile's JSON text, or the name of
    a profile saved on this machine."""
    if value is None or isinstance(value, PlaceProfile):
        return value
    text = value.strip()
    if not text:
        return None
    if text.startswith("{"):
        if len(text) > MAX_PROFILE_BYTES:
            raise BadProfile("This file is too large to be a calibration profile (those are small .json files).")
        return PlaceProfile.from_json(text)
    return load_profile(text)


def read_profile_file(path: str | os.PathLike) -> PlaceProfile:
    """A profile file a visitor uploaded (the caller has checked it is an upload)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
    except OSError:
        raise BadProfile("The calibration profile file cannot be read: choose the file again.") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise BadProfile("This file is too large to be a calibration profile (those are small .json files).")
    return PlaceProfile.from_json(data.decode("utf-8", "replace"))


def load_profile(name: str, folder: Path | None = None) -> PlaceProfile:
    """The saved profile called ``name``; BadProfile when there is none or it is damaged."""
    path = (folder or profiles_dir()) / f"{check_name(name)}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadProfile(f"There is no calibration profile called {name!r}: make one with the command "
                         f"airken calibrate --name {name} FOLDER") from None
    except (OSError, UnicodeDecodeError):
        raise BadProfile(f"The calibration profile {name!r} cannot be read: make it again with "
                         "airken calibrate.") from None
    return PlaceProfile.from_json(text)


# ------------------------------------------------------------------------------ from a folder


@dataclass
class Readings:
    """The labelled photos of a folder: path, class index and hourly reading of each, and
    the rows that could not be used (with why)."""

    paths: list[Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    readings: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_folder(folder: str | os.PathLike) -> Readings:
    """``folder/labels.csv`` (columns ``file`` and ``pm25`` or ``label``; ``timestamp_local``
    or ``date`` group frames of one hourly reading) and the photos in ``folder/images``, the
    layout train/ reads too. File names must stay inside images/."""
    root = Path(folder)
    table, images = root / "labels.csv", root / "images"
    if not table.is_file() or not images.is_dir():
        raise BadProfile(f"The folder {root} needs a labels.csv file and an images/ folder (see the README's "
                         "calibration section).")
    out = Readings()
    with open(table, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            name = (row.get("file") or "").strip()
            why = _row_problem(name, images)
            label = None if why else _label(row)
            if label is None:
                out.skipped.append((name, why or "no usable pm25 or label"))
                continue
            out.paths.append(images / name)
            out.labels.append(label)
            out.readings.append(_reading(row, name))
    return out


def _row_problem(name: str, images: Path) -> str | None:
    if not name or os.path.isabs(name) or ".." in Path(name).parts:
        return "file name missing or outside images/"
    return None if (images / name).is_file() else "no such image"


def _label(row: dict) -> int | None:
    pm25, label = (row.get("pm25") or "").strip(), (row.get("label") or "").strip().lower()
    try:
        return class_for_pm25(float(pm25)).index if pm25 else class_by_name(label).index if label else None
    except (ValueError, KeyError):
        return None


def _reading(row: dict, name: str) -> str:
    """Frames of one hour share a reading; without a time every photo is one."""
    stamp = (row.get("timestamp_local") or "").strip()
    return stamp[:13] if len(stamp) >= 13 else (row.get("date") or "").strip() + "|" + name


def calibrate_folder(predictor: Predictor, folder: str | os.PathLike, name: str,
                     strength: float = STRENGTH) -> tuple[PlaceProfile, list[tuple[str, str]]]:
    """Fit the place profile of ``name`` on a folder of labelled photos, read by
    ``predictor`` with no prior and no profile. Returns it and the photos left out (unreadable,
    refused by the scene checks, unlabelled) with the reason."""
    from airken.core.intake import ImageRejected

    found = read_folder(folder)
    probs, labels, readings, skipped = [], [], [], list(found.skipped)
    for path, label, reading in zip(found.paths, found.labels, found.readings, strict=True):
        try:
            pred = predictor.predict(path, prior="train", profile="")  # "": not even AIRKEN_PROFILE
        except ImageRejected as err:
            skipped.append((path.name, str(err)))
            continue
        if pred.probabilities is None:
            skipped.append((path.name, pred.advice))
            continue
        probs.append([pred.probabilities[c] for c in LABELS])
        labels.append(label)
        readings.append(reading)
    profile = fit_profile(name, np.array(probs).reshape(-1, len(LABELS)), np.array(labels, dtype=np.int64),
                          np.array(readings), predictor.source.sha256, strength)
    return profile, skipped
