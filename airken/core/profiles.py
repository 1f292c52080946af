"""Calibration profiles: "calibrate to your camera".

A webcam, or anyone who photographs the same view, can teach Airken how haze looks in that
view: a profile is the view's calibration (airken.core.view: an ordinal map from the photo's
haze score and within-view haze features to the classes), fitted on the view's own photos
labelled by a station nearby or by the air model's archive for each photo's place and hour
(`airken calibrate`, airken.calibrate). The photo then counts as evidence relative to the
view's own average frame, combined with the air model of the hour when there is one
(airken.core.predictor); without one, the profile's own reading is the verdict. No retraining;
numpy only. Profiles are small JSON files under ``AIRKEN_PROFILES_DIR`` (default
``~/.config/airken/profiles``), used by ``airken predict --profile NAME``, the API and the page.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from airken.core.classes import LABELS
from airken.core.view import ViewCalibration

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FORMAT = 2
MAX_PROFILE_BYTES = 64 * 1024  # a profile is a couple of kilobytes
NOT_A_PROFILE = "This file is not an Airken calibration profile: make one with `airken calibrate` on your computer."
OLDER = "This calibration profile was made by an older Airken: make it again with `airken calibrate`."


class BadProfile(ValueError):
    """A profile name or file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Profile:
    name: str
    view: ViewCalibration
    readings: int  # readings (airken.datafolder.Reading) it was fitted on
    photos: int
    label_source: str  # "station" (labels.csv readings) or "air_model" (the archive)
    classes: tuple[int, ...] = (0, 0, 0)  # readings per class, healthy to unhealthy
    scores: Mapping[str, Any] = field(default_factory=dict)  # on its own photos: before, after
    model_sha256: str | None = None  # the model whose output it was fitted on
    created: str | None = None

    def shares(self, probs: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """The view's class shares for a photo (probs: the photo model's, feats: view features)."""
        return self.view.shares(probs, feats)

    @property
    def base(self) -> tuple[float, ...]:
        """The view's mean shares over its own photos: its evidence is relative to these."""
        return self.view.base

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "labels": list(LABELS), "name": self.name, "view": self.view.to_dict(),
                           "readings": self.readings, "photos": self.photos, "label_source": self.label_source,
                           "classes": list(self.classes), "scores": dict(self.scores),
                           "model_sha256": self.model_sha256, "created": self.created}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Profile:
        try:
            d = json.loads(text)
        except ValueError:
            raise BadProfile(NOT_A_PROFILE) from None
        if not isinstance(d, dict) or d.get("labels") != list(LABELS) or "format" not in d:
            raise BadProfile(NOT_A_PROFILE)
        if d["format"] != FORMAT:
            raise BadProfile(OLDER)
        try:
            return cls(check_name(str(d["name"])), ViewCalibration.from_dict(d["view"]), int(d["readings"]),
                       int(d["photos"]), str(d["label_source"]), tuple(int(c) for c in d.get("classes", (0, 0, 0))),
                       dict(d.get("scores") or {}), d.get("model_sha256"), d.get("created"))
        except BadProfile:
            raise
        except (ValueError, TypeError, KeyError, AttributeError):
            raise BadProfile("This calibration profile is damaged: make it again with `airken calibrate`.") from None


def check_name(name: str) -> str:
    """A profile name is a plain file name: letters, digits, '_', '-', '.', at most 64."""
    if not _NAME.fullmatch(name or "") or ".." in name:
        raise BadProfile(f"A profile name is 1-64 letters, digits, '_', '-' or '.', starting with a letter "
                         f"or digit; {name!r} is not.")
    return name


def profiles_dir() -> Path:
    """AIRKEN_PROFILES_DIR, else airken/profiles under the user's config folder (XDG)."""
    from airken import settings

    configured = settings.current().profiles_dir
    if configured:
        return configured
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "airken" / "profiles"


def save_profile(profile: Profile, folder: Path | None = None) -> Path:
    folder = folder or profiles_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{profile.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(profile.to_json(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def resolve_profile(value: str | Profile | None) -> Profile | None:
    """A profile as the API and the CLI give it: nothing, its JSON text, or the name of one
    saved on this machine."""
    if value is None or isinstance(value, Profile):
        return value
    text = value.strip()
    if not text:
        return None
    if text.startswith("{"):
        if len(text) > MAX_PROFILE_BYTES:
            raise BadProfile(f"{NOT_A_PROFILE} (It is far too large to be one.)")
        return Profile.from_json(text)
    return load_profile(text)


def read_profile_file(path: str | os.PathLike) -> Profile:
    """A profile file a visitor uploaded (the caller has checked it is an upload)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PROFILE_BYTES + 1)
    except OSError:
        raise BadProfile("The calibration profile file cannot be read: load it again.") from None
    if len(data) > MAX_PROFILE_BYTES:
        raise BadProfile(f"{NOT_A_PROFILE} (It is far too large to be one.)")
    return Profile.from_json(data.decode("utf-8", "replace"))


def load_profile(name: str, folder: Path | None = None) -> Profile:
    """The saved profile called ``name``; BadProfile when there is none or it is damaged."""
    path = (folder or profiles_dir()) / f"{check_name(name)}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadProfile(f"No calibration profile called {name!r}: make one with "
                         f"airken calibrate --name {name} FOLDER.") from None
    except (OSError, UnicodeDecodeError):
        raise BadProfile(f"The calibration profile {name!r} cannot be read.") from None
    return Profile.from_json(text)
