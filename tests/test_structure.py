"""airken.core.structure and the intake around it: a file's layout is judged before any decoder
sees it, only the first frame is read (frames are never counted), and no full-size copy of
an image is converted."""
from __future__ import annotations

import io

import pytest
from PIL import GifImagePlugin, Image, TiffImagePlugin

from airken.core import intake, structure
from airken.core.intake import ImageRejected, load_image
from bench.fixtures.badinputs import ORIENT_STORE, jpeg_bytes, solid, upright_marker
from bench.fixtures.hostile import (
    gif_many_extensions,
    jpeg_many_app_segments,
    png_many_idat,
    tiff_many_pages,
    tiff_tiny_tiles,
)


@pytest.mark.parametrize("make, at_limit, over", [
    (jpeg_many_app_segments, 990, 1100),
    (lambda n: png_many_idat(n), structure.MAX_PNG_DATA_CHUNKS, structure.MAX_PNG_DATA_CHUNKS + 1000),
    (gif_many_extensions, structure.MAX_GIF_BLOCKS // 2 - 5, structure.MAX_GIF_BLOCKS // 2 + 5),
    (lambda n: tiff_tiny_tiles(n * 16), 128, 129),  # 128 x 128 tiles = 16,384
], ids=["jpeg segments", "png data chunks", "gif blocks", "tiff tiles"])
def test_limits_hold_at_the_edge(make, at_limit, over):
    assert structure.find_problem(make(at_limit)) is None
    assert structure.find_problem(make(over))


def test_damaged_layouts_are_left_to_the_decoder():
    good = jpeg_bytes(solid((90, 140, 220), 64, 64))
    for cut in (good[:3], good[:40], b"\x89PNG\r\n\x1a\n\x00", b"GIF89a", b"II*\x00\xff\xff\xff\x7f"):
        assert structure.find_problem(cut) is None


def test_a_motion_photo_trailer_is_not_walked():
    """Phones append a video after the JPEG's end; its bytes can look like any marker."""
    photo = jpeg_bytes(solid((90, 140, 220), 64, 64))
    assert structure.find_problem(photo + b"\xff\xda\x00\x02" * 10_000) is None


def test_frames_are_never_counted(monkeypatch, tmp_path):
    def boom(self):
        raise AssertionError("n_frames walks every frame")

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "n_frames", property(boom))
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "n_frames", property(boom))
    assert load_image(tiff_many_pages(2000)).size == (32, 32)
    b = io.BytesIO()
    solid((200, 30, 30), 64, 64).save(b, "GIF", save_all=True, append_images=[solid((30, 30, 200), 64, 64)])
    assert load_image(b.getvalue()).getpixel((5, 5))[0] > 150


def test_conversion_sees_only_the_shrunk_image(monkeypatch):
    seen = []
    real = intake.to_rgb
    monkeypatch.setattr(intake, "to_rgb", lambda im: seen.append(im.size) or real(im))
    img = Image.new("RGBA", (3000, 2000), (0, 0, 255, 128))
    b = io.BytesIO()
    img.save(b, "PNG")
    out = load_image(b.getvalue())
    assert seen == [out.size] and max(out.size) <= intake.IntakeLimits().work_size


@pytest.mark.parametrize("fmt", ["TIFF", "PNG", "WEBP"])
def test_orientation_of_formats_decoded_whole(fmt):
    exif = Image.Exif()
    exif[0x0112] = 6
    b = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    upright_marker().transpose(ORIENT_STORE[6]).save(b, fmt, exif=exif.tobytes(), **extra)
    out = load_image(b.getvalue())
    assert out.size == upright_marker().size
    r, g, bl = out.getpixel((4, 4))
    assert r > 150 and g < 100  # the red block is top-left again


def test_formats_we_do_not_read_never_reach_their_decoder(monkeypatch):
    from PIL import IcoImagePlugin

    monkeypatch.setattr(IcoImagePlugin.IcoImageFile, "_open", lambda self: pytest.fail("ICO decoder ran"))
    b = io.BytesIO()
    solid((90, 140, 220), 64, 64).save(b, "ICO")
    with pytest.raises(ImageRejected, match="not one we read"):
        load_image(b.getvalue())
