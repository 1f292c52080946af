"""Evaluation across places: does a sky model hold up beyond the camera it learnt from?

    python -m train.places --data ../shared/data/milan ../shared/data/india-nepal --out runs/places

One command, results in ``OUT/metrics.json`` and ``OUT/report.md`` (+ PNGs):

(a) Held-out days of one place (``--heldout-place``, Milan by default): the same whole-day
    split train.train makes (``split_by_date``, 6 val / 8 test days, seed 0, daylight
    training), trained on that place alone and on every folder together, beside the
    baselines and an image-free model of day-of-year and hour (the season confound).
(b) Leave-one-place-out (LOPO) over every place: per place and pooled balanced accuracy,
    macro-F1 and confusion matrix, the spread across places, and a 95 % interval of the
    pooled balanced accuracy from resampling whole hourly readings.
(c) On the same splits: majority class, colour/haze features + LR, frozen-backbone linear
    probe, the phase-1 head of train.train, and the candidate recipes.
(d) Generalisation choices judged by pooled LOPO balanced accuracy, one at a time (forward
    selection): sky-focused input, place-balanced weighting, colour-preserving
    augmentation, haze features with the network (concatenated, or late fusion), ordinal
    classes, regularisation.
(e) Temperature scaling (train.calibrate) on validation frames; ECE and reliability
    diagrams before/after; the "uncertain" threshold.

What is affordable on 2 CPU cores: frozen EfficientNet-Lite0 features are computed ONCE per
image and view (run through LiteRT, several times faster than Keras on CPU) and cached in
``OUT/features/``; every system is then a model on those features. Nothing here fine-tunes
the backbone: "head" is train.train's phase 1 (dropout + softmax on frozen features) and the
recipes are logistic regressions on frozen features. Both are stand-ins for the fine-tuned
network, which costs minutes per fold here.

Under LOPO every system trains on the other places minus an inner validation set of whole
(place, date) groups; the inner validation frames stop the head early and fit the
temperature, as the val days do in train.train.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date as Date
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from airken.classes import LABELS
from airken.haze_features import FEATURE_NAMES, colour_features_batch
from train import calibrate, data, evaluate, log_to
from train.data import Sample

log = logging.getLogger("train.places")

K = len(LABELS)
VIEWS = ("whole", "top60", "skymask")
TOP_CROP = 0.6  # "top60": the upper 60 % of the frame, where the sky usually is
SKY_MIN_ROWS = 0.3  # the sky crop keeps at least this share of the rows
SKY_MIN_FRACTION = 0.05  # less sky than this: fall back to the top60 crop
AUG_CROP_MIN = data.CROP_MIN  # the augmentation train.data uses: flip + zoom/shift, no colour jitter
CHUNK = 128  # images decoded at once while computing features
TOL = 1e-4  # logistic regression tolerance (sklearn's default, as train.evaluate uses)
BOOTSTRAP = 1000  # resamples of the hourly readings for the pooled balanced accuracy interval


@dataclass
class Config:
    data: list[str]
    out: str
    quick: bool = False
    per_group: int | None = None  # frames kept per (place, date, hour); --quick: 2
    backbone: str = "lite0"  # "pixels": 8x8 mean colours, a cheap stand-in for smoke runs
    views: tuple[str, ...] = VIEWS
    augment: bool = True  # also cache features of one augmented copy per image
    heldout_place: str = "milan"
    val_days: int = 6
    test_days: int = 8
    inner_val: float = 0.15  # share of (place, date) groups held out inside each LOPO fold
    seed: int = 0
    target_accuracy: float = 0.8  # for the "uncertain" threshold
    head: bool = True  # train.train's phase-1 head (TensorFlow) beside the recipes
    head_epochs: int = 40
    threads: int = 2


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m train.places", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Config(data=[], out="")
    p.add_argument("--data", nargs="+", required=True, help="data folders (images/ + labels.csv)")
    p.add_argument("--out", required=True, help="output directory (features cache, metrics, report)")
    p.add_argument("--quick", action="store_true",
                   help="cut-down run: 2 frames per (place, date, hour), whole + top60 views, "
                        "fewer recipes and head epochs")
    p.add_argument("--per-group", type=int, default=None)
    p.add_argument("--backbone", choices=["lite0", "pixels"], default=d.backbone)
    p.add_argument("--views", nargs="+", choices=VIEWS, default=None)
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--no-head", dest="head", action="store_false",
                   help="skip the TensorFlow head (phase 1 of train.train)")
    p.add_argument("--heldout-place", default=d.heldout_place)
    for name in ("val_days", "test_days", "seed", "head_epochs", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("inner_val", "target_accuracy"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    args = vars(p.parse_args(argv))
    views = args.pop("views") or (("whole", "top60") if args["quick"] else VIEWS)
    cfg = Config(**{k: v for k, v in args.items() if v is not None})
    cfg.views = tuple(dict.fromkeys(("whole", *views)))  # the baselines need the whole frame
    if cfg.quick:
        cfg.per_group = cfg.per_group or 2
        cfg.head_epochs = min(cfg.head_epochs, 10)
    return cfg


# ---------------------------------------------------------------------------------------
# samples


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


# ---------------------------------------------------------------------------------------
# views and augmentation (on the 224 x 224 model input, as a crop layer in the model would)


def _resize(a: np.ndarray, size: int) -> np.ndarray:
    img = Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def sky_rows(x: np.ndarray) -> int:
    """Rows to keep from the top so that 95 % of the sky mask lies above the cut."""
    from airken.scene import sky_mask

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


# ---------------------------------------------------------------------------------------
# frozen features


class PixelFeatures:
    """8 x 8 mean colours (192 numbers): a cheap stand-in backbone for smoke runs and tests."""

    name = "pixels"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, h, w, _ = x.shape
        cells = x[:, : h - h % 8, : w - w % 8].reshape(n, 8, h // 8, 8, w // 8, 3)
        return (cells.mean(axis=(2, 4)) / 255.0).reshape(n, -1).astype(np.float32)


class Lite0Features:
    """Frozen EfficientNet-Lite0 pooled features (1280), as train.train's backbone gives.

    The Keras backbone is converted once to a float32 TFLite file (cached next to the
    features) and run with LiteRT: about 6x the images/s of Keras predict on 2 CPU cores,
    same numbers (max |diff| ~1e-5). Falls back to Keras when LiteRT is not installed.
    """

    name = "lite0"

    def __init__(self, cache_dir: Path, threads: int = 2):
        self.cache_dir, self.threads = cache_dir, threads
        self._run: Callable[[np.ndarray], np.ndarray] | None = None

    def _load(self) -> Callable[[np.ndarray], np.ndarray]:
        path = self.cache_dir / "lite0-backbone-float32.tflite"
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            return self._keras()
        if not path.is_file():
            import tensorflow as tf

            from train.backbone import build_backbone

            t0 = time.perf_counter()
            converter = tf.lite.TFLiteConverter.from_keras_model(build_backbone("lite0"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(converter.convert())
            log.info("backbone converted to %s in %.0f s", path, time.perf_counter() - t0)
        interp = Interpreter(model_path=str(path), num_threads=self.threads)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

        def run(x: np.ndarray) -> np.ndarray:
            rows = []
            for img in x.astype(np.float32):
                interp.set_tensor(inp, img[None])
                interp.invoke()
                rows.append(interp.get_tensor(out)[0].copy())
            return np.stack(rows)

        return run

    def _keras(self) -> Callable[[np.ndarray], np.ndarray]:
        from train.backbone import build_backbone

        model = build_backbone("lite0")
        return lambda x: model.predict(x.astype(np.float32), batch_size=32, verbose=0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._run is None:
            self._run = self._load()
        return self._run(x).astype(np.float32)


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
        x = data.load_arrays([samples[i] for i in part])
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


# ---------------------------------------------------------------------------------------
# the data every system sees


@dataclass
class Context:
    samples: list[Sample]
    y: np.ndarray
    place: np.ndarray  # place name per sample
    hour_group: np.ndarray  # (place, date, hour) id per sample
    feats: dict[tuple[str, bool], FeatureSet]
    seed: int = 0

    @classmethod
    def build(cls, samples: list[Sample], feats: dict[tuple[str, bool], FeatureSet],
              seed: int = 0) -> Context:
        return cls(samples, data.labels_of(samples), np.array([s.place for s in samples]),
                   data.reading_ids(samples), feats, seed)

    def subset(self, idx: np.ndarray) -> list[Sample]:
        return [self.samples[i] for i in idx]


def sample_weights(ctx: Context, idx: np.ndarray, scheme: str) -> np.ndarray:
    """Training weights (mean 1) for ``idx``.

    "class": every class weighs the same (what oversampling in train.train does).
    "place": classes, then places within a class, then readings within a place weigh the
    same (:func:`train.data.balance_weights`).
    """
    y = ctx.y[idx]
    if scheme == "class":
        return data.class_weights(y)
    if scheme == "place":
        return data.balance_weights(y, ctx.place[idx], ctx.hour_group[idx])
    raise ValueError(f"unknown weighting {scheme!r}")


def _full_probs(proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    out = np.zeros((len(proba), K))
    out[:, np.asarray(classes, dtype=np.int64)] = proba
    return out


def _constant(probs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda idx: np.tile(probs, (len(idx), 1))


def _logreg(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> Callable[[np.ndarray], np.ndarray]:
    """Weighted multinomial logistic regression; predict(x) -> (n, K) probabilities."""
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y)
    if len(classes) < 2:
        p = np.zeros(K)
        p[classes[0]] = 1.0
        return lambda x_: np.tile(p, (len(x_), 1))
    clf = LogisticRegression(C=c, max_iter=3000, tol=TOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on tiny folds
        clf.fit(x, y, sample_weight=w)
    return lambda x_: _full_probs(clf.predict_proba(x_), clf.classes_)


def _binary(x: np.ndarray, t: np.ndarray, w: np.ndarray, c: float) -> Callable[[np.ndarray], np.ndarray]:
    """P(t = 1) by weighted logistic regression, the two sides re-weighted to equal mass."""
    from sklearn.linear_model import LogisticRegression

    if t.min() == t.max():
        return lambda x_: np.full(len(x_), float(t[0]))
    w = w.copy()
    for v in (0, 1):
        w[t == v] *= 0.5 * w.sum() / w[t == v].sum()
    clf = LogisticRegression(C=c, max_iter=3000, tol=TOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(x, t, sample_weight=w)
    return lambda x_: clf.predict_proba(x_)[:, 1]


def _ordinal(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> Callable[[np.ndarray], np.ndarray]:
    """Frank & Hall ordinal classifier: P(y > 0) and P(y > 1) by two binary models,
    class probabilities from their differences (the classes are ordered PM2.5 bands)."""
    above = [_binary(x, (y > k).astype(np.int64), w, c) for k in range(K - 1)]

    def predict(x_: np.ndarray) -> np.ndarray:
        gt = np.stack([f(x_) for f in above], axis=1)  # P(y > k)
        gt = np.minimum.accumulate(gt, axis=1)  # keep P(y > 1) <= P(y > 0)
        p = np.concatenate([1 - gt[:, :1], gt[:, :-1] - gt[:, 1:], gt[:, -1:]], axis=1)
        p = np.clip(p, 1e-6, None)
        return p / p.sum(axis=1, keepdims=True)

    return predict


# ---------------------------------------------------------------------------------------
# recipes: logistic regression on frozen features, with the generalisation choices


@dataclass(frozen=True)
class Recipe:
    view: str = "whole"  # whole | top60 | skymask
    weighting: str = "class"  # class | place (see sample_weights)
    augment: bool = False  # add the features of one augmented copy of every training frame
    colour: bool = False  # colour/haze features beside the backbone features
    ordinal: bool = False  # Frank & Hall ordinal model instead of multinomial
    c: float = 1.0  # inverse L2 strength on standardised features
    fusion: float = 0.0  # weight of a colour/haze model's probabilities averaged in (late fusion)

    def describe(self) -> str:
        parts = [f"view={self.view}", f"weights={self.weighting}"]
        parts += [name for name, on in (("augment", self.augment), ("+colour", self.colour),
                                        ("ordinal", self.ordinal)) if on]
        parts += [f"fused with haze model {self.fusion:g}"] if self.fusion else []
        return ", ".join(parts + [f"C={self.c:g}"])


class Standardiser:
    """Per-block standardisation; the colour block is scaled to the backbone block's total
    variance so 11 numbers are not drowned by 1280."""

    def __init__(self, blocks: list[np.ndarray]):
        self.mean = [b.mean(axis=0) for b in blocks]
        self.std = [b.std(axis=0) + 1e-6 for b in blocks]
        dims = [b.shape[1] for b in blocks]
        self.scale = [1.0] + [math.sqrt(dims[0] / d) for d in dims[1:]]

    def __call__(self, blocks: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([(b - m) / s * k for b, m, s, k in
                               zip(blocks, self.mean, self.std, self.scale, strict=True)], axis=1)


def recipe_blocks(ctx: Context, r: Recipe, idx: np.ndarray, aug: bool = False) -> list[np.ndarray]:
    """Backbone features (of the augmented copy when ``aug``) and, for ``r.colour``, the
    colour/haze features of the frame itself (geometry-only augmentation barely moves them)."""
    blocks = [ctx.feats[(r.view, aug)].backbone[idx].astype(np.float64)]
    if r.colour:
        blocks.append(ctx.feats[(r.view, False)].colour[idx].astype(np.float64))
    return blocks


def fit_recipe(ctx: Context, r: Recipe, train: np.ndarray, val: np.ndarray | None = None
               ) -> Callable[[np.ndarray], np.ndarray]:
    """Fit on ``train`` (val unused: nothing to stop early); predict(idx) -> probabilities."""
    blocks = recipe_blocks(ctx, r, train)
    y, w = ctx.y[train], sample_weights(ctx, train, r.weighting)
    if r.augment:
        blocks = [np.concatenate([b, a]) for b, a in zip(blocks, recipe_blocks(ctx, r, train, True), strict=True)]
        y, w = np.concatenate([y, y]), np.concatenate([w, w])
    scale = Standardiser(blocks)
    fit = (_ordinal if r.ordinal else _logreg)(scale(blocks), y, w, r.c)
    if not r.fusion:
        return lambda idx: fit(scale(recipe_blocks(ctx, r, idx)))
    haze = fit_colour(ctx, train, view=r.view, weighting=r.weighting)
    return lambda idx: (1 - r.fusion) * fit(scale(recipe_blocks(ctx, r, idx))) + r.fusion * haze(idx)


# ---------------------------------------------------------------------------------------
# baselines and the phase-1 head

System = Callable[[Context, np.ndarray, np.ndarray | None], Callable[[np.ndarray], np.ndarray]]


def fit_majority(ctx: Context, train: np.ndarray, val: np.ndarray | None = None):
    p = np.zeros(K)
    p[evaluate.majority_baseline(ctx.y[train], 1)[0]] = 1.0
    return _constant(p)


def fit_colour(ctx: Context, train: np.ndarray, val: np.ndarray | None = None, view: str = "whole",
               weighting: str = "class"):
    """train.evaluate's colour baseline: colour/haze features of the whole frame + LR."""
    fs = ctx.feats[(view, False)]
    model = evaluate.fit_haze_model(fs.colour[train], ctx.y[train], sample_weights(ctx, train, weighting))
    return lambda idx: model.proba_features(fs.colour[idx])


