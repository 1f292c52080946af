"""What the network is trained to do in phase 2, beyond "name the class":

- the class loss: cross-entropy of the 3-class softmax, or (``target="logpm"``) regression on
  log PM2.5 with the class bands as thresholds (:class:`BandHead`: one score and a learned
  spread; :class:`BandProbabilities`: logistic class probabilities between log 30 and log 54);
- a within-place ranking loss (``place_rank``): in a batch, pairs of frames of one place
  whose PM2.5 differ by more than ``RANK_GAP`` in log must be ordered by the model's score;
- a haze ranking loss (``haze_rank``): a hazier copy of a photo (train.haze) must never
  score cleaner than the photo (a hinge with ``HAZE_MARGIN``).

The score is the expected class index, p(moderate) + 2 p(danger): one number that grows
with pollution, for either head. The exported model is the plain classifier (pixels in, three
probabilities out); the ranking losses only shape its weights through a training wrapper.
Works on TF 2.15 (Keras 2) and newer (Keras 3): Keras layers with TensorFlow ops only.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from airken.core.classes import DANGER_ABOVE, HEALTHY_BELOW
from train.haze import DEFAULT_HAZE, HazeRange, haze_tf

keras = tf.keras

RANK_GAP = 0.2  # |log PM2.5| difference (about 22 %) below which two readings are not ordered
HAZE_MARGIN = 0.1  # how much higher (in expected class) a hazier copy must score
BAND_EDGES = (math.log(HEALTHY_BELOW), math.log(DANGER_ABOVE))


def expected_class(probs):
    return tf.reduce_sum(probs * tf.constant([0.0, 1.0, 2.0], probs.dtype), axis=-1)


@keras.utils.register_keras_serializable(package="airken")
class BandHead(keras.layers.Layer):
    """Features -> (s, tau): a log-PM2.5 score and its spread (the head's raw output for
    ``target="logpm"``; :class:`BandProbabilities` turns them into the three classes)."""

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), 1), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(1,), initializer=keras.initializers.Constant(3.7))
        self.log_tau = self.add_weight(name="log_tau", shape=(1,), initializer=keras.initializers.Constant(-1.0))
        super().build(input_shape)

    def call(self, x):
        s = tf.matmul(tf.cast(x, self.kernel.dtype), self.kernel) + self.bias
        tau = tf.nn.softplus(self.log_tau) + 0.05
        return tf.concat([s, tau * tf.ones_like(s)], axis=-1)


def band_probabilities(raw):
    """P(class <= c) = sigmoid((edge_c - s) / tau) at the band edges log 30 and log 54."""
    s, tau = raw[:, :1], raw[:, 1:2]
    low = tf.sigmoid((BAND_EDGES[0] - s) / tau)
    mid = tf.sigmoid((BAND_EDGES[1] - s) / tau)
    return tf.concat([low, mid - low, 1.0 - mid], axis=-1)


@keras.utils.register_keras_serializable(package="airken")
class BandProbabilities(keras.layers.Layer):
    """(s, tau) -> the three class probabilities: plain TFLite ops (sigmoid, sub), so the
    exported file still outputs 3 probabilities."""

    def call(self, raw):
        return band_probabilities(raw)


def probabilities(raw, target: str):
    """The head's raw output (logits, or (s, tau)) -> class probabilities."""
    return band_probabilities(raw) if target == "logpm" else tf.nn.softmax(raw)


def targets_of(samples) -> np.ndarray:
    """Per-frame training targets (N, 3) float32 of train.data samples: class, log PM2.5
    (NaN when the folder gives only a label), place id."""
    places = {p: i for i, p in enumerate(sorted({s.place for s in samples}))}
    rows = [(s.label, math.log(max(s.pm25, 1.0)) if s.pm25 is not None else math.nan, places[s.place])
            for s in samples]
    return np.array(rows, dtype=np.float32).reshape(len(samples), 3)


def head_loss(target: str = "class", place_rank: float = 0.0):
    """Loss of the head's raw output, per frame: cross-entropy from the logits (or, for
    "logpm", the logistic density of log PM2.5 around s with spread tau; cross-entropy of the
    band probabilities where a frame has no PM2.5), plus the batch's within-place ranking
    term spread evenly over its frames. From raw outputs, so confident mistakes keep their
    gradient."""

    def loss(y_true, raw):
        raw = tf.cast(raw, tf.float32)
        y_true = tf.cast(y_true, tf.float32)
        label = tf.cast(y_true[:, 0], tf.int32)
        if target == "logpm":
            s, tau = raw[:, 0], raw[:, 1]
            z = (tf.where(tf.math.is_finite(y_true[:, 1]), y_true[:, 1], s) - s) / tau
            nll = z + 2.0 * tf.nn.softplus(-z) + tf.math.log(tau)
            ce = keras.losses.sparse_categorical_crossentropy(label, band_probabilities(raw))
            per_frame = tf.where(tf.math.is_finite(y_true[:, 1]), nll, ce)
        else:
            per_frame = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label, logits=raw)
        if place_rank > 0:
            per_frame = per_frame + place_rank * place_ranking(y_true, probabilities(raw, target))
        return per_frame

    return loss


