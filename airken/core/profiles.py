"""Per-place calibration: "calibrate to your camera".

A webcam owner, or anyone who photographs the same view, can give a handful of photos with
PM2.5 readings. The global model already ranks hazier days above clearer ones within one
scene; what it gets wrong on a new place is the level. A place profile fixes the level with
three numbers, one log-probability offset per class, fitted by penalised maximum likelihood
on those photos (every reading weighs the same, however many frames it has; a reading is one
hour, or one day when only the date is known: airken.datafolder):

    p(c | x, place)  proportional to  p_model(c | x) * exp(offset_c)

The offsets are fitted on the model's calibrated output before any class prior, so they
absorb the place's own class frequencies: a profile replaces the world prior. No
retraining, numpy only. Profiles are small JSON files under a user folder
(``AIRKEN_PROFILES_DIR``, default ``~/.config/airken/places``), written by
``python -m airken calibrate --name NAME DATA_FOLDER`` (airken.cli.calibrate_folder) and used by
``python -m airken predict --place NAME``, the API and the page.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from airken.core.calibration import log_probs, softmax
from airken.core.classes import LABELS

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
    readings: int  # readings (airken.datafolder.Reading) it was fitted on
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
                raise BadProfile("not an Airken place profile (format 1, classes " + ", ".join(LABELS) + ")")
            offsets = tuple(float(v) for v in d["offsets"])
            if len(offsets) != len(LABELS) or not all(math.isfinite(v) and abs(v) <= MAX_OFFSET for v in offsets):
                raise BadProfile(f"a profile holds {len(LABELS)} finite offsets within +-{MAX_OFFSET:g}")
            return cls(check_name(str(d["name"])), offsets, int(d["readings"]), int(d["photos"]),
                       d.get("model_sha256"), d.get("created"))
        except BadProfile:
            raise
        except (ValueError, TypeError, KeyError) as err:
            raise BadProfile(f"not a readable place profile ({type(err).__name__})") from None


def shift(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The probabilities with ``offsets`` added to their logs, renormalised."""
    return softmax(log_probs(probs) + offsets)


def fit_offsets(probs: np.ndarray, labels: np.ndarray, readings: np.ndarray,
                strength: float = STRENGTH, iterations: int = 50) -> np.ndarray:
    """Offsets maximising sum_i w_i log shift(p_i)[y_i] - strength/2 |offsets|^2, where every
    reading (``readings`` id) weighs 1 in all. Newton's method: the problem is concave
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
        raise BadProfile("no usable photo to calibrate on")
    offsets = fit_offsets(probs, labels, readings, strength)
    return PlaceProfile(check_name(name), tuple(round(float(v), 6) for v in offsets), len(set(readings)),
                        len(probs), model_sha256, datetime.now(timezone.utc).isoformat(timespec="seconds"))


def check_name(name: str) -> str:
    """A profile name is a plain file name: letters, digits, '_', '-', '.', at most 64."""
    if not _NAME.fullmatch(name or "") or ".." in name:
        raise BadProfile(f"a place name is 1-64 letters, digits, '_', '-' or '.', starting with a letter "
                         f"or digit; {name!r} is not")
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
            raise BadProfile("a place profile is a small JSON file; this one is too large")
        return PlaceProfile.from_json(text)
    return load_profile(text)


def read_profile_file(path: str | os.PathLike) -> PlaceProfile:
    """A profile file a visitor uploaded (the caller has checked it is an upload)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
    except OSError:
        raise BadProfile("the place profile file cannot be read") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise BadProfile("a place profile is a small JSON file; this one is too large")
    return PlaceProfile.from_json(data.decode("utf-8", "replace"))


def load_profile(name: str, folder: Path | None = None) -> PlaceProfile:
    """The saved profile called ``name``; BadProfile when there is none or it is damaged."""
    path = (folder or profiles_dir()) / f"{check_name(name)}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadProfile(f"no place profile called {name!r}: make one with "
                         f"python -m airken calibrate --name {name} DATA_FOLDER") from None
    except (OSError, UnicodeDecodeError):
        raise BadProfile(f"the place profile {name!r} cannot be read") from None
    return PlaceProfile.from_json(text)
