"""The held-out frames of a leave-one-place-out run, as the study needs them: every frame's
photo probabilities (tempered as shipped: each fold's temperature from its inner validation,
T >= 1), its station class and PM2.5, place, hourly reading and day, and its fold."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from airken.core.haze_features import view_features
from airken.core.intake import load_image
from airken.core.preprocess import MODEL_INPUT_SIZE, to_model_input
from airken.core.prior import UNIFORM
from train import data
from train.places.features import load_samples
from train.places.folds import lopo_folds
from train.places.systems import Context
from train.verdicts import FoldOutput, calibrated


@dataclass(frozen=True)
class Frames:
    probs: np.ndarray  # (N, K) the photo model's tempered shares
    y: np.ndarray  # (N,) station class
    pm25: np.ndarray  # (N,) station PM2.5
    place: np.ndarray  # (N,) index into ``places``
    reading: np.ndarray  # (N,) hourly reading id (place, date, hour)
    day: np.ndarray  # (N,) (place, date) id
    places: tuple[str, ...]
    examples: np.ndarray | None  # (E, K) the example photos, mean of the fold models, tempered
    features: np.ndarray | None = None  # (N, F) airken.core.haze_features.view_features of each frame
    train_prior: tuple[float, ...] = UNIFORM

    def of(self, mask: np.ndarray) -> Frames:
        """The frames where ``mask`` holds (same places list)."""
        return Frames(self.probs[mask], self.y[mask], self.pm25[mask], self.place[mask], self.reading[mask],
                      self.day[mask], self.places, self.examples,
                      None if self.features is None else self.features[mask], self.train_prior)


def load(lopo_dir: Path, data_folders: list[str], system: str = "network_fused", cache: Path | None = None) -> Frames:
    """The frames of ``system`` in a train.lopo folder (probs.npz, metrics.json)."""
    config = json.loads((lopo_dir / "metrics.json").read_text())["config"]
    samples, folds = _folds(config, data_folders, cache or lopo_dir / "study-cache")
    y_all = data.labels_of(samples)
    with np.load(lopo_dir / "probs.npz") as z:
        if not np.array_equal(z["y"], y_all):
            raise ValueError(f"{lopo_dir}: the data folders do not give the frames the run was made on")
        outputs = [FoldOutput(f, z[f"{f.place}/{system}/test"], z[f"{f.place}/{system}/val"],
                              z.get(f"{f.place}/{system}/examples")) for f in folds]
    tempered = calibrated(outputs, y_all)
    return _frames(samples, folds, tempered, cache or lopo_dir / "study-cache")


def _folds(config: dict, data_folders: list[str], cache: Path):
    samples, _ = load_samples(data_folders, cache)  # decodes every image once: the quarantine check
    ctx = Context.build(samples, {}, config["seed"])
    pool = np.flatnonzero(data.daylight_mask(samples))
    places = config.get("places") or []
    folds = [f for f in lopo_folds(ctx, pool, config["inner_val"], config["seed"]) if not places or f.place in places]
    return samples, folds


def _frames(samples, folds, tempered: list[FoldOutput], cache: Path) -> Frames:
    idx = np.concatenate([f.test for f in folds])
    fold_of = np.concatenate([np.full(len(f.test), i) for i, f in enumerate(folds)])
    members = [samples[i] for i in idx]
    reading = data.reading_ids(members)
    days = {k: i for i, k in enumerate(sorted({s.group for s in members}))}
    examples = [o.examples for o in tempered if o.examples is not None]
    return Frames(probs=np.concatenate([o.test for o in tempered]).astype(np.float64),
                  y=data.labels_of(members), pm25=np.array([s.pm25 for s in members], dtype=np.float64),
                  place=fold_of, reading=reading, day=np.array([days[s.group] for s in members]),
                  places=tuple(f.place for f in folds),
                  examples=np.mean(examples, axis=0) if len(examples) == len(folds) else None,
                  features=view_features_of([s.path for s in members], cache / "view_features.npz"))


def view_features_of(paths: list[Path], cache: Path) -> np.ndarray:
    """Every frame's within-view haze features, decoded as the app decodes; kept in ``cache``."""
    names = np.array([str(p) for p in paths])
    if cache.is_file():
        with np.load(cache) as z:
            if np.array_equal(z["paths"], names):
                return z["features"]
    feats = np.stack([view_features(to_model_input(load_image(p), MODEL_INPUT_SIZE)) for p in paths])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, paths=names, features=feats)
    return feats
