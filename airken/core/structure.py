"""Cheap walks over an image file's layout, before any decoder sees it.

Pillow parses the parts of a file around the pixels (JPEG segments, PNG chunks, GIF
extension blocks, TIFF directories) in Python, one call per part, and libjpeg walks the
whole image once per progressive scan. A photo has a few dozen such parts; a crafted file
of a few MB can have millions and cost a minute of CPU or a GB of memory while it is still
"being opened". `find_problem` counts the parts with C-speed searches and at most a few
thousand Python steps, and names what no photo has. It only judges layout: whether the
pixels decode is the decoder's business, so a file too damaged to walk passes here and is
refused there.
"""
from __future__ import annotations

import math
import re
import struct

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # TIFF little/big-endian, BigTIFF both ways

MAX_JPEG_SEGMENTS = 1000  # metadata and table segments of the first picture
MAX_JPEG_SCANS = 64  # libjpeg writes 10 for a progressive colour photo
MAX_JPEG_JUNK = 4096  # stray bytes between segments, which Pillow skips one read at a time
MAX_COEFFICIENT_BYTES = 320 * 1024 * 1024  # what a multi-scan JPEG holds while decoding
MAX_PNG_CHUNKS = 1000  # before the image data
MAX_PNG_DATA_CHUNKS = 50_000  # libpng writes 8 kB each: 30 MB is under 4,000
MAX_GIF_BLOCKS = 10_000  # extension sub-blocks before the first frame
MAX_TIFF_TAGS = 1000  # entries in the first directory
MAX_TIFF_PARTS = 16_384  # strips or tiles of the first page (a decoder call each)

# A marker: 0xFF then anything but a stuffed zero, a restart marker or more fill.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_STANDALONE = {0x01, 0xD8}
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_TIFF_PART_TAGS = {273, 324}  # StripOffsets, TileOffsets: their count is the number of parts


def find_problem(data: bytes) -> str | None:
    """What in this file's layout no photo has (a short phrase), or None."""
    try:
        if data[:2] == b"\xff\xd8":
            return _jpeg(data)
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _png(data)
        if data[:4] == b"GIF8":
            return _gif(data)
        if data[:4] in TIFF_MAGIC:
            return _tiff(data)
    except (struct.error, IndexError):
        return None  # cut short: the decoder says "damaged"
    return None


def _jpeg(data: bytes) -> str | None:
    pos, segments, scans, junk = 2, 0, 0, 0
    coefficients = 0
    while True:
        found = _JPEG_MARKER.search(data, pos)
        if found is None:
            return None
        if scans == 0:  # inside a scan the gap is entropy-coded data, elsewhere junk
            junk += found.start() - pos
            if junk > MAX_JPEG_JUNK:
                return "stray bytes between its parts"
        marker = data[found.start() + 1]
        if marker == _JPEG_EOI:  # end of the first picture: what follows is never decoded
            return None
        if marker in _JPEG_STANDALONE:
            pos = found.end()
            continue
        (length,) = struct.unpack_from(">H", data, found.end())
        if marker in _JPEG_SOF:
            coefficients = _coefficient_bytes(data, found.end() + 2)
        if marker == _JPEG_SOS:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                return f"more than {MAX_JPEG_SCANS} scans"
            if scans > 1 and coefficients > MAX_COEFFICIENT_BYTES:
                return "a progressive JPEG with too many pixels"
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            return f"more than {MAX_JPEG_SEGMENTS} segments"
        pos = found.end() + length


def _coefficient_bytes(data: bytes, at: int) -> int:
    """Bytes of DCT coefficients libjpeg keeps for the whole image when it has several scans."""
    height, width, count = struct.unpack_from(">HHB", data, at + 1)
    comps = [data[at + 6 + 3 * k + 1] for k in range(count)]
    h_max = max((c >> 4 for c in comps), default=1) or 1
    v_max = max((c & 15 for c in comps), default=1) or 1
    total = 0
    for c in comps:
        blocks_w = math.ceil(math.ceil(width * (c >> 4) / h_max) / 8)
        blocks_h = math.ceil(math.ceil(height * (c & 15) / v_max) / 8)
        total += blocks_w * blocks_h * 128  # 64 coefficients of 2 bytes
    return total


def _png(data: bytes) -> str | None:
    pos, before, image_data = 8, 0, 0
    while pos + 8 <= len(data):
        length, tag = struct.unpack_from(">I4s", data, pos)
        pos += 12 + length
        if tag == b"IDAT":
            image_data += 1
            if image_data > MAX_PNG_DATA_CHUNKS:
                return f"its pixels cut into more than {MAX_PNG_DATA_CHUNKS} chunks"
        elif image_data or tag == b"IEND":
            return None  # the first image is complete; animation frames are never read
        else:
            before += 1
            if before > MAX_PNG_CHUNKS:
                return f"more than {MAX_PNG_CHUNKS} chunks before its pixels"
    return None


def _gif(data: bytes) -> str | None:
    pos, blocks = 13, 0
    flags = data[10]
    if flags & 0x80:  # global colour table
        pos += 3 * (2 << (flags & 7))
    while pos < len(data) and data[pos] == 0x21:  # extension: label, then sized sub-blocks
        pos += 2
        while True:
            size = data[pos]
            pos += 1 + size
            blocks += 1
            if blocks > MAX_GIF_BLOCKS:
                return f"more than {MAX_GIF_BLOCKS} blocks before its first frame"
            if size == 0:
                break
    return None


def _tiff(data: bytes) -> str | None:
    order = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")  # BigTIFF: 8-byte offsets and counts
    if big:
        (first,) = struct.unpack_from(order + "Q", data, 8)
        (count,) = struct.unpack_from(order + "Q", data, first)
        start, size, count_fmt = first + 8, 20, "Q"
    else:
        (first,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, first)
        start, size, count_fmt = first + 2, 12, "I"
    if count > MAX_TIFF_TAGS:
        return f"more than {MAX_TIFF_TAGS} tags on its first page"
    for k in range(count):
        tag, _type, parts = struct.unpack_from(order + "HH" + count_fmt, data, start + k * size)
        if tag in _TIFF_PART_TAGS and parts > MAX_TIFF_PARTS:
            return f"its first page cut into more than {MAX_TIFF_PARTS} strips or tiles"
    return None