def fit_probe(ctx: Context, train: np.ndarray, val: np.ndarray | None = None):
    """train.evaluate's linear probe: frozen whole-frame features + class-balanced LR."""
    return fit_recipe(ctx, Recipe(), train)


def date_hour_features(samples: Sequence[Sample]) -> np.ndarray:
    """Day of year and hour on the circle: all an image-free model of the season knows."""
    rows = []
    for s in samples:
        doy = Date.fromisoformat(s.date[:10]).timetuple().tm_yday
        hour = 12 if s.hour is None else s.hour
        a, b = 2 * math.pi * doy / 365.25, 2 * math.pi * hour / 24
        rows.append((math.sin(a), math.cos(a), math.sin(b), math.cos(b)))
    return np.array(rows, dtype=np.float64)


def fit_date_hour(ctx: Context, train: np.ndarray, val: np.ndarray | None = None):
    x = date_hour_features(ctx.samples)
    scale = Standardiser([x[train]])
    fit = _logreg(scale([x[train]]), ctx.y[train], sample_weights(ctx, train, "class"), 1.0)
    return lambda idx: fit(scale([x[idx]]))


@dataclass
class HeadSettings:
    epochs: int = 40
    patience: int = 3
    lr: float = 1e-3
    dropout: float = 0.3
    batch_size: int = 32


