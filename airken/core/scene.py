"""Scene checks on the working image: is this a daytime photo with enough sky to read?

The model was trained on daylight skies; it returns a confident class for anything, so
night shots, walls and blank frames are refused here before it runs, and weaker problems
(little sky, glare, blur, blown-out areas) become warnings. Thresholds were set by looking
at real sky photos (clear, hazy, fog, overcast, dusk, sunset, sun in frame), a fixed city
webcam day and night, and phone photos that show mostly road or buildings.

Also: sky_mask (where the sky is) and haze_map (dark-channel haze picture for the UI).
numpy + Pillow only: this runs in the app.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from airken.core.haze_features import dark_channel
from airken.core.pixels import box3, box_mean, grow, laplacian, local_gradient, max_min

GRID = 128  # long side of the grid the sky mask is computed on: smooth, and fast

# ITU-R BT.601 luma weights
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class SceneReport:
    warnings: tuple[str, ...]
    refused: bool
    reason: str | None
    stats: dict[str, float]

    @property
    def unreliable(self) -> bool:
        """The photo can be read, but not relied on (no colour, little sky, glare, dim or
        blown-out light): the verdict is shown as unsure, whatever the model's confidence."""
        return not UNRELIABLE_WARNINGS.isdisjoint(self.warnings)


@dataclass(frozen=True)
class SceneThresholds:
    """Refuse / warn limits. Luma and V (max of R, G, B) are on a 0-255 scale; "sky_v90" is
    the 90th percentile of V over the sky mask (the bright part of the sky)."""

    dark_luma: float = 40.0  # a pixel this dark counts as "dark"
    refuse_mean_luma: float = 35.0  # whole frame darker than this: night / lens covered
    refuse_dark_fraction: float = 0.75
    refuse_sky_v90: float = 130.0  # even the brightest sky is dim: night
    night_max_mean_luma: float = 100.0  # ... unless the rest of the frame is in daylight
    # Night with a long exposure (city webcams, phone night modes) looks bright enough, but
    # the sky is a dim coloured glow no brighter than the ground, which shows point lights.
    night_sky_v90: float = 180.0
    night_top_ratio: float = 1.25  # mean luma of the top third / whole frame
    night_sky_saturation: float = 0.2  # grey haze in daylight stays below this
    night_lights: float = 0.003  # share of lower-frame pixels that are small bright spots
    warn_sky_v90: float = 150.0  # dim sky: dusk or heavy cloud
    clip_luma: float = 250.0
    refuse_clipped: float = 0.6
    warn_clipped: float = 0.15
    refuse_sky_fraction: float = 0.05
    warn_sky_fraction: float = 0.15
    blank_std: float = 2.0  # luma std of a frame with nothing in it
    warn_ground_sharpness: float = 15.0  # Laplacian variance of the non-sky part
    sun_min_fraction: float = 0.002  # compact clipped blob inside the sky: the sun
    sun_max_fraction: float = 0.03
    # No colour at all (black-and-white): the blue of the sky, the model's main clue, is gone.
    # Phone photos, even of fog, keep a colour spread of 12 or more (99th percentile, data frames).
    grey_spread: float = 4.0


DEFAULT_THRESHOLDS = SceneThresholds()

MSG_DARK = "The photo is too dark to read the air: take it in daylight."
MSG_NIGHT = "This looks like a night or twilight photo: take it in daylight."
MSG_BLANK = "The photo is blank (one flat colour): take a photo of the sky."
MSG_WHITE = "The photo is almost entirely over-exposed: take it again, away from the sun."
MSG_NO_SKY = "There is little or no sky in this photo: point the camera at the sky and horizon."
WARN_LITTLE_SKY = "Only a small part of the photo is sky: include more sky for a better reading."
WARN_DIM = "The light is low (dusk or heavy cloud): the reading is less reliable."
WARN_CLIPPED = "Part of the photo is over-exposed (pure white): the reading is less reliable."
WARN_SUN = "The sun is in the picture: glare can make the air look hazier than it is."
WARN_GREY = ("This photo has no colour (black and white): the colour of the sky is the main clue, so "
             "the reading is a rough hint at best.")
