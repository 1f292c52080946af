"""Hostile files: what an attacker uploads to make the server slow, hungry or talkative.

make_hostile_corpus(dir) writes tests/badinputs.py's corpus plus the cases below and returns
them all as badinputs.Case. Each case here is cheap on disk (under 30 MB, most under 1 MB)
and quick to build; decoded naively, most of them cost seconds of CPU or hundreds of MB:

- structure walks: thousands of JPEG scans or APP segments, TIFF pages, tiny TIFF tiles,
  PNG chunks, GIF extension blocks, junk between JPEG markers;
- size lies: an ICO whose entry says 256 px around an 81 MP PNG, large whole-decode images
  (16-bit RGBA PNG, RLE BMP, deflate TIFF, GIF) that compress to almost nothing;
- formats we never read (EPS, PSD, ICO, TGA, PPM, SGI, ...): refused before any decoder runs.

Everything is generated here from numpy/PIL or written byte by byte; no external photos.
"""
from __future__ import annotations

import functools
import io
import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from badinputs import Case, jpeg_bytes, make_corpus, png_bytes, png_chunk, solid
from badinputs import _saved as saved_bytes
from PIL import Image

Maker = Callable[[], bytes]


# ---------------------------------------------------------------- JPEG


def _segments(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(everything before the first SOS, [each SOS segment with its entropy data], EOI)."""
    first = data.find(b"\xff\xda")
    body, scans = data[first:-2], []
    starts = [i for i in range(len(body) - 1) if body[i] == 0xFF and body[i + 1] not in (0x00, *range(0xD0, 0xD8))]
    for a, b in zip(starts, [*starts[1:], len(body)], strict=True):
        scans.append(body[a:b])
    return data[:first], scans, data[-2:]


def jpeg_many_scans(scans: int = 2000, size: tuple[int, int] = (7000, 7000)) -> bytes:
    """A one-colour 49 MP progressive JPEG of `scans` scans, its smallest scan (an AC band of
    nothing but end-of-block runs) repeated: 100 kB for 2000 scans, yet libjpeg only warns
    about the bogus progression and walks the whole image once per copy."""
    head, parts, eoi = _progressive_parts(size)
    return head + b"".join(parts) + min(parts, key=len) * (scans - len(parts)) + eoi


@functools.lru_cache(maxsize=2)
def _progressive_parts(size: tuple[int, int]) -> tuple[bytes, list[bytes], bytes]:
    return _segments(jpeg_bytes(solid((90, 140, 220), *size), quality=70, progressive=True))


def jpeg_progressive_sof(width: int, height: int, subsampling: int) -> bytes:
    """A small progressive JPEG whose SOF2 header is patched to declare width x height."""
    data = bytearray(jpeg_bytes(solid((90, 140, 220), 64, 64), progressive=True, subsampling=subsampling))
    i = data.find(b"\xff\xc2")
    data[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_many_app_segments(count: int = 7_000_000) -> bytes:
    """Empty APP0 segments before a small real JPEG (7 million: 28 MB): Pillow walks each in Python."""
    small = jpeg_bytes(solid((90, 140, 220), 64, 64))
    return small[:2] + b"\xff\xe0\x00\x02" * count + small[2:]


def jpeg_junk_between_markers(count: int = 20_000_000) -> bytes:
    """20 MB of junk after the first segment: Pillow skips it one byte (one read call) at a time."""
    small = jpeg_bytes(solid((90, 140, 220), 64, 64))
    first_end = 4 + struct.unpack(">H", small[4:6])[0]
    return small[:first_end] + b"\x00" * count + small[first_end:]


def jpeg_huge_icc(chunks: int = 255) -> bytes:
    """255 ICC_PROFILE APP2 segments of 64 kB each: a 16 MB 'profile' glued together."""
    small = jpeg_bytes(solid((90, 140, 220), 64, 64))
    payload = b"\x00" * 65000
    segs = b"".join(
        b"\xff\xe2" + struct.pack(">H", len(payload) + 16) + b"ICC_PROFILE\x00" + bytes([i + 1, chunks]) + payload
        for i in range(chunks)
    )
    return small[:2] + segs + small[2:]


def jpeg_exif_loop() -> bytes:
    """EXIF whose IFD0 points at itself as the next IFD and holds a tag pointing at itself."""
    tiff = bytearray(b"II*\x00" + struct.pack("<I", 8))
    # IFD0 at 8: two entries, Orientation=6 and an ExifIFD pointer back to offset 8.
    tiff += struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x0112, 3, 1, 6)
    tiff += struct.pack("<HHII", 0x8769, 4, 1, 8)
    tiff += struct.pack("<I", 8)  # next IFD: itself
    exif = b"Exif\x00\x00" + bytes(tiff)
    small = jpeg_bytes(solid((90, 140, 220), 96, 64))
    return small[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + small[2:]


def jpeg_twelve_bit() -> bytes:
    """A baseline JPEG whose SOF says 12-bit samples (Pillow cannot decode them)."""
    data = bytearray(jpeg_bytes(solid((90, 140, 220), 64, 64)))
    i = data.find(b"\xff\xc0")
    data[i + 4] = 12
    return bytes(data)


def jpeg_255_components() -> bytes:
    """SOF declares 255 colour components."""
    data = bytearray(jpeg_bytes(solid((90, 140, 220), 64, 64)))
    i = data.find(b"\xff\xc0")
    data[i + 9] = 255
    return bytes(data)


# ---------------------------------------------------------------- TIFF


def _ifd(entries: list[tuple[int, int, int, int]], next_ifd: int) -> bytes:
    entries = sorted(entries)
    return (struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
            + struct.pack("<I", next_ifd))


def _grey_page(width: int, height: int, data_at: int, extra: list | None = None) -> list[tuple[int, int, int, int]]:
    """Tags of an uncompressed 8-bit grey page in one strip at data_at (SHORT=3, LONG=4)."""
    return [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, data_at), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, width * height),
            *(extra or [])]


def tiff_many_pages(pages: int = 100_000, side: int = 32) -> bytes:
    """100,000 pages of 32x32 grey sharing one strip (about 11 MB): Pillow walks every page
    when it is asked how many there are."""
    data_at = 8
    pixels = bytes([128]) * (side * side)
    first_ifd = data_at + len(pixels)
    page = _ifd(_grey_page(side, side, data_at), 0)[:-4]  # every page alike but for its next pointer
    size = len(page) + 4
    nexts = [first_ifd + (k + 1) * size for k in range(pages - 1)] + [0]
    return b"".join([b"II*\x00", struct.pack("<I", first_ifd), pixels,
                     *(page + struct.pack("<I", n) for n in nexts)])


def tiff_ifd_loop() -> bytes:
    """A page whose next-page pointer points back at itself."""
    pixels = bytes([128]) * (64 * 64)
    ifd_at = 8 + len(pixels)
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + _ifd(_grey_page(64, 64, 8), ifd_at)


def tiff_tiny_tiles(side: int = 6000, tile: int = 16) -> bytes:
    """An uncompressed grey TIFF in 16x16 tiles that all share one 256-byte tile (36 MP:
    140,625 tiles in 1.1 MB): one Python decoder call per tile in Pillow."""
    n = math.ceil(side / tile) ** 2
    tile_data = bytes([128]) * (tile * tile)
    data_at = 8
    offsets_at = data_at + len(tile_data)
    counts_at = offsets_at + 4 * n
    ifd_at = counts_at + 4 * n
    tags = [(256, 4, 1, side), (257, 4, 1, side), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (277, 3, 1, 1), (322, 3, 1, tile), (323, 3, 1, tile), (324, 4, n, offsets_at), (325, 4, n, counts_at)]
    return (b"II*\x00" + struct.pack("<I", ifd_at) + tile_data + struct.pack(f"<{n}I", *([data_at] * n))
            + struct.pack(f"<{n}I", *([len(tile_data)] * n)) + _ifd(tags, 0))


def tiff_many_tags(count: int = 14_000) -> bytes:
    """One page whose directory holds 14,000 private tags."""
    pixels = bytes([128]) * (64 * 64)
    ifd_at = 8 + len(pixels)
    extra = [(51500 + k, 4, 1, k) for k in range(count)]
    return b"II*\x00" + struct.pack("<I", ifd_at) + pixels + _ifd(_grey_page(64, 64, 8, extra), 0)


def tiff_deflate_large(width: int = 7000, height: int = 7000) -> bytes:
    """49 MP RGB deflate TIFF of one colour: 150 kB on disk, decoded whole."""
    b = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 220)).save(b, "TIFF", compression="tiff_adobe_deflate")
    return b.getvalue()


# ---------------------------------------------------------------- PNG and friends


def deflate_repeated(block: bytes, times: int) -> bytes:
    """The zlib stream of block * times, compressing block only once: after a full flush
    the compressor starts afresh, so every copy of the block compresses to the same bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    check = 1
    for _ in range(times):
        check = zlib.adler32(block, check)
    return b"\x78\xda" + piece * times + b"\x03\x00" + struct.pack(">I", check)  # 03 00: empty last block


def _png_of_rows(width: int, height: int, bit_depth: int, colour_type: int, row: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", deflate_repeated(row, height))
            + png_chunk(b"IEND", b""))


def png_rgba16_large(width: int = 8600, height: int = 6860) -> bytes:
    """59 MP 16-bit RGBA of one colour (0.5 MB): 470 MB of raw samples to inflate."""
    return _png_of_rows(width, height, 16, 6, b"\x00" + bytes.fromhex("5a5a8c8cdcdcffff") * width)


def png_many_chunks(count: int = 2_000_000) -> bytes:
    """Two million empty private chunks before the image data (24 MB)."""
    good = png_bytes(solid((90, 140, 220), 64, 64))
    return good[:33] + png_chunk(b"prVt", b"") * count + good[33:]


def png_many_idat(chunks: int = 1_500_000, width: int = 1000, height: int = 500) -> bytes:
    """A 0.5 MP PNG whose 1.5 MB of (stored) image data is cut into `chunks` IDAT chunks
    (1.5 million: 20 MB): Pillow reads them one Python call at a time."""
    row = b"\x00" + (bytes(range(256)) * (3 * width // 256 + 1))[: 3 * width]
    data = zlib.compress(row * height, 0)
    step = -(-len(data) // chunks)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    parts = b"".join(png_chunk(b"IDAT", data[i:i + step]) for i in range(0, len(data), step))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + parts + png_chunk(b"IEND", b"")


def png_ztxt_bomb() -> bytes:
    """A zTXt chunk that inflates to 512 MB."""
    good = png_bytes(solid((90, 140, 220), 64, 64))
    bomb = deflate_repeated(bytes(1 << 20), 512)
    return good[:33] + png_chunk(b"zTXt", b"Comment\x00\x00" + bomb) + good[33:]


def apng_many_frames(frames: int = 5000) -> bytes:
    b = io.BytesIO()
    first = solid((90, 140, 220), 64, 64)
    rest = [solid((90, 140, 220 - (k % 50)), 64, 64) for k in range(frames - 1)]
    first.save(b, "PNG", save_all=True, append_images=rest)
    return b.getvalue()


def ico_with_large_png(side: int = 9000) -> bytes:
    """An ICO whose directory says 256x256 around an embedded 81 MP PNG."""
    png = _png_of_rows(side, side, 8, 6, b"\x00" + bytes(4 * side))
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def bmp_rle8_large(width: int = 7000, height: int = 7000) -> bytes:
    """49 MP RLE8 BMP (385 kB): Pillow decodes RLE in Python."""
    row = b"\xff\x01" * (width // 255) + bytes([width % 255, 1]) + b"\x00\x00"
    data = row * height + b"\x00\x01"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(data), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def gif_many_extensions(count: int = 5_000_000) -> bytes:
    """Five million one-byte comment blocks before the first frame (25 MB)."""
    b = io.BytesIO()
    solid((90, 140, 220), 64, 64).save(b, "GIF")
    good = b.getvalue()
    start = good.find(b",")  # image descriptor
    return good[:start] + b"!\xfe\x01X\x00" * count + good[start:]


def gif_large(width: int = 7500, height: int = 7500) -> bytes:
    """56 MP one-colour GIF (LZW, about 300 kB), decoded whole."""
    b = io.BytesIO()
    Image.new("P", (width, height), 1).save(b, "GIF")
    return b.getvalue()


def webp_many_frames(frames: int = 3000) -> bytes:
    b = io.BytesIO()
    imgs = [solid((90, 140, 200 + (k % 50)), 64, 64) for k in range(frames)]
    imgs[0].save(b, "WEBP", save_all=True, append_images=imgs[1:], duration=20, lossless=True)
    return b.getvalue()


# ---------------------------------------------------------------- formats we do not read


def _encoded(img: Image.Image, fmt: str) -> Maker:
    return lambda: saved_bytes(img, fmt)


def eps_file() -> bytes:
    """PostScript: Pillow would hand it to Ghostscript."""
    return (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n"
            b"/Times findfont 12 scalefont setfont 10 10 moveto (sky) show showpage\n%%EOF\n")


def psd_header() -> bytes:
    """A Photoshop header declaring 30000x30000 RGB with no layers."""
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 30000, 30000, 8, 3) + bytes(16)


def ppm_large() -> bytes:
    """A PPM header declaring 7000x7000 with 16 bytes of pixels."""
    return b"P6\n7000 7000\n255\n" + bytes(16)


def _hostile_cases() -> list[tuple[str, str, str, Maker]]:
    grey = Image.new("L", (64, 64), 120)
    rgb = solid((90, 140, 220), 64, 64)
    return [
        # name, expect, why, bytes
        ("jpeg-2000-scans.jpg", "reject", "49 MP progressive JPEG of 2000 scans", jpeg_many_scans),
        ("jpeg-64-scans.jpg", "ok", "49 MP progressive JPEG, 64 scans: the most we read", lambda: jpeg_many_scans(64)),
        ("jpeg-7m-app.jpg", "reject", "7 million empty APP0 segments", jpeg_many_app_segments),
        ("jpeg-990-app.jpg", "ok", "990 empty APP0 segments: under the limit", lambda: jpeg_many_app_segments(990)),
        ("jpeg-junk.jpg", "reject", "20 MB of junk between SOI and the first marker", jpeg_junk_between_markers),
        ("jpeg-huge-icc.jpg", "ok", "16 MB ICC profile in 255 APP2 segments", jpeg_huge_icc),
        ("jpeg-progressive-444-59mp.jpg", "reject", "progressive 59 MP 4:4:4: 350 MB of coefficients",
         lambda: jpeg_progressive_sof(9000, 6600, 0)),
        ("jpeg-progressive-420-59mp.jpg", "ok", "progressive 59 MP 4:2:0: 180 MB of coefficients",
         lambda: jpeg_bytes(solid((90, 140, 220), 9000, 6600), progressive=True, subsampling=2)),
        ("jpeg-exif-loop.jpg", "ok", "EXIF IFD pointing at itself", jpeg_exif_loop),
        ("jpeg-12bit.jpg", "reject", "12-bit samples", jpeg_twelve_bit),
        ("jpeg-255-components.jpg", "reject", "SOF with 255 components", jpeg_255_components),
        ("tiff-100k-pages.tif", "ok", "100,000 pages (first page read)", tiff_many_pages),
        ("tiff-ifd-loop.tif", "ok", "next-page pointer loops back", tiff_ifd_loop),
        ("tiff-tiny-tiles.tif", "reject", "36 MP in 140,625 16x16 tiles", tiff_tiny_tiles),
        ("tiff-16k-tiles.tif", "ok", "4 MP in 16,384 16x16 tiles: the most we read", lambda: tiff_tiny_tiles(2048)),
        ("tiff-14k-tags.tif", "reject", "14,000 private tags in one directory", tiff_many_tags),
        ("tiff-deflate-49mp.tif", "ok", "49 MP deflate TIFF, decoded whole", tiff_deflate_large),
        ("png-rgba16-59mp.png", "reject", "59 MP 16-bit RGBA in 0.9 MB", png_rgba16_large),
        ("png-rgba16-50mp.png", "ok", "50 MP 16-bit RGBA: the most we read", lambda: png_rgba16_large(8000, 6250)),
        ("png-2m-chunks.png", "reject", "2 million private chunks before IDAT", png_many_chunks),
        ("png-1m-idat.png", "reject", "image data in 1.5 million 1-byte IDAT chunks", png_many_idat),
        ("png-50k-idat.png", "ok", "image data in 50,000 IDAT chunks: the most we read", lambda: png_many_idat(50_000)),
        ("png-ztxt-bomb.png", "reject", "zTXt inflating to 512 MB", png_ztxt_bomb),
        ("apng-5000-frames.png", "ok", "animated PNG, 5000 frames (first read)", apng_many_frames),
        ("ico-81mp.ico", "reject", "ICO saying 256 px around an 81 MP PNG", ico_with_large_png),
        ("bmp-rle8-49mp.bmp", "ok", "49 MP RLE8 BMP, decoded whole", bmp_rle8_large),
        ("gif-5m-extensions.gif", "reject", "5 million comment blocks before the frame", gif_many_extensions),
        ("gif-10k-blocks.gif", "ok", "4990 comments (9980 blocks) before the frame", lambda: gif_many_extensions(4990)),
        ("gif-56mp.gif", "reject", "56 MP GIF, decoded whole", gif_large),
        ("webp-3000-frames.webp", "ok", "animated WebP, 3000 frames (first read)", webp_many_frames),
        ("postscript.eps", "reject", "EPS (Ghostscript)", eps_file),
        ("photoshop.psd", "reject", "PSD header, 900 MP", psd_header),
        ("pixmap.ppm", "reject", "PPM header, 49 MP", ppm_large),
        ("icon.ico", "reject", "a real ICO", _encoded(rgb, "ICO")),
        ("targa.tga", "reject", "TGA", _encoded(rgb, "TGA")),
        ("irix.sgi", "reject", "SGI", _encoded(rgb, "SGI")),
        ("paintbrush.pcx", "reject", "PCX", _encoded(rgb, "PCX")),
        ("quite-ok.qoi", "reject", "QOI", _encoded(rgb, "QOI")),
        ("spider.spi", "reject", "SPIDER", _encoded(grey.convert("F"), "SPIDER")),
        ("jpeg2000.jp2", "reject", "JPEG 2000", _encoded(rgb, "JPEG2000")),
    ]


def make_hostile_corpus(directory: str | Path) -> list[Case]:
    """badinputs.make_corpus plus the hostile cases above, all written into directory."""
    out = Path(directory)
    cases = make_corpus(out)
    for name, expect, why, make in _hostile_cases():
        path = out / name
        path.write_bytes(make())
        cases.append(Case(name, path, expect, None, why))
    return cases