def place_ranking(y_true, probs):
    """Mean logistic ranking loss over the batch's ordered same-place pairs (0 without any)."""
    score = expected_class(probs)
    logpm, place = y_true[:, 1], y_true[:, 2]
    diff = logpm[None, :] - logpm[:, None]  # j dirtier than i when > 0
    ordered = (place[None, :] == place[:, None]) & (diff > RANK_GAP) & tf.math.is_finite(diff)
    margin = score[None, :] - score[:, None]
    losses = tf.where(ordered, tf.nn.softplus(-4.0 * margin), tf.zeros_like(margin))
    n = tf.reduce_sum(tf.cast(ordered, tf.float32))
    return tf.math.divide_no_nan(tf.reduce_sum(losses), n)


def haze_loss(_y_true, gap):
    """Hinge on score(hazier copy) - score(photo): at least HAZE_MARGIN."""
    return tf.nn.relu(HAZE_MARGIN - tf.cast(gap[:, 0], tf.float32))


class ScoreGap(keras.layers.Layer):
    """score(hazier copy) - score(photo), one column, from the head's raw outputs."""

    def __init__(self, target: str, **kwargs):
        super().__init__(**kwargs)
        self.target = target

    def call(self, inputs):
        photo, hazy = (probabilities(tf.cast(r, tf.float32), self.target) for r in inputs)
        return (expected_class(hazy) - expected_class(photo))[:, None]


def training_model(classifier, target: str, haze: bool):
    """The wrapper phase 2 fits: the classifier's raw head output on the photos ("head") and,
    with ``haze``, the score gap to their hazier copies ("haze_gap"). Shares every weight
    with ``classifier``."""
    raw = keras.Model(classifier.input, classifier.get_layer("head_logits").output, name="airken_raw")
    shape = classifier.input_shape[1:]
    pixels = keras.Input(shape, name="pixels")
    outputs = {"head": raw(pixels)}
    inputs = {"pixels": pixels}
    if haze:
        inputs["hazy"] = keras.Input(shape, name="hazy")
        outputs["haze_gap"] = ScoreGap(target, name="haze_gap", dtype="float32")([outputs["head"], raw(inputs["hazy"])])
    return keras.Model(inputs, outputs, name="airken_train")


def losses(target: str, place_rank: float, haze_rank: float) -> tuple[dict, dict]:
    """(loss per output, weight per output) for training_model."""
    out = {"head": head_loss(target, place_rank)}
    weights = {"head": 1.0}
    if haze_rank > 0:
        out["haze_gap"], weights["haze_gap"] = haze_loss, haze_rank
    return out, weights


def dataset(x: np.ndarray, y: np.ndarray, depth: np.ndarray | None, batch_size: int, training: bool,
            seed: int = 0, haze: HazeRange = DEFAULT_HAZE):
    """tf.data of ({"pixels"[, "hazy"]}, {"head": targets[, "haze_gap": 0]}) batches.

    ``y``: targets() rows. ``depth``: uint8 depth proxies (train.haze.depth_maps) when the
    haze loss is on, else None. Training batches are reshuffled and augmented like
    train.data's (geometry only); the hazier copy is made from the photo before its own
    augmentation. Validation copies are hazed with fixed seeds, so val loss is comparable
    across epochs."""
    from train.data import augment_fn

    size = int(x.shape[1])
    parts = (x, y) if depth is None else (x, y, depth)
    ds = tf.data.Dataset.from_tensor_slices(parts).cache()
    if training:
        ds = ds.shuffle(max(1, len(x)), seed=seed, reshuffle_each_iteration=True)
    try:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=training)
    except TypeError:  # older TF: same seeds each epoch, but the shuffle still differs
        seeds = tf.data.Dataset.random(seed=seed)
    pairs = 1 if depth is None else 3  # seed pairs per frame: its augmentation [, the haze, the copy's]
    seeds = seeds.batch(2 * pairs, drop_remainder=True)
    augment = augment_fn(size)

    def one(element, s):
        image, target = tf.cast(element[0], tf.float32), element[1]
        s = tf.reshape(s, (pairs, 2))
        inputs = {"pixels": augment(image, s[0]) if training else image}
        outputs = {"head": target}
        if depth is not None:
            hazy = haze_tf(image, element[2], s[1], haze)
            inputs["hazy"] = augment(hazy, s[2]) if training else hazy
            outputs["haze_gap"] = tf.zeros((1,))
        return inputs, outputs

    ds = tf.data.Dataset.zip((ds, seeds)).map(one, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
