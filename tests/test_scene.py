"""airken.core.scene: refuse what the model cannot back, warn about the rest, on real photos
(assets/examples) and on generated frames."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from airken.core.intake import load_image
from airken.core.scene import (
    MSG_BLANK,
    MSG_DARK,
    MSG_NIGHT,
    MSG_NO_SKY,
    MSG_WHITE,
    WARN_BLUR,
    WARN_LITTLE_SKY,
    WARN_SUN,
    SceneReport,
    check_scene,
    haze_map,
    sky_mask,
)
from airken.examples import EXAMPLES_DIR as EXAMPLES
from bench.fixtures.badinputs import brick_wall, make_corpus, noise_image, sky_gradient, solid

REFUSED_EXAMPLES = {"night-rocket-launch.jpg": MSG_NIGHT, "no-sky-coffee.jpg": MSG_NO_SKY}
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.glob("*.jpg"))


@pytest.fixture(scope="module")
def examples() -> dict[str, Image.Image]:
    return {name: load_image(EXAMPLES / name) for name in EXAMPLE_NAMES}


def test_examples_are_present():
    assert len(EXAMPLE_NAMES) >= 12
    assert set(REFUSED_EXAMPLES) <= set(EXAMPLE_NAMES)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_refused_or_accepted(examples, name):
    report = check_scene(examples[name])
    assert report.refused == (name in REFUSED_EXAMPLES), (report.reason, report.stats)
    assert report.reason == REFUSED_EXAMPLES.get(name)
    if report.refused:
        assert report.warnings == ()


@pytest.mark.parametrize("size", [224, 128])
def test_verdicts_hold_at_smaller_sizes(examples, size):
    for name, img in examples.items():
        small = img.copy()
        small.thumbnail((size, size))
        assert check_scene(small).refused == (name in REFUSED_EXAMPLES), (name, size)


def test_sun_in_frame_warns_and_clear_skies_do_not(examples):
    assert WARN_SUN in check_scene(examples["sun-glare-hilltop.jpg"]).warnings
    for name in ("clear-kite.jpg", "clear-bridge-cables.jpg", "fog-pier.jpg", "overcast-storm.jpg"):
        assert WARN_SUN not in check_scene(examples[name]).warnings, name


def test_fog_is_a_reading_not_a_blank_frame(examples):
    from airken.core.scene import WARN_GREY

    report = check_scene(examples["fog-pier.jpg"])  # a black-and-white picture: read, shown as unsure
    assert not report.refused and report.warnings == (WARN_GREY,) and report.unreliable
    assert report.stats["sky_fraction"] > 0.4


def test_blur_warns(examples):
    sharp = examples["clear-autumn-aitzgorri.jpg"]
    assert WARN_BLUR not in check_scene(sharp).warnings
    blurred = check_scene(sharp.filter(ImageFilter.GaussianBlur(3)))
    assert not blurred.refused and WARN_BLUR in blurred.warnings


@pytest.mark.parametrize(
    "img, reason",
    [
        (solid((0, 0, 0)), MSG_DARK),
        (solid((12, 14, 30)), MSG_DARK),
        (solid((255, 255, 255)), MSG_WHITE),
        (solid((128, 128, 128)), MSG_BLANK),
        (solid((120, 160, 220)), MSG_BLANK),
        (noise_image(), MSG_NO_SKY),
        (brick_wall(), MSG_NO_SKY),
    ],
    ids=["black", "near-black", "white", "grey", "flat-blue", "noise", "wall"],
)
def test_generated_frames_refused(img, reason):
    report = check_scene(img)
    assert report.refused and report.reason == reason, report.stats


def test_generated_sky_accepted():
    img = sky_gradient()
    report = check_scene(img)
    assert not report.refused and report.reason is None, report.stats
    assert report.stats["sky_fraction"] > 0.6
    mask = sky_mask(img)
    assert mask.shape == (img.height, img.width) and mask.dtype == bool
    assert mask[: img.height // 2].mean() > 0.95  # the sky
    assert mask[-img.height // 10 :].mean() < 0.05  # the ground


def test_corpus_scene_outcomes(tmp_path):
    cases = [c for c in make_corpus(tmp_path) if c.expect == "ok"]
    assert sum(c.scene is not None for c in cases) >= 6
    for case in cases:
        report = check_scene(load_image(case.path))  # every decodable odd file: no crash
        if case.scene is not None:
            assert report.refused == (case.scene == "refuse"), (case.name, report.reason, report.stats)


def test_report_shape_and_stats(examples):
    report = check_scene(examples["clear-mountains-picos-de-europa.jpg"])
    assert isinstance(report, SceneReport)
    with pytest.raises(AttributeError):
        report.refused = True  # type: ignore[misc]
    for key in ("mean_luma", "dark_fraction", "clipped_fraction", "sky_fraction", "sharpness"):
        assert key in report.stats
    assert all(isinstance(v, float) and math.isfinite(v) for v in report.stats.values())
    json.dumps(report.stats, allow_nan=False)
    for img in (solid((0, 0, 0)), noise_image(), examples["clear-kite.jpg"]):
        r = check_scene(img)
        json.dumps(r.stats, allow_nan=False)
        assert all(w.endswith(".") and w[0].isupper() for w in r.warnings)
        assert r.reason is None or r.reason.endswith(".")


def test_any_mode_and_tiny_images():
    for img in (
        Image.new("L", (60, 40), 200),
        Image.new("RGBA", (60, 40), (90, 140, 220, 255)),
        Image.new("RGB", (1, 1), (90, 140, 220)),
        Image.new("RGB", (3, 700), (90, 140, 220)),
    ):
        report = check_scene(img)
        assert report.refused and report.reason
        assert sky_mask(img).shape == (img.height, img.width)


def test_haze_map(examples):
    for name in ("fog-pier.jpg", "clear-kite.jpg"):
        img = examples[name]
        out = haze_map(img)
        assert out.mode == "RGB" and out.size == img.size

    def yellowness(img: Image.Image) -> float:
        a = np.asarray(haze_map(img), float)
        return float((a[..., 0] + a[..., 1] - 2 * a[..., 2]).mean())

    assert yellowness(solid((230, 230, 230))) > yellowness(examples["fog-pier.jpg"])
    assert yellowness(examples["fog-pier.jpg"]) > yellowness(examples["clear-kite.jpg"])
    assert yellowness(examples["clear-kite.jpg"]) > yellowness(solid((0, 0, 0)))
    assert haze_map(Image.new("L", (5, 3))).size == (5, 3)


# Real photos without sky that scikit-image ships (a package the tests install): a cat, a
# coffee cup, bricks, grass, gravel, motorbikes, a retina scan, a night launch pad.
SKIMAGE_NO_SKY = ["chelsea.png", "coffee.png", "brick.png", "grass.png", "gravel.png", "motorcycle_left.png",
                  "retina.jpg", "rocket.jpg"]


@pytest.mark.parametrize("name", SKIMAGE_NO_SKY)
def test_real_non_sky_photos_from_a_package_are_refused(name):
    skimage = pytest.importorskip("skimage")
    path = Path(skimage.__file__).parent / "data" / name
    report = check_scene(load_image(path))
    assert report.refused and report.reason, (name, report.stats)


def test_haze_map_is_the_dark_channel_of_the_haze_features():
    from airken.core.haze_features import dark_channel
    from airken.core.scene import _RAMP, haze_map

    a = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    expected = _RAMP[dark_channel(a, 15)]
    assert np.array_equal(np.asarray(haze_map(Image.fromarray(a))), expected)


def test_the_saturation_lookups_hold_what_the_float_work_gives():
    """colour_features reads saturation and its histogram bin from tables of (max, min) pairs:
    for every pair, the value _saturation works out and the bin np.histogram puts it in."""
    from airken.core import haze_features as hf

    top, low = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    pairs = (low <= top).ravel()
    sat = hf._saturation(np.stack([top, low, low], axis=-1) / 255.0).ravel()[pairs]
    assert np.array_equal(hf._SAT_BY_PAIR[pairs], sat)
    bins = hf._SAT_BIN_BY_PAIR[pairs]
    for k in range(hf.SAT_BINS):
        counts, _ = np.histogram(sat[bins == k], bins=hf.SAT_BINS, range=(0.0, 1.0))
        assert counts[k] == counts.sum() == (bins == k).sum()
    x = np.random.default_rng(2).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    counts, _ = np.histogram(hf._saturation(x / 255.0), bins=hf.SAT_BINS, range=(0.0, 1.0))
    entropy = hf.colour_features(x)[hf.FEATURE_NAMES.index("saturation_entropy")]
    assert entropy == pytest.approx(hf._entropy(counts), abs=1e-6)


def test_a_black_and_white_photo_is_read_but_never_relied_on():
    from airken.core.scene import WARN_GREY

    skimage = pytest.importorskip("skimage")
    grey = Image.open(Path(skimage.__file__).parent / "data" / "camera.png").convert("RGB")  # a grey field and sky
    report = check_scene(grey)
    assert not report.refused and report.unreliable and report.warnings[0] == WARN_GREY
    colour = check_scene(load_image(EXAMPLES / "clear-kite.jpg"))
    assert not colour.unreliable and WARN_GREY not in colour.warnings


def test_the_predictor_marks_a_black_and_white_verdict_unsure():
    from airken.core.predictor import get_predictor
    from airken.core.scene import WARN_GREY

    pred = get_predictor().predict(EXAMPLES / "fog-pier.jpg")
    assert pred.label is not None and pred.unsure and pred.unsure_reason == WARN_GREY


def _sky_strip_over(ground: Image.Image, sky_share: float) -> Image.Image:
    """A frame whose top `sky_share` is a clear sky and the rest a textured ground."""
    sky = load_image(EXAMPLES / "clear-kite.jpg").convert("RGB")
    w, h = 480, 360
    top = round(h * sky_share)
    frame = ground.convert("RGB").resize((w, h))
    frame.paste(sky.resize((w, max(1, top))), (0, 0))
    return frame


def test_little_sky_makes_the_reading_unreliable(examples):
    skimage = pytest.importorskip("skimage")
    brick = Image.open(Path(skimage.__file__).parent / "data" / "brick.png")  # texture: never sky
    report = check_scene(_sky_strip_over(brick, 0.1))
    assert not report.refused and WARN_LITTLE_SKY in report.warnings and report.unreliable
    for name in ("clear-kite.jpg", "clear-bridge-cables.jpg", "overcast-storm.jpg"):  # plenty of sky
        assert not check_scene(examples[name]).unreliable, name


def test_a_graphic_on_white_is_never_given_a_sure_verdict():
    from airken.core.predictor import get_predictor

    skimage = pytest.importorskip("skimage")
    pred = get_predictor().predict(Path(skimage.__file__).parent / "data" / "logo.png")
    assert pred.label is None or pred.unsure