def make_head(recipe: Recipe | None = None, settings: HeadSettings | None = None) -> System:
    """train.train's phase 1: dropout + dense softmax on frozen features, Adam, early stop on
    val loss (patience 3, best weights restored).

    recipe None: exactly as train.train does it (whole frame, raw features, oversampled
    classes). With a recipe: its view, augmentation and colour block (standardised), its
    weighting scheme as sample weights instead of oversampling; no late fusion. Ordinal
    recipes are not supported here (the head is a softmax).
    """
    st = settings or HeadSettings()

    def fit(ctx: Context, train: np.ndarray, val: np.ndarray | None):
        import tensorflow as tf

        keras = tf.keras
        r = recipe or Recipe()
        tf.keras.utils.set_random_seed(ctx.seed)
        if recipe is None:
            rows = data.oversample(train, ctx.y, seed=ctx.seed)
            x, y, w = ctx.feats[("whole", False)].backbone[rows], ctx.y[rows], None

            def inputs(idx: np.ndarray) -> np.ndarray:
                return ctx.feats[("whole", False)].backbone[idx]
        else:
            blocks = recipe_blocks(ctx, r, train)
            y, w = ctx.y[train], sample_weights(ctx, train, r.weighting)
            if r.augment:
                blocks = [np.concatenate([b, a]) for b, a in
                          zip(blocks, recipe_blocks(ctx, r, train, True), strict=True)]
                y, w = np.concatenate([y, y]), np.concatenate([w, w])
            scale = Standardiser(blocks)
            x = scale(blocks)

            def inputs(idx: np.ndarray) -> np.ndarray:
                return scale(recipe_blocks(ctx, r, idx))
        model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dropout(st.dropout),
                                  keras.layers.Dense(K, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(st.lr), loss="sparse_categorical_crossentropy")
        has_val = val is not None and len(val) > 0
        callbacks = ([keras.callbacks.EarlyStopping(monitor="val_loss", patience=st.patience,
                                                    restore_best_weights=True)] if has_val else [])
        model.fit(x.astype(np.float32), y.astype(np.int32),
                  sample_weight=None if w is None else w.astype(np.float32),
                  validation_data=(inputs(val).astype(np.float32), ctx.y[val].astype(np.int32)) if has_val else None,
                  epochs=st.epochs, batch_size=st.batch_size, shuffle=True, verbose=0, callbacks=callbacks)
        return lambda idx: np.asarray(model(inputs(idx).astype(np.float32), training=False), dtype=np.float64)

    return fit


