"""Physics-based haze augmentation: a hazier copy of a photo, from the atmospheric
scattering model

    I = J t + A (1 - t),    t = exp(-beta d)

J is the photo, A the airlight (the colour of the veil), beta the extinction and d a depth
proxy: the sky is far (d = 1), and below the horizon the rows are nearer the lower they sit
(d falls to ``NEAR`` at the bottom edge). A real scene's depth is unknown, so the copies
carry no PM2.5 label of their own; they only say "this is at least as polluted as the
original", which train.objectives turns into a ranking loss beside the class loss.

One implementation, in TensorFlow (it runs inside the tf.data pipeline); ``hazier_copies``
runs it eagerly on numpy batches for the frozen-feature study and for looking at copies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

NEAR = 0.15  # depth proxy of the bottom row (the sky is 1)


@dataclass(frozen=True)
class HazeRange:
    """What a random hazier copy draws from: the sky's transmission t_sky = exp(-beta) and
    the airlight's brightness and warmth (polluted veils are grey to grey-brown)."""

    t_sky: tuple[float, float] = (0.35, 0.85)
    airlight: tuple[float, float] = (0.72, 0.98)  # brightness of A, share of 255
    warmth: tuple[float, float] = (0.0, 0.12)  # blue reduced by this share, green by half of it


DEFAULT_HAZE = HazeRange()


def depth_proxy(x: np.ndarray, sky: np.ndarray | None = None) -> np.ndarray:
    """(H, W) depth in (0, 1]: 1 on the sky and at the horizon, falling linearly to NEAR at
    the bottom. The horizon is the lowest row where at least half of the row is sky (the top
    row when there is no sky)."""
    h, w = x.shape[:2]
    if sky is None:
        from airken.core.scene import sky_mask

        sky = sky_mask(Image.fromarray(x))
    rows = np.flatnonzero(sky.mean(axis=1) >= 0.5)
    horizon = int(rows.max()) if rows.size else 0
    r = np.arange(h, dtype=np.float32)
    below = np.clip((r - horizon) / max(1, h - 1 - horizon), 0.0, 1.0)
    d_rows = 1.0 - (1.0 - NEAR) * below
    return np.where(sky, 1.0, np.broadcast_to(d_rows[:, None], (h, w))).astype(np.float32)


def depth_maps(x: np.ndarray) -> np.ndarray:
    """Depth proxies of a uint8 batch (N, H, W, 3), stored as uint8 (0-255) to keep it small."""
    return np.stack([np.round(depth_proxy(img) * 255).astype(np.uint8) for img in x]) if len(x) \
        else np.zeros(x.shape[:3], np.uint8)


def haze_tf(image, depth, seed, haze: HazeRange = DEFAULT_HAZE):
    """One hazier copy in TensorFlow: ``image`` float32 (H, W, 3) 0-255, ``depth`` (H, W)
    uint8 or 0-1 float, ``seed`` a stateless seed pair; beta and the airlight drawn from
    ``haze``."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, num=3)
    t_sky = tf.random.stateless_uniform([], seeds[0], *haze.t_sky)
    level = tf.random.stateless_uniform([], seeds[1], *haze.airlight) * 255.0
    warm = tf.random.stateless_uniform([], seeds[2], *haze.warmth)
    airlight = level * tf.stack([1.0, 1.0 - warm / 2, 1.0 - warm])
    d = tf.cast(depth, tf.float32)
    d = d / 255.0 if depth.dtype == tf.uint8 else d
    t = tf.exp(tf.math.log(t_sky) * d)[..., None]  # exp(-beta d), beta = -log t_sky
    return tf.clip_by_value(image * t + airlight * (1.0 - t), 0.0, 255.0)


def hazier_copies(x: np.ndarray, seed: int = 0, depth: np.ndarray | None = None,
                  haze: HazeRange = DEFAULT_HAZE) -> np.ndarray:
    """One random hazier copy of every image in a uint8 batch (N, H, W, 3), reproducible."""
    import tensorflow as tf

    depth = depth_maps(x) if depth is None else depth
    out = [haze_tf(tf.constant(img, tf.float32), tf.constant(d), tf.constant([seed, i], tf.int64), haze)
           for i, (img, d) in enumerate(zip(x, depth, strict=True))]
    return np.stack([np.round(o.numpy()).astype(np.uint8) for o in out]) if out else x.copy()
