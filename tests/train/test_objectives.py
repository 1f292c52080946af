"""Phase-2 objectives: the haze copies, the band head, the ranking losses and the training
wrapper they need, on tiny synthetic inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from airken.core.haze_features import dark_channel
from train import objectives
from train.haze import NEAR, depth_proxy, hazier_copies


def _scene(h=64, w=64, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((h, w, 3), np.uint8)
    x[: h // 2] = (60, 120, 230)  # blue sky
    x[h // 2:] = rng.integers(20, 120, (h - h // 2, w, 3))  # textured ground
    return x


def test_depth_is_far_on_the_sky_and_near_at_the_bottom():
    x = _scene()
    sky = np.zeros(x.shape[:2], bool)
    sky[:32] = True
    d = depth_proxy(x, sky)
    assert np.all(d[:32] == 1.0)
    assert d[-1].max() == pytest.approx(NEAR)
    assert np.all(np.diff(d[32:, 0]) <= 0)  # nearer the lower the row


def test_hazier_copies_are_hazier_and_reproducible():
    x = np.stack([_scene(seed=s) for s in range(4)])
    hazy = hazier_copies(x, seed=3)
    assert hazy.shape == x.shape and hazy.dtype == np.uint8
    assert np.array_equal(hazy, hazier_copies(x, seed=3))
    assert not np.array_equal(hazy, hazier_copies(x, seed=4))
    for a, b in zip(x, hazy, strict=True):
        assert dark_channel(b).mean() > dark_channel(a).mean()  # the veil lifts the darkest channel
        sat = lambda im: ((im.max(-1) - im.min(-1)) / np.maximum(im.max(-1), 1)).mean()  # noqa: E731
        assert sat(b.astype(float)) < sat(a.astype(float))


def test_band_head_gives_probabilities_that_follow_its_score():
    head = objectives.BandHead()
    feats = tf.constant(np.random.default_rng(0).normal(size=(5, 8)), tf.float32)
    raw = head(feats)
    probs = objectives.BandProbabilities()(raw).numpy()
    assert raw.shape == (5, 2) and probs.shape == (5, 3)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5) and np.all(probs >= 0)
    edges = [math.log(30), math.log(54)]
    scores = tf.constant([[math.log(10), 0.1], [math.log(40), 0.1], [math.log(200), 0.1]])
    assert objectives.band_probabilities(scores).numpy().argmax(axis=1).tolist() == [0, 1, 2]
    assert edges[0] < 3.7 < edges[1]  # the score starts in the moderate band


def test_logpm_loss_is_lowest_near_the_true_value():
    loss = objectives.head_loss("logpm")
    truth = math.log(40.0)
    y = tf.constant([[1.0, truth, 0.0]] * 3)
    raw = tf.constant([[math.log(10.0), 0.3], [truth, 0.3], [math.log(200.0), 0.3]])
    values = loss(y, raw).numpy()
    assert values[1] < values[0] and values[1] < values[2]
    # a frame with a label but no PM2.5 falls back to the class cross-entropy of the bands
    no_pm = loss(tf.constant([[2.0, float("nan"), 0.0]]), raw[2:]).numpy()
    assert np.isfinite(no_pm).all()


def test_place_ranking_orders_only_same_place_pairs_far_enough_apart():
    y = tf.constant([[0, math.log(10), 0], [2, math.log(90), 0], [1, math.log(40), 1], [1, math.log(41), 1]],
                    tf.float32)
    right = tf.constant([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1]])
    wrong = tf.constant([[0.05, 0.05, 0.9], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.8, 0.1, 0.1]])
    # place 1's pair is 2.5 % apart: not ordered, so its "wrong" order costs nothing
    assert float(objectives.place_ranking(y, right)) < float(objectives.place_ranking(y, wrong))
    lone = tf.constant([[0, math.log(10), 0], [2, math.log(90), 1]], tf.float32)
    assert float(objectives.place_ranking(lone, right[:2])) == 0.0  # no same-place pair


def test_haze_hinge_charges_a_copy_that_scores_cleaner():
    gap = tf.constant([[-0.5], [0.0], [0.5]])
    values = objectives.haze_loss(None, gap).numpy()
    assert values[0] > values[1] > values[2] == 0.0


@pytest.mark.parametrize("target, haze, place_rank", [("class", True, 0.5), ("logpm", False, 0.5)])
def test_the_training_wrapper_fits_and_shares_the_classifier(target, haze, place_rank):
    from train.haze import depth_maps
    from train.train import build_classifier

    keras = tf.keras
    inp = keras.Input((48, 64, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=4)(inp))
    backbone = keras.Model(inp, pooled)
    clf = build_classifier(backbone, 3, 0.1, target=target, crop_top=0.75, input_shape=(64, 64, 3))
    assert clf.get_layer("sky_crop").output.shape[1] == 48
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (12, 64, 64, 3)).astype(np.uint8)
    t = np.stack([rng.integers(0, 3, 12), np.log(rng.uniform(5, 200, 12)), rng.integers(0, 2, 12)], 1)
    t = t.astype(np.float32)
    depth = depth_maps(x) if haze else None
    wrapper = objectives.training_model(clf, target, haze)
    loss, weights = objectives.losses(target, place_rank, 0.5 if haze else 0.0)
    wrapper.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss, loss_weights=weights)
    before = [w.copy() for w in clf.get_weights()]
    hist = wrapper.fit(objectives.dataset(x, t, depth, 4, training=True), epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, clf.get_weights(), strict=True))
    probs = clf.predict(x.astype(np.float32), verbose=0)
    assert probs.shape == (12, 3) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