# ---------------------------------------------------------------------------------------
# leave one place out


@dataclass
class Fold:
    place: str
    train: np.ndarray  # the other places, minus the inner validation groups
    val: np.ndarray  # inner validation: whole (place, date) groups of the other places
    test: np.ndarray  # every frame of the held-out place


def lopo_folds(ctx: Context, pool: np.ndarray, inner_val: float, seed: int) -> list[Fold]:
    folds = []
    for place, tr, te in data.leave_one_place_out(ctx.subset(pool)):
        tr, te = pool[tr], pool[te]
        n_groups = len({ctx.samples[i].group for i in tr})
        n_val = max(1, round(inner_val * n_groups)) if n_groups > 2 else 0
        itr, iva, _ = data.split_by_date(ctx.subset(tr), val_days=n_val, test_days=0, seed=seed)
        folds.append(Fold(place, tr[itr], tr[iva], te))
    return folds


@dataclass
class Run:
    """A system's probabilities on every fold's test and validation frames."""

    name: str
    test: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0


def run_lopo(ctx: Context, folds: Sequence[Fold], name: str, system: System) -> Run:
    run = Run(name)
    t0 = time.perf_counter()
    for f in folds:
        predict = system(ctx, f.train, f.val)
        run.test.append(predict(f.test))
        run.val.append(predict(f.val) if len(f.val) else np.zeros((0, K)))
    run.seconds = time.perf_counter() - t0
    log.info("LOPO %s: %.1f s", name, run.seconds)
    return run


def _spread(values: list[float | None]) -> dict[str, Any]:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if not v.size:
        return {"mean": None, "std": None, "min": None, "median": None, "max": None}
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
            "median": float(np.median(v)), "max": float(v.max())}


def bootstrap_ba(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, n: int = BOOTSTRAP,
                 seed: int = 0) -> dict[str, float] | None:
    """95 % interval of balanced accuracy, resampling whole groups (hourly readings) with
    replacement: frames of one reading are not independent evidence."""
    uniq, inv = np.unique(groups, return_inverse=True)
    if len(uniq) < 2:
        return None
    rng = np.random.default_rng(seed)
    cm = np.zeros((len(uniq), K, K))  # confusion matrix per group
    np.add.at(cm, (inv, y, pred), 1)
    draws = rng.integers(0, len(uniq), size=(n, len(uniq)))
    counts = np.stack([np.bincount(d, minlength=len(uniq)) for d in draws])
    total = np.einsum("bg,gij->bij", counts, cm)
    support = total.sum(axis=2)
    recall = np.divide(np.einsum("bii->bi", total), support, out=np.full(support.shape, np.nan),
                       where=support > 0)
    ba = np.nanmean(recall, axis=1)
    lo, hi = np.percentile(ba, [2.5, 97.5])
    return {"low": float(lo), "high": float(hi), "resamples": n, "groups": int(len(uniq))}


def lopo_metrics(ctx: Context, folds: Sequence[Fold], run: Run) -> dict[str, Any]:
    per_place = {}
    for f, p in zip(folds, run.test, strict=True):
        per_place[f.place] = evaluate.classification_metrics(ctx.y[f.test], p.argmax(axis=1))
    y_all = np.concatenate([ctx.y[f.test] for f in folds])
    pred = np.concatenate(run.test).argmax(axis=1)
    pooled = evaluate.classification_metrics(y_all, pred)
    pooled["balanced_accuracy_95ci"] = bootstrap_ba(
        y_all, pred, np.concatenate([ctx.hour_group[f.test] for f in folds]), seed=ctx.seed)
    return {"pooled": pooled, "per_place": per_place, "seconds": round(run.seconds, 1),
            "spread": {m: _spread([r[m] for r in per_place.values()])
                       for m in ("balanced_accuracy", "macro_f1")}}


def pooled_ba(result: dict[str, Any]) -> float:
    return float(result["pooled"]["balanced_accuracy"])


STEPS: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = (
    ("sky-focused input", ({"view": "top60"}, {"view": "skymask"})),
    ("place-balanced weighting", ({"weighting": "place"},)),
    ("colour-preserving augmentation", ({"augment": True},)),
    ("haze features with the network", ({"colour": True}, {"fusion": 0.5})),
    ("ordinal classes", ({"ordinal": True},)),
    ("stronger regularisation", ({"c": 0.1}, {"c": 0.01})),
)
QUICK_STEPS = STEPS[:2] + STEPS[3:5]


