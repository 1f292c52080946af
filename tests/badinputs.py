"""Bad and odd input files for the intake and scene tests.

make_corpus(dir) writes every case into dir and returns them with the expected outcome:
expect="reject" (load_image must raise ImageRejected) or "ok" (load_image must return RGB),
and, for files that decode, scene="refuse" / "accept" when check_scene has a clear answer.
Everything is generated here from numpy/PIL or written byte by byte; no external photos.
"""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_WRITE = True
except ImportError:  # pragma: no cover
    HEIF_WRITE = False

# exif_transpose undoes the tag; a file tagged t therefore stores UPRIGHT transformed by the
# inverse of that operation (rotations swap direction, flips are their own inverse).
ORIENT_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str  # "ok" | "reject"
    scene: str | None = None  # "accept" | "refuse" | None (no opinion)
    why: str = ""


# ---------------------------------------------------------------- picture makers


def upright_marker(w: int = 64, h: int = 48) -> Image.Image:
    """Asymmetric test card: blue top half, green bottom half, red block top-left."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2] = (40, 90, 220)
    a[h // 2 :] = (40, 160, 60)
    a[:16, :16] = (220, 40, 40)
    return Image.fromarray(a)


def sky_gradient(w: int = 480, h: int = 320, ground: float = 0.2, seed: int = 0) -> Image.Image:
    """Clear sky: deep blue at the top fading to pale near the horizon, textured ground below."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, h)[:, None]
    top, horizon = np.array([60, 120, 220.0]), np.array([190, 215, 240.0])
    a = (top + (horizon - top) * t[..., None]) * np.ones((1, w, 1))
    g0 = int(h * (1 - ground))
    a[g0:] = np.array([70, 100, 50.0]) + rng.normal(0, 25, (h - g0, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def brick_wall(w: int = 480, h: int = 360, seed: int = 1) -> Image.Image:
    """A textured wall filling the frame: a typical 'no sky' upload."""
    rng = np.random.default_rng(seed)
    a = np.empty((h, w, 3), np.float64)
    a[:] = (150, 70, 50)
    a += rng.normal(0, 18, (h, w, 3))
    bh, bw = 24, 60
    for row in range(0, h, bh):
        a[row : row + 3] = (200, 195, 185)  # mortar
        off = 0 if (row // bh) % 2 == 0 else bw // 2
        for col in range(off, w, bw):
            a[row : row + bh, col : col + 3] = (200, 195, 185)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def noise_image(w: int = 320, h: int = 240, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def solid(colour: tuple[int, int, int], w: int = 320, h: int = 240) -> Image.Image:
    return Image.new("RGB", (w, h), colour)


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, "JPEG", quality=kw.pop("quality", 90), **kw)
    return b.getvalue()


def png_bytes(img: Image.Image, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, "PNG", **kw)
    return b.getvalue()


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_bomb(side: int = 100_000, rows: int = 64) -> bytes:
    """Declares side x side grey pixels; ships a few rows of zeros (a few kB on disk)."""
    comp = zlib.compressobj(9)
    row = bytes(1 + side)  # filter byte + pixels
    idat = b"".join(comp.compress(row) for _ in range(rows)) + comp.flush()
    return raw_png(side, side, 8, 0, idat)


def png_rgb16(w: int = 96, h: int = 64) -> bytes:
    """16-bit-per-channel RGB PNG written by hand (Pillow cannot write one)."""
    x = np.linspace(0, 65535, w, dtype=np.float64)
    a = np.zeros((h, w, 3), ">u2")
    a[..., 0] = x
    a[..., 1] = 32768
    a[..., 2] = 65535 - x
    rows = b"".join(b"\x00" + a[r].tobytes() for r in range(h))
    return raw_png(w, h, 16, 2, zlib.compress(rows))


def jpeg_with_sof_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF0 header is patched to declare width x height."""
    data = bytearray(jpeg_bytes(solid((100, 150, 200), 64, 64)))
    i = data.find(b"\xff\xc0")
    assert i > 0, "baseline JPEG without SOF0"
    # FFC0, length(2), precision(1), height(2), width(2)
    data[i + 5 : i + 7] = struct.pack(">H", height)
    data[i + 7 : i + 9] = struct.pack(">H", width)
    return bytes(data)


def oriented_jpeg(tag: int) -> bytes:
    op = ORIENT_STORE[tag]
    up = upright_marker()
    stored = up if op is None else up.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = tag
    return jpeg_bytes(stored, quality=95, exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [solid(c, 64, 64) for c in ((200, 30, 30), (30, 30, 200), (30, 200, 30))]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return b.getvalue()


def animated_webp() -> bytes:
    frames = [solid(c, 64, 64) for c in ((200, 30, 30), (30, 30, 200))]
    b = io.BytesIO()
    frames[0].save(b, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    return b.getvalue()


def multipage_tiff() -> bytes:
    b = io.BytesIO()
    solid((200, 30, 30), 64, 64).save(
        b, "TIFF", save_all=True, append_images=[solid((30, 30, 200), 80, 80)]
    )
    return b.getvalue()


def mpo_jpeg() -> bytes:
    """Multi-picture JPEG (what many phones write): first picture is the photo."""
    b = io.BytesIO()
    first, second = solid((200, 30, 30), 128, 96), solid((30, 30, 200), 128, 96)
    first.save(b, "MPO", save_all=True, append_images=[second])
    return b.getvalue()


def palette_transparent_png() -> bytes:
    p = Image.new("P", (64, 64), 0)
    p.putpalette([0, 0, 0, 30, 60, 200] + [0] * (254 * 3))
    p.paste(1, (0, 0, 64, 32))  # top half blue, bottom half index 0 (transparent)
    return png_bytes(p, transparency=0)


def _saved(img: Image.Image, fmt: str, **kw) -> bytes:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


def heic_bytes(img: Image.Image, orientation: int | None = None) -> bytes | None:
    """HEIC via pillow-heif, or None where this build cannot encode HEIF."""
    if not HEIF_WRITE:
        return None
    kw = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    try:
        return _saved(img, "HEIF", quality=90, **kw)
    except (KeyError, OSError, ValueError, RuntimeError):
        return None


# ---------------------------------------------------------------- the corpus


def _cases() -> list[tuple[str, str, str | None, str, Callable[[], bytes | None]]]:
    good = jpeg_bytes(noise_image(640, 480))
    png_good = png_bytes(noise_image(200, 150))
    grad16 = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    rng = np.random.default_rng(7)

    def bad_png_crc() -> bytes:
        d = bytearray(png_bytes(solid((10, 20, 30), 64, 64)))
        d[29] ^= 0xFF  # last byte of the IHDR CRC
        return bytes(d)

    def corrupt_marker() -> bytes:
        i = good.find(b"\xff\xc4")
        return good[:i] + b"\xff\x01" + good[i + 2 :]  # DHT marker overwritten

    def corrupt_segment_length() -> bytes:
        i = good.find(b"\xff\xda")
        return good[: i + 2] + b"\x00\x02" + good[i + 4 :]  # impossible SOS length

    def bad_orientation() -> bytes:
        exif = Image.Exif()
        exif[0x0112] = 9  # not a valid orientation
        return jpeg_bytes(upright_marker(), exif=exif.tobytes())

    def minimal_pdf() -> bytes:
        return (
            b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n"
        )

    def sof(w: int, h: int) -> Callable[[], bytes]:
        return lambda: jpeg_with_sof_size(w, h)

    def png_of(img: Image.Image) -> Callable[[], bytes]:
        return lambda: png_bytes(img)

    def jpeg_of(img: Image.Image) -> Callable[[], bytes]:
        return lambda: jpeg_bytes(img)

    def saved(img: Image.Image, fmt: str, **kw) -> Callable[[], bytes]:
        return lambda: _saved(img, fmt, **kw)

    blue = (90, 140, 220)
    float_grad = Image.fromarray(np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1)))
    rotated_6 = upright_marker().transpose(ORIENT_STORE[6])
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    html = b"<!DOCTYPE html><html><body>sky</body></html>"

    return [
        # name, expect, scene, why, bytes
        ("empty.jpg", "reject", None, "0 bytes", lambda: b""),
        ("text.jpg", "reject", None, "text renamed .jpg", lambda: b"hello, this is a note\n" * 5),
        ("page.html", "reject", None, "HTML page", lambda: html),
        ("doc.pdf", "reject", None, "minimal PDF", minimal_pdf),
        ("drawing.svg", "reject", None, "SVG is not a photo format", lambda: svg),
        ("random.jpg", "reject", None, "JPEG magic then noise", lambda: b"\xff\xd8\xff\xe0" + rng.bytes(4000)),
        ("truncated.jpg", "reject", None, "JPEG cut in half", lambda: good[: len(good) // 2]),
        ("truncated.png", "reject", None, "PNG cut inside IDAT", lambda: png_good[: len(png_good) // 2]),
        ("corrupt-marker.jpg", "reject", None, "DHT marker overwritten", corrupt_marker),
        ("corrupt-length.jpg", "reject", None, "SOS segment length impossible", corrupt_segment_length),
        ("bad-crc.png", "reject", None, "IHDR CRC broken", bad_png_crc),
        ("bomb.png", "reject", None, "IHDR declares 100000x100000", png_bomb),
        ("bomb-65k.jpg", "reject", None, "SOF 65000x65000: Pillow's hard cap", sof(65000, 65000)),
        ("bomb-96mp.jpg", "reject", None, "SOF 12000x8000: Pillow's warning range", sof(12000, 8000)),
        ("bomb-64mp.jpg", "reject", None, "SOF 8000x8000: over our 60 MP cap only", sof(8000, 8000)),
        ("1x1.png", "reject", None, "tiny", png_of(solid(blue, 1, 1))),
        ("10x10.png", "reject", None, "tiny", png_of(solid(blue, 10, 10))),
        ("strip-30000x20.png", "reject", None, "strip, short side too small", png_of(Image.new("L", (30000, 20), 128))),
        ("strip-3000x100.png", "reject", None, "30:1 strip", png_of(Image.new("L", (3000, 100), 128))),
        ("animated.gif", "ok", None, "first frame (red)", animated_gif),
        ("animated.webp", "ok", None, "first frame (red)", animated_webp),
        ("cmyk.jpg", "ok", None, "CMYK JPEG (Adobe, inverted)", jpeg_of(Image.new("CMYK", (64, 64), (255, 0, 0, 0)))),
        ("grey16.png", "ok", None, "16-bit grey gradient", png_of(Image.fromarray(grad16))),
        ("rgb16.png", "ok", None, "16-bit RGB, hand-written", png_rgb16),
        ("palette-alpha.png", "ok", None, "P with transparent index", palette_transparent_png),
        ("la.png", "ok", None, "grey + alpha", png_of(Image.new("LA", (64, 64), (100, 0)))),
        ("rgba.png", "ok", None, "half transparent", png_of(Image.new("RGBA", (64, 64), (0, 0, 255, 128)))),
        ("grey.jpg", "ok", None, "L JPEG", jpeg_of(Image.new("L", (64, 64), 120))),
        ("bilevel.png", "ok", None, "mode 1", png_of(Image.new("1", (64, 64), 1))),
        ("float.tif", "ok", None, "32-bit float TIFF in 0..1", saved(float_grad, "TIFF")),
        ("multipage.tif", "ok", None, "first page (red 64x64)", multipage_tiff),
        ("multi-picture.jpg", "ok", None, "MPO, first picture (red)", mpo_jpeg),
        ("bitmap.bmp", "ok", None, "BMP", saved(upright_marker(), "BMP")),
        ("photo.webp", "ok", None, "WebP", saved(upright_marker(), "WEBP", quality=90)),
        ("photo.heic", "ok", None, "HEIC", lambda: heic_bytes(upright_marker())),
        ("orient-6.heic", "ok", None, "HEIC stored rotated, orientation 6", lambda: heic_bytes(rotated_6, 6)),
        ("trailing-garbage.jpg", "ok", None, "bytes after EOI", lambda: good + b"\x00junk" * 20),
        ("bad-orientation.jpg", "ok", None, "EXIF orientation 9", bad_orientation),
        *[(f"orient-{t}.jpg", "ok", None, f"EXIF orientation {t}", lambda t=t: oriented_jpeg(t)) for t in range(1, 9)],
        ("black.png", "ok", "refuse", "all black", png_of(solid((0, 0, 0)))),
        ("white.png", "ok", "refuse", "all white", png_of(solid((255, 255, 255)))),
        ("uniform-grey.png", "ok", "refuse", "blank grey frame", png_of(solid((128, 128, 128)))),
        ("noise.png", "ok", "refuse", "random noise", png_of(noise_image())),
        ("wall.jpg", "ok", "refuse", "brick wall, no sky", jpeg_of(brick_wall())),
        ("sky.jpg", "ok", "accept", "blue gradient sky over ground", jpeg_of(sky_gradient())),
    ]


def make_corpus(directory: str | Path) -> list[Case]:
    """Write every case into directory; cases this build cannot encode (HEIC) are skipped."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, expect, scene, why, make in _cases():
        data = make()
        if data is None:
            continue
        path = out / name
        path.write_bytes(data)
        cases.append(Case(name, path, expect, scene, why))
    return cases