WARN_BLUR = "The photo looks blurred: hold the camera still for a sharper picture."
# Warnings that say the photo cannot back a sure verdict. The model answers confidently for
# anything it is shown (a logo on white, a face against a bright wall); where the sky is small,
# glared, dim or clipped, that confidence is not the air's. Blur alone does not hide the sky.
UNRELIABLE_WARNINGS = frozenset({WARN_GREY, WARN_LITTLE_SKY, WARN_DIM, WARN_CLIPPED, WARN_SUN})


# ---------------------------------------------------------------- the arrays the checks read


def _as_array(img: Image.Image) -> np.ndarray:
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.float32)


def _luma(a: np.ndarray) -> np.ndarray:
    return a @ _LUMA


def _grid(img: Image.Image) -> np.ndarray:
    scale = GRID / max(img.size)
    if scale < 1:
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = (img if img.mode == "RGB" else img.convert("RGB")).resize(size, Image.Resampling.BILINEAR,
                                                                         reducing_gap=2.0)
    return _as_array(img)


@dataclass(frozen=True)
class _Grid:
    """The coarse grid the sky is found on, with what several checks read of it (worked out once)."""

    rgb: np.ndarray  # float32 (h, w, 3)
    v: np.ndarray  # max of R, G, B
    low: np.ndarray  # min of R, G, B
    saturation: np.ndarray  # HSV's: (max - min) / max
    luma: np.ndarray

    @classmethod
    def of(cls, img: Image.Image) -> _Grid:
        a = _grid(img)
        v, low = max_min(a)
        return cls(a, v, low, (v - low) / np.maximum(v, 1.0), _luma(a))


# ---------------------------------------------------------------- sky


def _fine_texture(y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Mean neighbour step of the full-resolution luma, pooled onto the grid: windows, roof
    tiles, leaves and noise that the coarse grid averages away."""
    step = np.zeros_like(y)
    step[:, 1:] = np.abs(np.diff(y, axis=1))
    step[1:] = np.maximum(step[1:], np.abs(np.diff(y, axis=0)))
    pooled = Image.fromarray(step).resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(pooled)


def _sky_from_grid(grid: _Grid, fine: np.ndarray) -> np.ndarray:
    r, g, b = grid.rgb[..., 0], grid.rgb[..., 1], grid.rgb[..., 2]
    v, s = grid.v, grid.saturation
    # Coarse steps (edges, clouds) and fine texture (windows, leaves, noise) both rule out sky.
    grad = np.where(fine > 12.0, np.inf, local_gradient(grid.luma))
    blueish = b >= r - 8
    # Haze over polluted cities is grey-brown, so low-saturation warm tones count as sky.
    dull = s < 0.35
    warm_bright = (v > 170) & (r > b)  # sunset and sunrise skies
    # Green and saturated: lawns and fields (haze can have a faint green cast: not that).
    vegetation = (g > b + 8) & (g >= r) & (s > 0.25)
    smooth = (grad < 5.0) & (v >= 60) & ~vegetation
    # Broken cloud is textured, but still blue-ish and bright: keep it.
    cloudy = (grad < 25.0) & (b > r + 10) & (v > 140)
    cool = (smooth & (blueish | dull)) | cloudy
    candidate = cool | (smooth & warm_bright)
    # Sky is reached from the top of the frame; smooth patches lower down (roads, walls,
    # water) only count when they connect to it. Seeds must be cool-coloured so a warm
    # wooden table at the top of a frame does not pass for a sunset.
    seed = np.zeros_like(candidate)
    seed[: max(1, candidate.shape[0] // 6)] = True
    return grow(seed & cool, candidate)


def _upscale_mask(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if m.shape == (size[1], size[0]):
        return m
    big = Image.fromarray(m.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)
    return np.asarray(big) > 127


def sky_mask(img: Image.Image) -> np.ndarray:
    """Boolean sky mask at the image's own size (computed on a coarse grid, then scaled)."""
    return _upscale_mask(_sky(img, _luma(_as_array(img)))[1], img.size)


def _sky(img: Image.Image, y: np.ndarray) -> tuple[_Grid, np.ndarray]:
    """(the grid, the sky mask on it); y is the image's full-resolution luma."""
    grid = _Grid.of(img)
    return grid, _sky_from_grid(grid, _fine_texture(y, grid.v.shape))


def _sun_fraction(grid: _Grid, sky: np.ndarray) -> float:
    """Area (share of the frame) of the one small, compact, clipped blob set inside the sky.

    That is the sun. Blown-out hazy sky is clipped too, but it spreads to the frame's
    edges, so blobs touching the top or sides are not counted; bright clouds make several
    patches rather than one.
    """
    y = box3(grid.luma)
    clipped = y >= 250
    if not clipped.any():
        return 0.0
    seed = np.zeros_like(clipped)
    seed[np.unravel_index(int(np.argmax(y)), y.shape)] = True
    blob = grow(seed, clipped)
    if blob.sum() < 0.7 * clipped.sum():
        return 0.0  # several white patches: bright clouds, not one sun
    rows, cols = np.nonzero(blob)
    h, w = blob.shape
    if rows.min() == 0 or cols.min() == 0 or cols.max() == w - 1:
        return 0.0
    compact = blob.sum() / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1)) > 0.4
    ring = blob.astype(np.float32)
    for _ in range(3):
        ring = box3(ring)
    ring = (ring > 0) & ~blob  # three pixels around the blob
    in_sky = ring.any() and (ring & sky).sum() >= 0.3 * ring.sum()
    return float(blob.mean()) if compact and in_sky else 0.0