def select_recipe(ctx: Context, folds: Sequence[Fold], steps=STEPS
                  ) -> tuple[Recipe, list[dict[str, Any]], dict[Recipe, Run]]:
    """Forward selection by pooled LOPO balanced accuracy: start from the linear probe, try
    each step's options on the current recipe, keep the best option only if it beats the
    current recipe. Every option is also tried alone on the probe, to see its own effect."""
    available = {v for v, _ in ctx.feats}
    has_aug = any(a for _, a in ctx.feats)
    runs: dict[Recipe, Run] = {}
    results: dict[Recipe, dict[str, Any]] = {}

    def score(r: Recipe) -> dict[str, Any]:
        if r not in results:
            runs[r] = run_lopo(ctx, folds, r.describe(), lambda c, t, v, r=r: fit_recipe(c, r, t))
            results[r] = lopo_metrics(ctx, folds, runs[r])
        return results[r]

    base = current = Recipe()
    table = [{"step": "start: linear probe", "recipe": base.describe(), "alone": None,
              "forward": pooled_ba(score(base)), "kept": True}]
    for step, options in steps:
        options = tuple(o for o in options if o.get("view", "whole") in available
                        and (has_aug or not o.get("augment")))
        best, best_ba = current, pooled_ba(score(current))
        for opt in options:
            alone = pooled_ba(score(replace(base, **opt)))
            cand = replace(current, **opt)
            ba = pooled_ba(score(cand))
            table.append({"step": step, "recipe": cand.describe(), "alone": alone,
                          "alone_delta": alone - pooled_ba(score(base)),
                          "forward": ba, "forward_delta": ba - pooled_ba(score(current)), "kept": False})
            if ba > best_ba:
                best, best_ba = cand, ba
        if best != current:
            for row in table:
                if row["recipe"] == best.describe() and row["step"] == step:
                    row["kept"] = True
            current = best
        log.info("after %s: %s (pooled LOPO BA %.3f)", step, current.describe(), best_ba)
    return current, table, runs


# ---------------------------------------------------------------------------------------
# held-out days of one place


def heldout_split(ctx: Context, place: str, cfg: Config) -> dict[str, np.ndarray] | None:
    """train.train's split of that place's frames: whole days, daylight-only training."""
    mine = np.flatnonzero(ctx.place == place)
    if not len(mine):
        return None
    tr, va, te = data.split_by_date(ctx.subset(mine), cfg.val_days, cfg.test_days, cfg.seed)
    day = data.daylight_mask(ctx.samples)
    tr, va, te = mine[tr], mine[va], mine[te]
    others = np.flatnonzero((ctx.place != place) & day)
    return {"train": tr[day[tr]], "val": va[day[va]], "test": te, "others": others}


