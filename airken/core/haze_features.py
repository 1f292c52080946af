"""Hand-made colour and haze features of a photo: the colour/haze baseline of the training
pipeline, and the haze model the app averages with the network (airken.core.fusion).

Haze scatters light: the sky turns from blue to white-grey, colours lose saturation,
distant contrast drops and the dark channel (per-pixel minimum over RGB and a small
neighbourhood) rises. Numpy only.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

FEATURE_NAMES: tuple[str, ...] = (
    "sky_blue_red_ratio",  # mean B / mean R in the upper third
    "sky_blue_chroma",  # mean B / (R + G + B) in the upper third
    "sky_brightness",  # mean grey level of the upper third, 0-1
    "sky_saturation",  # mean HSV saturation of the upper third
    "saturation_mean",  # whole frame
    "saturation_entropy",  # entropy of the saturation histogram, 0-1
    "dark_channel_mean",  # whole frame, 0-1
    "sky_dark_channel_mean",  # upper third, 0-1
    "rms_contrast",  # std of grey levels, 0-1
    "brightness_mean",  # mean grey level, 0-1
    "edge_density",  # share of pixels with a strong grey gradient
)

DARK_PATCH = 7  # dark-channel neighbourhood in pixels (at 224 px input)
SAT_BINS = 16
EDGE_THRESHOLD = 0.08  # grey-level step (0-1) counted as an edge
_EPS = 1e-6


def _channel_max_min(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # elementwise over the three planes: several times faster than reducing the last axis
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)


def _saturation(rgb: np.ndarray) -> np.ndarray:
    mx, mn = _channel_max_min(rgb)
    return np.where(mx > _EPS, (mx - mn) / np.maximum(mx, _EPS), 0.0)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def dark_channel(rgb: np.ndarray, patch: int = DARK_PATCH) -> np.ndarray:
    """He et al.'s dark channel: min over RGB, then a patch x patch minimum filter. Works on
    uint8 pixels as well as on 0-1 floats (minima commute with the scaling)."""
    return min_filter(_channel_max_min(rgb)[1], patch)


def min_filter(x: np.ndarray, size: int) -> np.ndarray:
    """Square min filter (edges padded) as two 1-D passes of shifted copies: exact, and
    much faster than a sliding-window view."""
    r = size // 2
    h, w = x.shape
    p = np.pad(x, r, mode="edge")
    cols = p[0:h]
    for k in range(1, size):
        cols = np.minimum(cols, p[k : k + h])
    out = cols[:, 0:w]
    for k in range(1, size):
        out = np.minimum(out, cols[:, k : k + w])
    return out


def _entropy(hist: np.ndarray) -> float:
    """Entropy of a histogram's counts, 0-1."""
    p = hist[hist > 0] / max(1, hist.sum())
    return float(-(p * np.log2(p)).sum() / np.log2(len(hist)))


def _saturation_tables() -> tuple[np.ndarray, np.ndarray]:
    """The saturation of every (max, min) pair of 8-bit values, as _saturation works it out on
    a photo's 0-1 pixels, and its bin in np.histogram(sat, SAT_BINS, (0, 1)) ([k/16, (k+1)/16),
    the last one closed): a photo's saturation and histogram are then lookups, not float work."""
    top, low = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    sat = _saturation(np.stack([top, low, low], axis=-1) / 255.0).ravel()
    edges = np.linspace(0.0, 1.0, SAT_BINS + 1)
    bins = np.minimum(np.searchsorted(edges, sat, side="right") - 1, SAT_BINS - 1)
    return sat, bins


_SAT_BY_PAIR, _SAT_BIN_BY_PAIR = _saturation_tables()


def _edge_density(grey: np.ndarray) -> float:
    gx = np.abs(np.diff(grey, axis=1))[:-1, :]
    gy = np.abs(np.diff(grey, axis=0))[:, :-1]
    return float((gx * gx + gy * gy > EDGE_THRESHOLD**2).mean()) if gx.size else 0.0  # |gradient| > threshold


def colour_features(x: np.ndarray) -> np.ndarray:
    """Features of one uint8 RGB image (H, W, 3) -> float32 (len(FEATURE_NAMES),).

    "Sky" is the upper third of the frame: a rough proxy that holds for photos taken
    with the sky at the top (the app's instructions ask for that).
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[-1] != 3 or min(x.shape[:2]) < 3:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {x.shape}")
    rgb = x.astype(np.float64) / 255.0
    sky = rgb[: max(1, rgb.shape[0] // 3)]
    r, g, b = (sky[..., i].mean() for i in range(3))
    top, low = _channel_max_min(x)  # on uint8: the same order as on 0-1 floats, and exact
    pair = top.astype(np.intp) * 256 + low
    sat = _SAT_BY_PAIR.take(pair)  # what _saturation(rgb) gives, value for value
    sky_sat = sat[: sky.shape[0]]
    grey = _grey(rgb)
    dark = min_filter(low, DARK_PATCH) / 255.0  # dark_channel(x): minima commute with the scaling
    feats = (
        (b + _EPS) / (r + _EPS),
        b / (r + g + b + _EPS),
        grey[: sky.shape[0]].mean(),
        sky_sat.mean(),
        sat.mean(),
        _entropy(np.bincount(_SAT_BIN_BY_PAIR.take(pair).ravel(), minlength=SAT_BINS)),
        dark.mean(),
        dark[: sky.shape[0]].mean(),
        grey.std(),
        grey.mean(),
        _edge_density(grey),
    )
    return np.asarray(feats, dtype=np.float32)


def colour_features_batch(xs: np.ndarray | Iterable[np.ndarray]) -> np.ndarray:
    """Features of a batch of images (N, H, W, 3) -> float32 (N, len(FEATURE_NAMES))."""
    rows = [colour_features(x) for x in xs]
    if not rows:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return np.stack(rows)


# Within one fixed view, haze also shows in how far the ground's detail stands out from the
# sky's light. These rank hazy hours of one view; across views they mean little, so only a
# calibration profile (airken.core.profiles) uses them, never the model for new places.
VIEW_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES + (
    "ground_contrast_rel",  # grey-level std of the lower third / mean grey of the top quarter
    "ground_range",  # 95th - 5th percentile of grey in the lower third
    "ground_dark",  # 10th percentile of the dark (min over RGB) of the lower third
    "ground_edges_rel",  # mean horizontal grey step of the lower third / its mean grey
    "zenith_horizon_blue",  # (B - R) of the top eighth minus that of the band just above the middle
)


def view_features(x: np.ndarray, colour: np.ndarray | None = None) -> np.ndarray:
    """colour_features (given, or computed) and the five within-view features above."""
    x = np.asarray(x)
    colour = colour_features(x) if colour is None else colour
    rgb = x.astype(np.float64) / 255.0
    h = rgb.shape[0]
    grey, low = _grey(rgb), slice(2 * h // 3, h)
    ground = grey[low]
    sky = max(float(grey[: max(1, h // 4)].mean()), 1e-3)
    blue_red = rgb[..., 2] - rgb[..., 0]
    extra = (
        ground.std() / sky,
        np.percentile(ground, 95) - np.percentile(ground, 5),
        np.percentile(_channel_max_min(rgb[low])[1], 10),
        np.abs(np.diff(ground, axis=1)).mean() / max(float(ground.mean()), 1e-3),
        blue_red[: max(1, h // 8)].mean() - blue_red[h // 3: max(h // 3 + 1, h // 2)].mean(),
    )
    return np.concatenate([colour, np.asarray(extra, dtype=np.float32)]).astype(np.float32)