def _lights_fraction(y: np.ndarray) -> float:
    """Share of the lower two thirds made of small bright spots on darker surroundings
    (street and window lights at night)."""
    low = y[y.shape[0] // 3 :]
    if low.size == 0:
        return 0.0
    bright = low > 170
    if not bright.any():  # no spot can be lit: the 9x9 means are not needed
        return 0.0
    spots = bright & (low - box_mean(low, 9) > 50)
    return float(spots.mean())


# ---------------------------------------------------------------- the check


def scene_stats(img: Image.Image, thresholds: SceneThresholds = DEFAULT_THRESHOLDS) -> dict[str, float]:
    """Numbers behind check_scene, all plain floats (JSON-safe: -1.0 where undefined)."""
    y = _luma(_as_array(img))
    grid, sky = _sky(img, y)
    gy, gv = grid.luma, grid.v
    has_sky = sky.mean() >= 0.01
    top = max(1, gy.shape[0] // 3)
    ground = ~_upscale_mask(sky, img.size)
    lap = laplacian(y)
    return {
        "mean_luma": float(y.mean()),
        "contrast": float(y.std()),
        "dark_fraction": float((y < thresholds.dark_luma).mean()),
        "clipped_fraction": float((y >= thresholds.clip_luma).mean()),
        "sky_fraction": float(sky.mean()),
        "sky_v90": float(np.percentile(gv[sky], 90)) if has_sky else -1.0,
        "sky_saturation": float(np.median(grid.saturation[sky])) if has_sky else -1.0,
        "top_ratio": float(gy[:top].mean() / max(float(gy.mean()), 1.0)),
        "top_v50": float(np.median(gv[:top])),
        "lights_fraction": _lights_fraction(y),
        "sharpness": _variance(lap),
        "ground_sharpness": _variance(lap, ground) if ground.mean() >= 0.1 else -1.0,
        "sun_fraction": _sun_fraction(grid, sky),
        # 99th percentile of max(R, G, B) - min(R, G, B) on the grid: 0 for a black-and-white picture
        "colour_spread": float(np.percentile(gv - grid.low, 99)),
    }


def _variance(lap: np.ndarray | None, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian (inside mask, at the image's size): how sharp the picture is."""
    if lap is not None and mask is not None:
        lap = lap[mask[1:-1, 1:-1]]
    return float(lap.var()) if lap is not None and lap.size else 0.0


def check_scene(img: Image.Image, thresholds: SceneThresholds = DEFAULT_THRESHOLDS) -> SceneReport:
    """Refuse scenes the model cannot back; warn about weaker ones.

    Refused, first match wins: too dark (mean luma < 35 or > 75 % dark pixels), almost all
    over-exposed (> 60 % clipped), blank (luma std < 2), no sky (< 5 % of the frame),
    night (sky dim and the frame dim, see SceneThresholds). Warned: no colour, little sky (< 15 %),
    dim sky, the sun in the frame, over-exposed areas (> 15 %), blurred foreground. Read but
    unreliable (shown as unsure): every warning in UNRELIABLE_WARNINGS.
    """
    st = scene_stats(_check_size(img), thresholds)
    reason = _refusal(st, thresholds)
    warnings = () if reason else _warnings(st, thresholds)
    return SceneReport(warnings=warnings, refused=reason is not None, reason=reason, stats=st)


CHECK_SIZE = 320  # long side the checks run at: the statistics need no more, and it halves their cost


def _check_size(img: Image.Image) -> Image.Image:
    if max(img.size) <= CHECK_SIZE:
        return img
    scale = CHECK_SIZE / max(img.size)
    return img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))), Image.BILINEAR)