def heldout_metrics(ctx: Context, test: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    day = data.daylight_mask(ctx.subset(test))
    pred = probs.argmax(axis=1)
    out = {}
    for name, m in (("daylight", day), ("all", np.ones(len(test), bool)), ("night", ~day)):
        out[name] = evaluate.classification_metrics(ctx.y[test][m], pred[m]) if m.any() else None
    return out


def split_dates(ctx: Context, idx: np.ndarray) -> list[str]:
    return sorted({ctx.samples[i].date for i in idx})


# ---------------------------------------------------------------------------------------
# calibration


def calibration_block(y_val: np.ndarray, p_val: np.ndarray, y_test: np.ndarray,
                      p_test: np.ndarray, target: float, t_min: float = calibrate.T_MIN) -> dict[str, Any]:
    t = calibrate.fit_temperature(p_val, y_val, t_min=t_min)
    thr = calibrate.choose_uncertain_threshold(calibrate.apply_temperature(p_val, t), y_val, target)
    return {"temperature": t,
            "val": asdict(calibrate.calibration_report(p_val, y_val, t)),
            "test": asdict(calibrate.calibration_report(p_test, y_test, t)),
            "uncertain": asdict(thr),
            "test_selective": calibrate.selective_scores(calibrate.apply_temperature(p_test, t),
                                                         y_test, thr.threshold)}


def lopo_calibration(ctx: Context, folds: Sequence[Fold], run: Run, target: float,
                     png: Path | None, t_min: float = calibrate.T_MIN) -> dict[str, Any]:
    """Per fold: temperature and threshold fitted on the inner validation frames, applied
    to the held-out place; pooled ECE before/after over all held-out places."""
    before, after, ys, per_fold = [], [], [], {}
    kept = right_kept = 0
    for f, pv, pt in zip(folds, run.val, run.test, strict=True):
        if not len(f.val):
            continue
        block = calibration_block(ctx.y[f.val], pv, ctx.y[f.test], pt, target, t_min)
        per_fold[f.place] = block
        before.append(calibrate.softmax(calibrate.to_logits(pt)))
        after.append(calibrate.apply_temperature(pt, block["temperature"]))
        ys.append(ctx.y[f.test])
        sel = block["test_selective"]
        kept += sel["kept"]
        right_kept += round((sel["accuracy_kept"] or 0) * sel["kept"])
    if not ys:
        return {}
    b, a, y = np.concatenate(before), np.concatenate(after), np.concatenate(ys)
    out = {"per_place": per_fold, "pooled_ece_before": calibrate.expected_calibration_error(b, y),
           "pooled_ece_after": calibrate.expected_calibration_error(a, y),
           "pooled_coverage": kept / len(y), "pooled_accuracy_kept": right_kept / kept if kept else None,
           "pooled_accuracy_all": float(np.mean(a.argmax(axis=1) == y)),
           "temperatures": _spread([v["temperature"] for v in per_fold.values()]),
           "thresholds": _spread([v["uncertain"]["threshold"] for v in per_fold.values()])}
    if png is not None:
        out["png"] = str(calibrate.reliability_diagram(b, a, y, png, title="LOPO: held-out places, "
                                                       "temperature fitted per fold on inner validation"))
    return out


# ---------------------------------------------------------------------------------------
# the protocol

SYSTEM_NOTES = {
    "majority": "majority class of the training frames",
    "colour": "colour/haze features (airken.haze_features) of the whole frame + class-balanced LR",
    "linear_probe": "frozen Lite0 features of the whole frame + class-balanced LR",
    "head": "train.train phase 1: dropout 0.3 + softmax on frozen whole-frame features, Adam, "
            "oversampled classes, early stop on validation",
    "head_recipe": "phase-1 head on the chosen recipe's inputs and weights (no late fusion)",
    "model": "the chosen recipe: LR on frozen features with the kept generalisation choices",
    "date_hour": "image-free: day of year and hour (sin/cos) + class-balanced LR",
}


def run(cfg: Config, extractor: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    timings: dict[str, Any] = {}
    samples, data_summary = load_samples(cfg.data, out)
    if cfg.per_group:
        samples = thin(samples, cfg.per_group)
    timings["load_and_scan_s"] = round(time.perf_counter() - t_start, 1)
    if extractor is None:
        extractor = PixelFeatures() if cfg.backbone == "pixels" else Lite0Features(out / "features", cfg.threads)
    t0 = time.perf_counter()
    feats, timings["features"] = compute_features(samples, cfg.views, cfg.augment, extractor,
                                                  cfg.backbone, out / "features", cfg.seed)
    timings["features"]["total_s"] = round(time.perf_counter() - t0, 1)
    ctx = Context.build(samples, feats, cfg.seed)
    metrics: dict[str, Any] = {"config": asdict(cfg), "data": data_summary, "frames": describe_data(ctx)}

    # (b)-(d): leave one place out over daylight frames
    t0 = time.perf_counter()
    pool = np.flatnonzero(data.daylight_mask(samples))
    folds = lopo_folds(ctx, pool, cfg.inner_val, cfg.seed)
    metrics["lopo_folds"] = {f.place: {"train": len(f.train), "val": len(f.val), "test": len(f.test),
                                       "test_classes": data.class_counts(ctx.subset(f.test))} for f in folds}
    recipe, ablation, recipe_runs = select_recipe(ctx, folds, QUICK_STEPS if cfg.quick else STEPS)
    metrics["recipe"] = {"chosen": asdict(recipe), "describe": recipe.describe(), "ablation": ablation}
    timings["recipe_search_s"] = round(time.perf_counter() - t0, 1)
    timings["recipes_tried"] = len(recipe_runs)
    systems: dict[str, System] = {"majority": fit_majority, "colour": fit_colour, "linear_probe": fit_probe}
    head_settings = HeadSettings(epochs=cfg.head_epochs)
    if cfg.head:
        systems["head"] = make_head(None, head_settings)
        if not recipe.ordinal:
            systems["head_recipe"] = make_head(recipe, head_settings)
    systems["model"] = lambda c, t, v: fit_recipe(c, recipe, t)
    metrics["systems"] = {k: v for k, v in SYSTEM_NOTES.items() if k in systems or k == "date_hour"}
    done = {"linear_probe": recipe_runs[Recipe()], "model": recipe_runs[recipe]}  # fitted in the search
    runs = {name: done.get(name) or run_lopo(ctx, folds, name, fn) for name, fn in systems.items()}
    metrics["lopo"] = {name: lopo_metrics(ctx, folds, r) for name, r in runs.items()}
    for name in ("model", "head", "head_recipe"):
        if name in runs:
            metrics["lopo"][name]["calibration"] = lopo_calibration(
                ctx, folds, runs[name], cfg.target_accuracy, out / f"reliability_lopo_{name}.png")
    pooled_cm = metrics["lopo"]["model"]["pooled"]["confusion_matrix"]
    evaluate.plot_confusion(pooled_cm, LABELS, out / "confusion_lopo_model.png",
                            f"model, LOPO pooled over {len(folds)} places (n={int(np.sum(pooled_cm))})")
    timings["lopo_s"] = round(time.perf_counter() - t0, 1)

    # (a) + (d): held-out days of one place, with the date/hour control
    t0 = time.perf_counter()
    metrics["heldout"] = heldout(ctx, cfg, systems, out)
    cheap = {name: fn for name, fn in systems.items() if not name.startswith("head")}
    metrics["heldout_kfold"] = heldout_kfold(ctx, cfg.heldout_place, cheap | {"date_hour": fit_date_hour})
    timings["heldout_s"] = round(time.perf_counter() - t0, 1)
    timings["total_s"] = round(time.perf_counter() - t_start, 1)
    timings["total_cpu_s"] = round(time.process_time() - cpu_start, 1)
    metrics["timings"] = timings
    metrics = evaluate.to_jsonable(metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_report(metrics, out / "report.md")
    log.info("done in %.0f s: %s", timings["total_s"], out / "report.md")
    return metrics


def describe_data(ctx: Context) -> dict[str, Any]:
    out = {}
    day = data.daylight_mask(ctx.samples)
    for place in sorted(set(ctx.place.tolist())):
        m = (ctx.place == place) & day
        mine = [s for s, k in zip(ctx.samples, m, strict=True) if k]
        out[place] = {"source": mine[0].source if mine else None, "daylight_frames": int(m.sum()),
                      "hourly_readings": int(len(np.unique(ctx.hour_group[m]))),
                      "dates": len({s.date for s in mine}), "classes": data.class_counts(mine)}
    return out


def heldout(ctx: Context, cfg: Config, systems: dict[str, System],
            out: Path) -> dict[str, Any] | None:
    split = heldout_split(ctx, cfg.heldout_place, cfg)
    if split is None:
        log.warning("no place %r: held-out days not evaluated", cfg.heldout_place)
        return None
    tr, va, te = split["train"], split["val"], split["test"]
    result: dict[str, Any] = {
        "place": cfg.heldout_place,
        "split": {name: {"frames": len(idx), "dates": split_dates(ctx, idx)}
                  for name, idx in (("train", tr), ("val", va), ("test", te))},
        "test_classes": data.class_counts(ctx.subset(te)),
        "training_sets": {}}
    day_test = data.daylight_mask(ctx.subset(te))
    training_sets = {"place_only": tr}
    if len(split["others"]):
        training_sets["all_folders"] = np.concatenate([tr, split["others"]])
    for set_name, train in training_sets.items():
        todo = dict(systems)
        if set_name == "place_only":
            todo["date_hour"] = fit_date_hour
        block: dict[str, Any] = {"train_frames": len(train), "systems": {}}
        for name, fn in todo.items():
            t0 = time.perf_counter()
            predict = fn(ctx, train, va)
            p_test, p_val = predict(te), predict(va)
            block["systems"][name] = heldout_metrics(ctx, te, p_test)
            block["systems"][name]["seconds"] = round(time.perf_counter() - t0, 1)
            if name in ("model", "head", "head_recipe") and len(va) and day_test.any():
                # the app refuses night photos, so calibration is judged on daylight test frames
                pt, yt = p_test[day_test], ctx.y[te][day_test]
                cal = calibration_block(ctx.y[va], p_val, yt, pt, cfg.target_accuracy)
                png = out / f"reliability_{cfg.heldout_place}_{set_name}_{name}.png"
                t = cal["temperature"]
                calibrate.reliability_diagram(p_val, calibrate.apply_temperature(p_val, t), ctx.y[va], png,
                                              title=f"{cal_title(cfg, set_name, name)}: validation days, T={t:.2f}")
                calibrate.reliability_diagram(pt, calibrate.apply_temperature(pt, t), yt,
                                              png.with_name(png.stem + "_test.png"),
                                              title=f"{cal_title(cfg, set_name, name)}: daylight test days, T={t:.2f}")
                cal["png"] = str(png)
                block["systems"][name]["calibration"] = cal
        result["training_sets"][set_name] = block
    return result


def heldout_kfold(ctx: Context, place: str, systems: dict[str, System], k: int = 5,
                  seeds: Sequence[int] = (0, 1, 2)) -> dict[str, Any] | None:
    """Grouped k-fold over that place's daylight days, repeated over seeds: a steadier number
    than one 8-day test split (which holds a handful of moderate frames). Trained on the
    place alone; no early stopping, so the heads are left out."""
    mine = np.flatnonzero((ctx.place == place) & data.daylight_mask(ctx.samples))
    n_days = len({ctx.samples[i].date for i in mine})
    if n_days < k:
        return None
    scores: dict[str, list[float]] = {name: [] for name in systems}
    for seed in seeds:
        for tr, te in data.grouped_kfold(ctx.subset(mine), k, seed):
            tr, te = mine[tr], mine[te]
            for name, fn in systems.items():
                m = evaluate.classification_metrics(ctx.y[te], fn(ctx, tr, None)(te).argmax(axis=1))
                scores[name].append(m["balanced_accuracy"])
    return {"k": k, "seeds": list(seeds), "frames": len(mine), "days": n_days,
            "balanced_accuracy": {name: _spread(v) | {"folds": v} for name, v in scores.items()}}


def cal_title(cfg: Config, set_name: str, name: str) -> str:
    return f"{name}, {cfg.heldout_place} held-out days, trained on {set_name.replace('_', ' ')}"


# ---------------------------------------------------------------------------------------
# report


def _f(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _lopo_tables(metrics: dict[str, Any]) -> list[str]:
    lopo = metrics["lopo"]
    names = list(lopo)
    frames = metrics["frames"]
    rows = ["| held-out place | frames (readings) | classes h/m/d | "
            + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for place in lopo["model"]["per_place"]:
        fr = frames.get(place, {})
        cls = "/".join(str(v) for v in fr.get("classes", {}).values())
        cells = " | ".join(_f(lopo[n]["per_place"][place]["balanced_accuracy"]) for n in names)
        rows.append(f"| {place} | {fr.get('daylight_frames')} ({fr.get('hourly_readings')}) | {cls} | {cells} |")
    ci = [lopo[n]["pooled"].get("balanced_accuracy_95ci") for n in names]
    rows.append("| pooled BA 95% interval (readings resampled) | | | "
                + " | ".join("n/a" if c is None else f"{c['low']:.2f}-{c['high']:.2f}" for c in ci) + " |")
    for label, key in (("**pooled balanced acc.**", "balanced_accuracy"), ("pooled macro-F1", "macro_f1"),
                       ("pooled accuracy", "accuracy")):
        rows.append(f"| {label} | | | " + " | ".join(_f(lopo[n]["pooled"][key]) for n in names) + " |")
    for stat in ("mean", "std", "min", "median", "max"):
        rows.append(f"| per-place BA {stat} | | | "
                    + " | ".join(_f(lopo[n]["spread"]["balanced_accuracy"][stat]) for n in names) + " |")
    rows.append("| seconds (all folds) | | | " + " | ".join(_f(lopo[n]["seconds"], 1) for n in names) + " |")
    return rows


def _confusions(metrics: dict[str, Any]) -> list[str]:
    out = []
    for name, res in metrics["lopo"].items():
        cm = res["pooled"]["confusion_matrix"]
        out.append(f"- {name}: " + "; ".join(
            f"true {LABELS[i]} -> " + "/".join(str(v) for v in row) for i, row in enumerate(cm)))
    return out


def _ablation(metrics: dict[str, Any]) -> list[str]:
    rows = ["| step | recipe tried | alone on the probe (delta) | on the current recipe (delta) | kept |",
            "|---|---|---|---|---|"]
    for r in metrics["recipe"]["ablation"]:
        alone = "" if r["alone"] is None else f"{_f(r['alone'])} ({r['alone_delta']:+.3f})"
        fwd = _f(r["forward"]) + (f" ({r['forward_delta']:+.3f})" if "forward_delta" in r else "")
        rows.append(f"| {r['step']} | {r['recipe']} | {alone} | {fwd} | {'yes' if r['kept'] else 'no'} |")
    return rows


def _heldout(metrics: dict[str, Any]) -> list[str]:
    h = metrics.get("heldout")
    if not h:
        return ["Not evaluated (no such place)."]
    s = h["split"]
    out = [f"Place {h['place']}: train {s['train']['frames']} daylight frames / {len(s['train']['dates'])} days, "
           f"val {s['val']['frames']} / {len(s['val']['dates'])} days, test {s['test']['frames']} frames "
           f"(all hours) / {len(s['test']['dates'])} days: {', '.join(s['test']['dates'])}. "
           f"Test classes: {h['test_classes']}.", ""]
    for set_name, block in h["training_sets"].items():
        out += [f"### trained on {set_name.replace('_', ' ')} ({block['train_frames']} frames)", "",
                "| system | daylight BA | daylight macro-F1 | daylight acc. | all-hours BA | night BA |",
                "|---|---|---|---|---|---|"]
        for name, m in block["systems"].items():
            d, a, n = m["daylight"] or {}, m["all"] or {}, m["night"] or {}
            cells = [_f(d.get("balanced_accuracy")), _f(d.get("macro_f1")), _f(d.get("accuracy")),
                     _f(a.get("balanced_accuracy")), _f(n.get("balanced_accuracy"))]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def _kfold(metrics: dict[str, Any]) -> list[str]:
    kf = metrics.get("heldout_kfold")
    if not kf:
        return []
    out = [f"Grouped {kf['k']}-fold over {kf['days']} daylight days ({kf['frames']} frames) of "
           f"{metrics['config']['heldout_place']}, seeds {kf['seeds']}, trained on that place alone: "
           "balanced accuracy across folds.", "",
           "| system | mean | std | min | median | max |", "|---|---|---|---|---|---|"]
    for name, v in kf["balanced_accuracy"].items():
        out.append(f"| {name} | " + " | ".join(_f(v[k]) for k in ("mean", "std", "min", "median", "max")) + " |")
    return out + [""]


def _calibration(metrics: dict[str, Any]) -> list[str]:
    out = ["| where | system | T | ECE before | ECE after | NLL before | NLL after | n | "
           "uncertain below | coverage / acc. kept (test) |", "|---|---|---|---|---|---|---|---|---|---|"]
    h = metrics.get("heldout") or {}
    for set_name, block in (h.get("training_sets") or {}).items():
        for name, m in block["systems"].items():
            cal = m.get("calibration")
            if not cal:
                continue
            for part in ("val", "test"):
                c = cal[part]
                sel = cal["test_selective"] if part == "test" else None
                where = "val days" if part == "val" else "daylight test days"
                out.append(f"| {h['place']} {where} ({set_name}) | {name} | {cal['temperature']:.2f} | "
                           f"{_f(c['ece_before'])} | {_f(c['ece_after'])} | {_f(c['nll_before'])} | "
                           f"{_f(c['nll_after'])} | {c['n']} | "
                           f"{_f(cal['uncertain']['threshold']) if part == 'val' else ''} | "
                           f"{'' if sel is None else _f(sel['coverage']) + ' / ' + _f(sel['accuracy_kept'])} |")
    for name, res in metrics["lopo"].items():
        cal = res.get("calibration")
        if not cal:
            continue
        out.append(f"| LOPO pooled held-out places | {name} | {_f(cal['temperatures']['median'], 2)} (median) | "
                   f"{_f(cal['pooled_ece_before'])} | {_f(cal['pooled_ece_after'])} | | | | "
                   f"{_f(cal['thresholds']['median'])} (median) | {_f(cal['pooled_coverage'])} / "
                   f"{_f(cal['pooled_accuracy_kept'])} |")
    return out


def write_report(metrics: dict[str, Any], path: Path) -> Path:
    cfg = metrics["config"]
    t = metrics["timings"]
    quick = f" (at most {cfg['per_group']} frames per hourly reading)" if cfg["per_group"] else ""
    lines = [
        "# Airken: evaluation across places", "",
        f"Data: {', '.join(cfg['data'])}; backbone features: {cfg['backbone']}{quick}.",
        "Nothing here fine-tunes the backbone: every system is a model on frozen features computed "
        "once per image (see the list of systems).", "",
        "## Systems", ""] + [f"- **{k}**: {v}" for k, v in metrics["systems"].items()] + [
        f"- chosen recipe (\"model\"): {metrics['recipe']['describe']}", "",
        "## Leave one place out (daylight frames)", "",
        "Train on every other place (minus an inner validation set of whole (place, date) "
        "groups, used for early stopping and temperature), test on every frame of the held-out "
        "place. Balanced accuracy per held-out place; a place with one class scores that "
        "class's recall. Chance is 0.333 pooled.", ""] + _lopo_tables(metrics) + [
        "", "Pooled confusion matrices (rows: true healthy/moderate/danger; counts predicted "
        "healthy/moderate/danger):", ""] + _confusions(metrics) + [
        "", "![LOPO confusion](confusion_lopo_model.png)", "",
        "## Generalisation choices (forward selection by pooled LOPO balanced accuracy)", "",
        "Caveat: chosen on the same LOPO folds they are scored on, so the chosen recipe's "
        "number is optimistic by a selection margin.", ""] + _ablation(metrics) + [
        "", "## Held-out days", ""] + _heldout(metrics) + _kfold(metrics) + [
        "## Calibration (temperature scaling on validation frames)", "",
        f"Uncertain: top probability (after scaling) below a threshold chosen on validation so "
        f"the frames above it reach accuracy >= {cfg['target_accuracy']}.", ""] + _calibration(metrics) + [
        "", "## Timings (seconds)", "",
        f"load + scan {t['load_and_scan_s']}; features {t['features']}; recipe search "
        f"{t['recipe_search_s']} ({t['recipes_tried']} recipes x {len(metrics['lopo_folds'])} folds); "
        f"LOPO systems {t['lopo_s']}; held-out days {t['heldout_s']}; total {t['total_s']} "
        f"(CPU {t.get('total_cpu_s')} s over all threads).", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_args(argv)
    log_to(Path(cfg.out) / "places.log")
    return run(cfg)


if __name__ == "__main__":
    main()
