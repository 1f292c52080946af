"""The leave-one-place-out protocol up to the training: what train.lopo's folds and
train.verdicts' rebuild from a finished run both read.

Its settings (Config), the data with its folds and cached frozen features (prepare), the
app's example photos every fold's model reads, and late fusion of per-fold probabilities.
No TensorFlow here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from airken.examples import EXAMPLES_DIR
from train import data
from train.places.features import LiteFeatures, compute_features, load_samples, thin
from train.places.folds import Run, lopo_folds
from train.places.systems import Context, colour_model


@dataclass
class Config:
    """train.lopo's settings, as its command line gives them and its metrics.json records them."""

    data: list[str]
    out: str
    features: str | None = None  # frozen-feature cache (default: OUT/features)
    places: list[str] = field(default_factory=list)  # only these folds (default: every place)
    seed: int = 0
    inner_val: float = 0.15
    fusion: float = 0.5  # weight of the colour/haze LR in the fused rows
    per_reading: int | None = None  # at most N frames per hourly reading (smoke runs)
    target_accuracy: float = 0.8
    min_temperature: float = 1.0  # as train.train ships; the free fit is reported beside it
    # train.train settings for every fold; None keeps train.train's default (what it ships)
    epoch_frames: int | None = None
    head_epochs: int | None = None
    finetune_epochs: int | None = None
    patience: int | None = None
    batch_size: int | None = None
    unfreeze: int | None = None
    backbone: str | None = None
    balance: str | None = None
    target: str | None = None
    haze_rank: float | None = None
    place_rank: float | None = None
    crop_top: float | None = None


def example_names() -> list[str]:
    """The app's example photos (airken.examples), by name: the order their probabilities are kept in."""
    return [p.stem for p in sorted(EXAMPLES_DIR.glob("*.jpg"))]


def example_inputs(size: int) -> np.ndarray:
    """Model inputs of example_names' photos, decoded as the app does."""
    from airken.core.intake import load_image
    from airken.core.preprocess import to_model_input

    return np.stack([to_model_input(load_image(EXAMPLES_DIR / f"{n}.jpg"), size) for n in example_names()])


def colour_on_examples(ctx: Context, folds) -> list[np.ndarray]:
    """Every fold's colour/haze model (train.places' colour baseline) on the example photos."""
    from airken.core.haze_features import colour_features_batch

    colour = colour_features_batch(example_inputs(224))
    return [colour_model(ctx, f.train).proba_features(colour) for f in folds]


def prepare(cfg: Config, out: Path, extractor=None):
    """(samples, data summary, frozen features, Context, daylight pool, folds) of cfg's data."""
    samples, data_summary = load_samples(cfg.data, out)
    if cfg.per_reading:
        samples = thin(samples, cfg.per_reading)
    feature_dir = Path(cfg.features) if cfg.features else out / "features"
    extractor = extractor or LiteFeatures(feature_dir)
    feats, _ = compute_features(samples, ["whole"], False, extractor, "lite0", feature_dir, cfg.seed)
    ctx = Context.build(samples, feats, cfg.seed)
    pool = np.flatnonzero(data.daylight_mask(samples))
    folds = [f for f in lopo_folds(ctx, pool, cfg.inner_val, cfg.seed) if not cfg.places or f.place in cfg.places]
    return samples, data_summary, feats, ctx, pool, folds


def mix(a: list[np.ndarray], b: list[np.ndarray], weight: float) -> list[np.ndarray]:
    """Late fusion of two systems' per-fold probabilities: (1 - weight) a + weight b."""
    return [(1 - weight) * x + weight * y for x, y in zip(a, b, strict=True)]


def fuse(net: Run, colour: Run, weight: float) -> Run:
    """Late fusion: the network's probabilities averaged with the colour/haze LR's."""
    examples = mix(net.examples, colour.examples, weight) if net.examples and colour.examples else []
    return Run(net.name + "_fused", mix(net.test, colour.test, weight), mix(net.val, colour.val, weight),
               net.seconds + colour.seconds, examples)
