"""The photos every study in train.places sees: samples read and scanned, views of the frame
(whole, upper 60 %, down to the sky line), the geometry-only augmentation, and frozen
backbone features computed once per image and view and cached in ``OUT/features/``.

Frozen EfficientNet-Lite0 features run through LiteRT: several times the images/s of Keras
predict on 2 CPU cores, the same numbers to 1e-5.
"""
from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from airken.core.haze_features import FEATURE_NAMES, colour_features_batch
from airken.core.preprocess import MODEL_INPUT_SIZE
from train import data
from train.data import Sample

VIEWS = ("whole", "top60", "skymask")

log = logging.getLogger("train.places")


TOP_CROP = 0.6  # "top60": the upper 60 % of the frame, where the sky usually is


SKY_MIN_ROWS = 0.3  # the sky crop keeps at least this share of the rows


SKY_MIN_FRACTION = 0.05  # less sky than this: fall back to the top60 crop


AUG_CROP_MIN = data.CROP_MIN  # the augmentation train.data uses: flip + zoom/shift, no colour jitter


CHUNK = 128  # images decoded at once while computing features


def load_samples(folders: Sequence[str], out: Path) -> tuple[list[Sample], dict[str, Any]]:
    """Read every folder, quarantine images that fail to decode (copies under out/)."""
    samples: list[Sample] = []
    summary: dict[str, Any] = {}
    for folder in folders:
        rows, problems = data.read_folder(folder)
        samples += rows
        summary[Path(folder).resolve().name] = {
            "rows": problems.rows, "unlabelled": problems.unlabelled,
            "problems": len(problems), "usable": len(rows)}
    samples, quarantined = data.scan_images(samples, out)
    summary["quarantined"] = [{"file": str(q.sample.path), "reason": q.reason} for q in quarantined]
    return samples, summary


def thin(samples: list[Sample], per_group: int) -> list[Sample]:
    """At most ``per_group`` evenly spaced frames of each (place, date, hour)."""
    gid = data.reading_ids(samples)
    keep: list[int] = []
    for g in np.unique(gid):
        members = np.flatnonzero(gid == g)
        pick = np.linspace(0, len(members) - 1, min(per_group, len(members))).round().astype(int)
        keep += members[np.unique(pick)].tolist()
    return [samples[i] for i in sorted(keep)]


def sample_key(s: Sample) -> str:
    """Feature-cache key: source/file name, size and mtime (an edited file is recomputed)."""
    st = s.path.stat()
    return f"{s.source}/{s.path.name}|{st.st_size}|{st.st_mtime_ns}"


def _resize(a: np.ndarray, size: int) -> np.ndarray:
    img = Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def sky_rows(x: np.ndarray) -> int:
    """Rows to keep from the top so that 95 % of the sky mask lies above the cut."""
    from airken.core.scene import sky_mask

    h = x.shape[0]
    mask = sky_mask(Image.fromarray(x))
    if mask.mean() < SKY_MIN_FRACTION:
        return round(h * TOP_CROP)
    cum = np.cumsum(mask.sum(axis=1)) / mask.sum()
    rows = int(np.searchsorted(cum, 0.95)) + 1
    return int(min(h, max(rows, round(h * SKY_MIN_ROWS))))


def view_image(x: np.ndarray, view: str) -> np.ndarray:
    """One model input (H, W, 3 uint8) as seen by ``view``, at the same size."""
    if view == "whole":
        return x
    if view == "top60":
        return _resize(x[: round(x.shape[0] * TOP_CROP)], x.shape[0])
    if view == "skymask":
        return _resize(x[: sky_rows(x)], x.shape[0])
    raise ValueError(f"unknown view {view!r}")