def _is_night(st: dict[str, float], t: SceneThresholds) -> bool:
    # Night frames are dim overall; a dark "sky" in a bright frame is a wall in shadow.
    if st["mean_luma"] >= t.night_max_mean_luma:
        return False
    v90 = st["sky_v90"]
    if v90 < t.refuse_sky_v90:
        # ... and the sky is the top of the frame, not a dark patch below a brighter top.
        return st["top_v50"] <= 1.1 * v90
    return (
        v90 < t.night_sky_v90
        and st["top_ratio"] < t.night_top_ratio
        and st["sky_saturation"] > t.night_sky_saturation
        and st["lights_fraction"] > t.night_lights
    )


def _refusal(st: dict[str, float], t: SceneThresholds) -> str | None:
    # Order matters: each rule below may assume the ones above passed (e.g. sky exists).
    if st["mean_luma"] < t.refuse_mean_luma or st["dark_fraction"] > t.refuse_dark_fraction:
        return MSG_DARK
    if st["clipped_fraction"] > t.refuse_clipped:
        return MSG_WHITE
    if st["contrast"] < t.blank_std:
        return MSG_BLANK
    if st["sky_fraction"] < t.refuse_sky_fraction:
        # Without sky we cannot tell night from a dark room; a dim top says which to blame.
        return MSG_NIGHT if st["top_v50"] < t.refuse_sky_v90 * 0.6 else MSG_NO_SKY
    if _is_night(st, t):
        return MSG_NIGHT
    if st["sky_v90"] < t.refuse_sky_v90:
        return MSG_NO_SKY
    return None


def _warnings(st: dict[str, float], t: SceneThresholds) -> tuple[str, ...]:
    out = []
    if st["colour_spread"] < t.grey_spread:
        out.append(WARN_GREY)
    if st["sky_fraction"] < t.warn_sky_fraction:
        out.append(WARN_LITTLE_SKY)
    if st["sky_v90"] < t.warn_sky_v90:
        out.append(WARN_DIM)
    if t.sun_min_fraction <= st["sun_fraction"] <= t.sun_max_fraction:
        out.append(WARN_SUN)
    elif st["clipped_fraction"] > t.warn_clipped:
        out.append(WARN_CLIPPED)
    if 0 <= st["ground_sharpness"] < t.warn_ground_sharpness:  # -1: nothing but sky
        out.append(WARN_BLUR)
    return tuple(out)


# ---------------------------------------------------------------- haze map


def _ramp() -> np.ndarray:
    """256-entry colour map: deep blue (clear) -> teal -> yellow (hazy)."""
    stops = np.array([[20, 30, 110], [30, 140, 160], [250, 225, 60]], np.float32)
    x = np.linspace(0, 2, 256)
    i = np.minimum(x.astype(int), 1)
    f = (x - i)[:, None]
    return np.clip(stops[i] * (1 - f) + stops[i + 1] * f, 0, 255).astype(np.uint8)


_RAMP = _ramp()


def haze_map(img: Image.Image, patch: int = 15) -> Image.Image:
    """Dark channel prior (per-pixel min over RGB, then a patch min) as a colour picture.

    Haze lifts the darkest channel of distant objects: clear air maps to blue, thick haze
    to yellow. Same size as the input.
    """
    dark = dark_channel(np.asarray(img.convert("RGB"), dtype=np.uint8), patch)  # uint8 in, uint8 out
    return Image.fromarray(_RAMP[dark], "RGB")
