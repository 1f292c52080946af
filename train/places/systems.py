"""The systems a study scores, each ``fit(ctx, train, val) -> predict(idx) -> (n, 3)
probabilities`` on the frames of a :class:`Context`: the baselines (majority class,
colour/haze model, linear probe), the frozen-feature recipes (logistic regression with the
generalisation choices), an image-free date/hour control, and train.train's phase-1 head.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date as Date

import numpy as np

from airken.core.classes import LABELS
from train import data, evaluate
from train.data import Sample
from train.places.features import FeatureSet

K = len(LABELS)


TOL = 1e-4  # logistic regression tolerance (sklearn's default, as train.evaluate uses)


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


def _constant(probs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda idx: np.tile(probs, (len(idx), 1))


def _logreg(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float) -> Callable[[np.ndarray], np.ndarray]:
    """train.evaluate.fit_logistic on features the recipe has already scaled; predict(x) -> (n, K)."""
    return evaluate.fit_logistic(x, y, w, c, standardise=False).proba_features


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


System = Callable[[Context, np.ndarray, np.ndarray | None], Callable[[np.ndarray], np.ndarray]]


def fit_majority(ctx: Context, train: np.ndarray, val: np.ndarray | None = None):
    p = np.zeros(K)
    p[evaluate.majority_baseline(ctx.y[train], 1)[0]] = 1.0
    return _constant(p)


def colour_model(ctx: Context, train: np.ndarray, view: str = "whole", weighting: str = "class"):
    """train.evaluate's colour/haze model fitted on the frames ``train``."""
    return evaluate.fit_haze_model(ctx.feats[(view, False)].colour[train], ctx.y[train],
                                   sample_weights(ctx, train, weighting))


def fit_colour(ctx: Context, train: np.ndarray, val: np.ndarray | None = None, view: str = "whole",
               weighting: str = "class"):
    """train.evaluate's colour baseline: colour/haze features of the whole frame + LR."""
    model, colour = colour_model(ctx, train, view, weighting), ctx.feats[(view, False)].colour
    return lambda idx: model.proba_features(colour[idx])


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
