"""airken.core.intake: every bad or odd file ends in an RGB image or ImageRejected, nothing else."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from airken.core import rgb
from airken.core.intake import ImageRejected, IntakeLimits, load_image
from bench.fixtures.badinputs import (
    ORIENT_STORE,
    _cases,
    jpeg_bytes,
    make_corpus,
    png_bytes,
    solid,
    upright_marker,
)

CASE_NAMES = [c[0] for c in _cases()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {c.name: c for c in make_corpus(tmp_path_factory.mktemp("intake"))}


def _load(corpus, name: str) -> Image.Image:
    if name not in corpus:
        pytest.skip(f"{name} cannot be written by this build")
    return load_image(corpus[name].path)


def _close(a: Image.Image, b: Image.Image, tol: float = 12.0) -> bool:
    return a.size == b.size and float(np.abs(np.asarray(a, float) - np.asarray(b, float)).mean()) < tol


# ---------------------------------------------------------------- the corpus


def test_corpus_is_big_enough(corpus):
    assert len(corpus) >= 25
    assert {c.expect for c in corpus.values()} == {"ok", "reject"}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_case_reads_or_is_refused_with_a_message(corpus, name):
    if name not in corpus:
        pytest.skip(f"{name} cannot be written by this build")
    case = corpus[name]
    if case.expect == "reject":
        with pytest.raises(ImageRejected) as err:
            load_image(case.path)
        msg = err.value.args[0]
        assert isinstance(msg, str) and len(msg) > 15 and ":" in msg, msg
    else:
        img = load_image(case.path)
        assert img.mode == "RGB"
        assert max(img.size) <= IntakeLimits().work_size
        img.getpixel((0, 0))  # pixels are loaded and detached from the (closed) file


def test_messages_say_what_went_wrong(corpus):
    def msg(name: str) -> str:
        with pytest.raises(ImageRejected) as err:
            load_image(corpus[name].path)
        return err.value.args[0].lower()

    assert "empty" in msg("empty.jpg")
    assert "text" in msg("text.jpg")
    assert "pdf" in msg("doc.pdf")
    assert "web page" in msg("page.html")
    for name in ("truncated.jpg", "truncated.png", "corrupt-marker.jpg", "bad-crc.png", "random.jpg"):
        assert "damaged" in msg(name), name
    for name in ("bomb.png", "bomb-65k.jpg", "bomb-96mp.jpg", "bomb-64mp.jpg"):
        assert "too many pixels" in msg(name), name
    assert "too small" in msg("10x10.png")
    assert "strip" in msg("strip-3000x100.png")


def test_bombs_are_refused_before_any_pixel_is_decoded(corpus, monkeypatch):
    calls = []
    real_load = ImageFile.ImageFile.load

    def spy(self):
        calls.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    for name in ("bomb.png", "bomb-65k.jpg", "bomb-96mp.jpg", "bomb-64mp.jpg"):
        with pytest.raises(ImageRejected):
            load_image(corpus[name].path)
    assert calls == []
    load_image(corpus["sky.jpg"].path)
    assert calls  # the spy does see a normal decode


# ---------------------------------------------------------------- what comes out


@pytest.mark.parametrize("tag", sorted(ORIENT_STORE))
def test_all_eight_exif_orientations_come_out_upright(corpus, tag):
    assert _close(load_image(corpus[f"orient-{tag}.jpg"].path), upright_marker())


def test_heic_and_its_orientation(corpus):
    assert _close(_load(corpus, "photo.heic"), upright_marker())
    assert _close(_load(corpus, "orient-6.heic"), upright_marker())


def test_bad_exif_orientation_is_ignored(corpus):
    assert _close(load_image(corpus["bad-orientation.jpg"].path), upright_marker())


def test_first_frame_or_page(corpus):
    for name in ("animated.gif", "animated.webp", "multipage.tif", "multi-picture.jpg"):
        img = load_image(corpus[name].path)
        assert img.size == ((128, 96) if name.endswith(".jpg") else (64, 64)), name
        r, g, b = img.getpixel((32, 32))
        assert r > 150 and g < 60 and b < 60, (name, (r, g, b))


def test_alpha_is_composited_over_white(corpus):
    img = load_image(corpus["palette-alpha.png"].path)
    assert img.getpixel((10, 10)) == (30, 60, 200)  # opaque palette entry
    assert img.getpixel((10, 50)) == (255, 255, 255)  # transparent index
    assert load_image(corpus["la.png"].path).getpixel((5, 5)) == (255, 255, 255)
    r, g, b = load_image(corpus["rgba.png"].path).getpixel((5, 5))
    assert abs(r - 127) <= 2 and abs(g - 127) <= 2 and b == 255


def test_cmyk_jpeg_colours(corpus):
    r, g, b = load_image(corpus["cmyk.jpg"].path).getpixel((32, 32))
    assert r < 30 and g > 220 and b > 220  # pure cyan ink


def test_wide_grey_levels_are_scaled_not_clipped(corpus):
    for name in ("grey16.png", "float.tif"):
        a = np.asarray(load_image(corpus[name].path))[..., 0].astype(float)
        assert a[:, 0].max() < 10, name
        assert a[:, -1].min() > 240, name
        assert 100 < a.mean() < 155, name  # a clipped gradient would be mostly 255
    a = np.asarray(load_image(corpus["rgb16.png"].path)).astype(float)
    assert a[0, 0, 0] < 5 and a[0, -1, 0] > 250 and abs(a[..., 1].mean() - 128) < 2


@pytest.mark.parametrize(
    "mode, make",
    [
        ("PA", lambda: Image.new("P", (40, 40), 1).convert("PA")),
        ("La", lambda: Image.new("LA", (40, 40), (200, 128)).convert("La")),
        ("RGBa", lambda: Image.new("RGBA", (40, 40), (0, 0, 255, 0)).convert("RGBa")),
        ("I", lambda: Image.fromarray(np.full((40, 40), 40000, np.int32))),
        ("I;16B", lambda: Image.frombytes("I;16B", (40, 40), b"\x80\x00" * 1600)),
        ("F", lambda: Image.fromarray(np.full((40, 40), 0.5, np.float32))),
        ("1", lambda: Image.new("1", (40, 40), 0)),
        ("YCbCr", lambda: Image.new("RGB", (40, 40), (10, 120, 230)).convert("YCbCr")),
        ("HSV", lambda: Image.new("RGB", (40, 40), (10, 120, 230)).convert("HSV")),
    ],
)
def test_every_mode_converts_to_rgb(mode, make):
    src = make()
    assert src.mode == mode
    out = rgb.to_rgb(src)
    assert out.mode == "RGB" and out.size == src.size
    if mode in ("I", "I;16B", "F"):
        assert 120 <= out.getpixel((0, 0))[0] <= 160  # mid-grey stays mid-grey
    if mode == "RGBa":
        assert out.getpixel((0, 0)) == (255, 255, 255)  # fully transparent -> white


def test_sources_bytes_path_and_streams_agree(tmp_path):
    data = jpeg_bytes(upright_marker())
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    ref = np.asarray(load_image(data))
    with open(path, "rb") as fh:
        from_file = load_image(fh)
    for img in (
        load_image(bytearray(data)),
        load_image(memoryview(data)),
        load_image(str(path)),
        load_image(path),
        load_image(io.BytesIO(data)),
        from_file,
    ):
        assert np.array_equal(np.asarray(img), ref)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(ImageRejected, match="No such file"):
        load_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageRejected, match="folder"):
        load_image(tmp_path)


def test_programming_errors_still_raise():
    with pytest.raises(TypeError):
        load_image(12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_image(io.StringIO("not bytes"))  # type: ignore[arg-type]


def test_truncated_images_stay_refused_after_import():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    assert issubclass(ImageRejected, ValueError)


# ---------------------------------------------------------------- limits


def test_big_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(upright_marker()) + b"\0" * 5000)
    small = IntakeLimits(max_bytes=2000)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with pytest.raises(ImageRejected, match="too large"):
        load_image(path, small)
    assert opened == []


def test_big_bytes_and_streams_are_refused():
    data = jpeg_bytes(upright_marker()) + b"\0" * 5000
    small = IntakeLimits(max_bytes=2000)
    with pytest.raises(ImageRejected, match="too large"):
        load_image(data, small)
    with pytest.raises(ImageRejected, match="too large"):
        load_image(io.BytesIO(data), small)


class EndlessStream(io.RawIOBase):
    """Not seekable and never ends: only a bounded read can refuse it."""

    def __init__(self):
        self.served = 0

    def readable(self):
        return True

    def readinto(self, buf):
        n = len(buf)
        buf[:n] = b"\xff" * n
        self.served += n
        return n


def test_endless_upload_is_cut_at_the_limit():
    stream = EndlessStream()
    with pytest.raises(ImageRejected, match="too large"):
        load_image(stream, IntakeLimits(max_bytes=10_000))
    assert stream.served <= 10_001


def test_pixel_and_side_limits_are_configurable():
    data = png_bytes(solid((90, 140, 220), 200, 100))
    assert load_image(data, IntakeLimits()).size == (200, 100)
    with pytest.raises(ImageRejected, match="too many pixels"):
        load_image(data, IntakeLimits(max_pixels=10_000))
    with pytest.raises(ImageRejected, match="too small"):
        load_image(data, IntakeLimits(min_side=150))
    with pytest.raises(ImageRejected, match="strip"):
        load_image(data, IntakeLimits(max_aspect=1.5))


def test_limits_from_env(monkeypatch):
    monkeypatch.setenv("AIRKEN_MAX_BYTES", "1000")
    monkeypatch.setenv("AIRKEN_MAX_PIXELS", "2e6")
    monkeypatch.setenv("AIRKEN_MIN_SIDE", "64")
    assert IntakeLimits.from_env() == IntakeLimits(max_bytes=1000, max_pixels=2_000_000, min_side=64)
    monkeypatch.setenv("AIRKEN_MAX_BYTES", "lots")
    monkeypatch.setenv("AIRKEN_MIN_SIDE", "-3")
    limits = IntakeLimits.from_env()
    assert limits.max_bytes == IntakeLimits().max_bytes and limits.min_side == IntakeLimits().min_side
    for name in ("AIRKEN_MAX_BYTES", "AIRKEN_MAX_PIXELS", "AIRKEN_MIN_SIDE"):
        monkeypatch.delenv(name)
    assert IntakeLimits.from_env() == IntakeLimits()


def test_env_limits_apply_when_no_limits_given(monkeypatch):
    monkeypatch.setenv("AIRKEN_MIN_SIDE", "100")
    with pytest.raises(ImageRejected, match="too small"):
        load_image(png_bytes(solid((90, 140, 220), 80, 80)))


# ---------------------------------------------------------------- speed path


def test_12_megapixel_jpeg_is_decoded_small_via_draft(tmp_path, monkeypatch):
    w, h = 4000, 3000
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    a = np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                        np.full((h, w, 1), 200.0, np.float32)], axis=2).astype(np.uint8)
    path = tmp_path / "12mp.jpg"
    Image.fromarray(a).save(path, quality=85)
    del a

    drafted = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = real_draft(self, mode, size)
        drafted.append(self.size)  # the size the decoder will actually produce
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    img = load_image(path)
    assert drafted == [(500, 375)]  # libjpeg decodes at 1/8 scale, never 4000x3000
    assert img.size == (448, 336) and img.mode == "RGB"
    assert os.path.getsize(path) < IntakeLimits().max_bytes


class TrickleStream(io.RawIOBase):
    """Hands out at most 100 bytes per read, like a pipe or a socket."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buf):
        chunk = self.data.read(min(len(buf), 100))
        buf[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_are_joined():
    data = jpeg_bytes(upright_marker())
    assert _close(load_image(TrickleStream(data)), load_image(data), tol=0.01)


def test_threads_get_the_same_outcomes(corpus):
    from concurrent.futures import ThreadPoolExecutor

    def outcome(case):
        try:
            load_image(case.path)
            return "ok"
        except ImageRejected:
            return "reject"

    cases = list(corpus.values()) * 3
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(outcome, cases))
    assert got == [c.expect for c in cases]


def _heic(img, thumbnails):
    import pillow_heif

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    img.save(buf, "HEIF", quality=60, thumbnails=thumbnails)
    return buf.getvalue()


def test_heic_is_read_from_its_thumbnail_when_it_covers_what_the_pipeline_reads():
    from airken.core.intake import read_photo

    sky = Image.linear_gradient("L").resize((1600, 1200)).convert("RGB")
    thumbed = read_photo(_heic(sky, [320]))
    assert thumbed.image.size == (320, 240) and thumbed.format == "HEIF"  # the iPhone-sized thumbnail
    assert read_photo(_heic(sky, [])).image.size == (448, 336)  # no thumbnail: the full image, shrunk
    assert read_photo(_heic(sky, [160])).image.size == (448, 336)  # too small for the model: full image
    # 16:10: a 320 px thumbnail is 200 px high, under the model's 224: the full image is read
    assert read_photo(_heic(sky.resize((1600, 1000)), [320])).image.size == (448, 280)