def augment_image(x: np.ndarray, key: str, seed: int = 0) -> np.ndarray:
    """train.data's geometry-only augmentation (flip, zoom + shift), deterministic per file:
    colours are the signal, so no colour jitter."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    if rng.random() < 0.5:
        x = x[:, ::-1]
    h, w = x.shape[:2]
    side = max(1, round(rng.uniform(AUG_CROP_MIN, 1.0) * min(h, w)))
    top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    return _resize(np.ascontiguousarray(x[top: top + side, left: left + side]), h)


class PixelFeatures:
    """8 x 8 mean colours (192 numbers): a cheap stand-in backbone for smoke runs and tests."""

    name = "pixels"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, h, w, _ = x.shape
        cells = x[:, : h - h % 8, : w - w % 8].reshape(n, 8, h // 8, 8, w // 8, 3)
        return (cells.mean(axis=(2, 4)) / 255.0).reshape(n, -1).astype(np.float32)


class LiteFeatures:
    """Frozen EfficientNet-Lite pooled features (1280), as train.train's backbone gives.

    The Keras backbone is converted once to a float32 TFLite file (cached next to the
    features) and run with the app's LiteRT runner (airken.core.model.TFLiteModel.run_batch):
    about 6x the images/s of Keras predict on 2 CPU cores, the same numbers (max |diff| ~1e-5).
    Images come at the variant's own input size (224, 240, 260).
    """

    def __init__(self, cache_dir: Path, threads: int = 2, name: str = "lite0"):
        from train.backbone import backbone_input_size

        self.cache_dir, self.threads, self.name = cache_dir, threads, name
        self.input_size = backbone_input_size(name)
        self._model = None

    def _load(self):
        from airken.core.model import TFLiteModel

        path = self.cache_dir / f"{self.name}-backbone-float32.tflite"
        if not path.is_file():
            import tensorflow as tf

            from train.backbone import build_backbone

            t0 = time.perf_counter()
            converter = tf.lite.TFLiteConverter.from_keras_model(build_backbone(self.name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(converter.convert())
            log.info("backbone converted to %s in %.0f s", path, time.perf_counter() - t0)
        return TFLiteModel(path, threads=self.threads)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        return self._model.run_batch(x)


@dataclass
class FeatureSet:
    backbone: np.ndarray  # (N, D) frozen backbone features
    colour: np.ndarray  # (N, len(FEATURE_NAMES)) colour/haze features of the same view


def _cache_file(root: Path, backbone: str, view: str, aug: bool) -> Path:
    return root / f"{backbone}-{view}{'-aug' if aug else ''}.npz"


def compute_features(samples: Sequence[Sample], views: Sequence[str], augment: bool,
                     extractor: Callable[[np.ndarray], np.ndarray], backbone_name: str,
                     cache_root: Path, seed: int = 0) -> tuple[dict[tuple[str, bool], FeatureSet], dict]:
    """Features for every (view, augmented?) pair, computed once per file and cached in
    ``cache_root/<backbone>-<view>[-aug].npz`` (see :func:`sample_key`). Returns the
    feature sets in sample order and the seconds spent."""
    keys = [sample_key(s) for s in samples]
    kinds = [(v, a) for v in views for a in ((False, True) if augment else (False,))]
    cached: dict[tuple[str, bool], dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for kind in kinds:
        f = _cache_file(cache_root, backbone_name, *kind)
        cached[kind] = {}
        if f.is_file():
            with np.load(f, allow_pickle=False) as z:
                cached[kind] = {k: (b, c) for k, b, c in zip(z["keys"].tolist(), z["backbone"],
                                                               z["colour"], strict=True)}
    missing = sorted({i for kind in kinds for i, k in enumerate(keys) if k not in cached[kind]})
    timing = {"images_computed": len(missing), "decode_s": 0.0, "backbone_s": 0.0, "colour_s": 0.0}
    if missing:
        log.info("computing features of %d images for %s", len(missing), kinds)
    for start in range(0, len(missing), CHUNK):
        part = missing[start: start + CHUNK]
        t0 = time.perf_counter()
        x = data.load_arrays([samples[i] for i in part], size=getattr(extractor, "input_size", MODEL_INPUT_SIZE))
        timing["decode_s"] += time.perf_counter() - t0
        for view, aug in kinds:
            todo = [j for j, i in enumerate(part) if keys[i] not in cached[(view, aug)]]
            if not todo:
                continue
            imgs = np.stack([view_image(x[j], view) for j in todo])
            if aug:
                # seeded by source/name only, so the copies are the same on every machine
                imgs = np.stack([augment_image(im, keys[part[j]].split("|")[0], seed)
                                 for im, j in zip(imgs, todo, strict=True)])
            t0 = time.perf_counter()
            b = extractor(imgs)
            t1 = time.perf_counter()
            # augmented copies only feed the backbone block (see fit_recipe): no colour features
            c = np.full((len(imgs), len(FEATURE_NAMES)), np.nan, np.float32) if aug else colour_features_batch(imgs)
            timing["backbone_s"] += t1 - t0
            timing["colour_s"] += time.perf_counter() - t1
            for j, bj, cj in zip(todo, b, c, strict=True):
                cached[(view, aug)][keys[part[j]]] = (bj, cj)
        log.info("features: %d / %d images", min(start + CHUNK, len(missing)), len(missing))
        _save_caches(cached, cache_root, backbone_name)
    if missing:
        n_views = len(kinds)
        timing["backbone_images_per_s"] = len(missing) * n_views / max(timing["backbone_s"], 1e-9)
    out = {kind: FeatureSet(np.stack([cached[kind][k][0] for k in keys]),
                            np.stack([cached[kind][k][1] for k in keys])) for kind in kinds}
    return out, {k: round(v, 1) if isinstance(v, float) else v for k, v in timing.items()}


def _save_caches(cached: dict, root: Path, backbone: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for (view, aug), entries in cached.items():
        if not entries:
            continue
        names = sorted(entries)
        f = _cache_file(root, backbone, view, aug)
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(names), backbone=np.stack([entries[k][0] for k in names]),
                 colour=np.stack([entries[k][1] for k in names]))
        tmp.replace(f)
