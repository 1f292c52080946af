"""Image decoding and file checks: untrusted bytes in, a small upright RGB image out.

Every input a person can get wrong (empty file, not an image, damaged file, too big, too
small, decompression bomb, odd strip) ends in ImageRejected with a message they can act on.
Anything else that goes wrong is a bug and keeps its traceback.
"""
from __future__ import annotations

import io
import logging
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import pillow_heif
from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError
from pillow_heif.as_plugin import HeifImageFile

from airken import settings
from airken.core import memory
from airken.core.exif import Taken, read_taken
from airken.core.preprocess import MODEL_INPUT_SIZE
from airken.core.rgb import to_rgb, without_palette
from airken.core.scene import CHECK_SIZE
from airken.core.structure import TIFF_MAGIC, find_problem

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

Source = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO

FORMATS_HINT = "JPEG, PNG, WebP, HEIC, TIFF, BMP or GIF"
# The only decoders a file ever reaches (AVIF too: browsers save it). Pillow would also try
# ICO, PSD, EPS (Ghostscript), TGA and thirty more, some of them parsed in Python.
READ_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "TIFF", "BMP", "GIF")
_DAMAGED = "The image file is damaged or incomplete: upload the original photo again."
_ADVICE = ("upload", "save")  # how the messages below turn from what is wrong to what to do
# Above this many decoded pixels, freed buffers are handed back to the system at once.
_RELEASE_ABOVE = 4_000_000
# What Pillow's transpose undoes for each EXIF orientation (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# What Pillow and its plugins raise for malformed files. Deliberately narrow: a TypeError
# or AttributeError from our own code must surface as a bug, not as "bad file".
_DECODE_ERRORS = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
)


class ImageRejected(ValueError):
    """A file we will not read. ``args[0]`` is a short message a person can act on."""

    @property
    def reason(self) -> str:
        """What is wrong with the file, without the page's advice ("...: upload a photo"): the
        words for a file in a folder that nobody uploads."""
        message = str(self.args[0]) if self.args else "unreadable"
        what, _, advice = message.partition(": ")
        return what if advice.startswith(_ADVICE) else message


@dataclass(frozen=True)
class IntakeLimits:
    """What load_image accepts. max_aspect is long side / short side (a 30000x10 strip is
    not a photo of the sky; phone panoramas stay under 8:1). JPEG decodes at reduced size;
    every other format is decoded whole, so it gets the lower max_whole_pixels (48 MP
    iPhone HEIC fits; 4 bytes a pixel is then at most 200 MB)."""

    max_bytes: int = settings.DEFAULTS.max_bytes
    max_pixels: int = settings.DEFAULTS.max_pixels
    max_whole_pixels: int = 50_000_000  # formats decoded whole (not JPEG, read at 1/8): their peak memory
    min_side: int = settings.DEFAULTS.min_side
    work_size: int = 448  # 12 MP phone photos (4032 px) then decode at 1/8 scale (504 px)
    max_aspect: float = 8.0

    @classmethod
    def from_env(cls) -> IntakeLimits:
        """Defaults overridden by AIRKEN_MAX_BYTES, AIRKEN_MAX_PIXELS, AIRKEN_MIN_SIDE."""
        env = settings.current()
        return cls(max_bytes=env.max_bytes, max_pixels=env.max_pixels, min_side=env.min_side)


@dataclass(frozen=True)
class Photo:
    """What one pass over an uploaded file gives: the upright RGB image (long side <=
    work_size) and, where the file says so, when and where it was taken."""

    image: Image.Image
    taken_at: datetime | None = None  # EXIF DateTimeOriginal (aware when OffsetTimeOriginal is present)
    latitude: float | None = None  # EXIF GPS, decimal degrees
    longitude: float | None = None
    format: str | None = None  # Pillow's name of the file format ("JPEG", "HEIF", ...)


def load_image(source: Source, limits: IntakeLimits | None = None) -> Image.Image:
    """Decode an uploaded photo into an upright RGB image whose long side is <= work_size.

    Raises ImageRejected for every input a person could have got wrong.
    """
    return read_photo(source, limits).image


def read_photo(source: Source, limits: IntakeLimits | None = None) -> Photo:
    """load_image, plus what the file's metadata says about when and where it was taken."""
    limits = limits or IntakeLimits.from_env()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _decode(_bounded_bytes(bytes(source), limits), limits)
    if isinstance(source, (str, os.PathLike)):
        return _load_path(source, limits)
    if hasattr(source, "read"):
        return _decode(_read_stream(source, limits), limits)
    raise TypeError(f"load_image needs bytes, a path or a binary file, not {type(source).__name__}")


def too_big_message(size: int, limits: IntakeLimits) -> str:
    mb = limits.max_bytes / (1024 * 1024)
    return (f"The file is too large ({size / (1024 * 1024):.1f} MB, limit {mb:.0f} MB): "
            "upload a smaller copy of the photo.")


def _too_big(size: int, limits: IntakeLimits) -> ImageRejected:
    return ImageRejected(too_big_message(size, limits))


def _bounded_bytes(data: bytes, limits: IntakeLimits) -> bytes:
    if not data:
        raise ImageRejected("The file is empty: upload a photo of the sky.")
    if len(data) > limits.max_bytes:
        raise _too_big(len(data), limits)
    return data


def _load_path(path: str | os.PathLike, limits: IntakeLimits) -> Photo:
    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
        if os.path.isdir(name):
            raise ImageRejected(f"{name} is a folder, not an image file.")
        # Size is known before a single byte is read, so a huge file costs nothing.
        if size > limits.max_bytes:
            raise _too_big(size, limits)
        if size == 0:
            raise ImageRejected("The file is empty: upload a photo of the sky.")
        with open(name, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)  # checked again: the file may have changed since
        return _decode(_bounded_bytes(data, limits), limits)
    except FileNotFoundError:
        raise ImageRejected(f"No such file: {name}") from None
    except PermissionError:
        raise ImageRejected(f"Cannot read {name}: permission denied.") from None


def _read_stream(stream: BinaryIO, limits: IntakeLimits) -> bytes:
    """Read at most max_bytes + 1 so an endless or huge upload is refused without buffering it."""
    try:
        if stream.seekable():
            here = stream.tell()
            remaining = stream.seek(0, os.SEEK_END) - here
            stream.seek(here)
            if remaining > limits.max_bytes:
                raise _too_big(remaining, limits)
    except (OSError, AttributeError, ValueError):
        pass  # not seekable after all: the bounded read below still holds the limit
    chunks, total = [], 0
    while total <= limits.max_bytes:  # raw streams and pipes may return short reads
        chunk = stream.read(min(1 << 20, limits.max_bytes + 1 - total))
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError("load_image needs a binary stream (opened with 'rb')")
        chunks.append(chunk)
        total += len(chunk)
    return _bounded_bytes(b"".join(chunks), limits)


_IMAGE_MAGIC = (
    b"\xff\xd8",  # JPEG
    b"\x89PNG",
    b"GIF8",
    *TIFF_MAGIC,
    b"BM",
)
# Images in formats outside READ_FORMATS, so that the message can say so.
_OTHER_IMAGE_MAGIC = (
    b"\x00\x00\x01\x00",  # ICO
    b"\x00\x00\x02\x00",  # CUR
    b"8BPS",  # Photoshop
    b"%!PS",  # PostScript / EPS
    b"\xc5\xd0\xd3\xc6",  # EPS with a binary header
    b"\x00\x00\x00\x0cjP  ",  # JPEG 2000
    b"\xffO\xffQ",  # JPEG 2000 codestream
    b"qoif",
    b"icns",
    b"DDS ",
    b"\x01\xda",  # SGI
    b"gimp xcf",
    b"SIMPLE  =",  # FITS
)


def _looks_like_image(head: bytes) -> bool:
    if head.startswith(_IMAGE_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp"  # HEIC/HEIF/AVIF container


def _sniff(head: bytes) -> str:
    """Name what a non-image file most likely is, so the message can say it."""
    if _looks_like_image(head):
        return "damaged"
    netpbm = head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace()
    if head.startswith(_OTHER_IMAGE_MAGIC) or netpbm:
        return "another image format"
    text = head.lstrip().lower()
    if text.startswith(b"%pdf"):
        return "a PDF document"
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<svg")):
        return "a web page or SVG drawing"
    if text.startswith((b"pk\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf")):
        return "an archive"
    # Text: no NUL bytes and almost nothing but printable characters.
    if head and b"\x00" not in head:
        chars = head.decode("utf-8", "ignore")
        if chars and sum(c.isprintable() or c.isspace() for c in chars) >= 0.95 * len(chars):
            return "a text file"
    return "not an image"


def _decode(data: bytes, limits: IntakeLimits) -> Photo:
    """``data``: the whole file, its size already checked."""
    problem = find_problem(data)
    if problem:
        raise ImageRejected(
            f"This image file is built in a way photos never are ({problem}): save the photo "
            "again as JPEG or PNG and upload that copy."
        )
    try:
        small, orientation, fmt, taken = _read_small(data, limits)
    except ImageRejected:
        raise
    except UnidentifiedImageError:
        raise ImageRejected(_not_an_image(data[:64])) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(_too_many_pixels_msg(limits.max_pixels)) from None
    except _DECODE_ERRORS as exc:
        log.info("Refused damaged image: %s: %s", type(exc).__name__, exc)
        raise ImageRejected(_DAMAGED) from None
    try:
        rgb = to_rgb(small)
    except (ValueError, OSError) as exc:  # a pixel format Pillow cannot convert
        log.info("Refused image in mode %s: %s", small.mode, exc)
        raise ImageRejected(
            f"This image uses a colour format we cannot read ({small.mode}): "
            "upload it as JPEG or PNG."
        ) from None
    method = _UPRIGHT.get(orientation)
    upright = rgb.transpose(method) if method is not None else rgb
    return Photo(upright, taken.at, taken.latitude, taken.longitude, format=fmt)


def _read_small(data: bytes, limits: IntakeLimits) -> tuple[Image.Image, int, str | None, Taken]:
    """The first frame at most work_size on its long side, still in its own mode (so that no
    full-size converted copy is ever made), its EXIF orientation, its format's name and its
    EXIF time and place (read here, while the file is open: no second pass over it)."""
    with warnings.catch_warnings():
        # Pillow warns (rather than raises) between 1x and 2x its own pixel cap.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=READ_FORMATS) as im:
            try:
                _check_header(im, limits)
                _load_first_frame(im, limits)
                orientation = _orientation(im)
                taken = read_taken(im)  # after load: PNG may keep its eXIf chunk after the pixels
                small = _shrink(without_palette(im), limits.work_size)
                return (im.copy() if small is im else small), orientation, im.format, taken
            finally:
                large = im.size[0] * im.size[1] > _RELEASE_ABOVE
                im.close()  # frees the full-size pixels now, decoded or not
                if large:
                    memory.release()


def _not_an_image(head: bytes) -> str:
    kind = _sniff(head)
    if kind == "damaged":
        return _DAMAGED
    if kind == "another image format":
        return f"This image format is not one we read: save it as JPEG or PNG ({FORMATS_HINT} work)."
    what = "This file is not an image" if kind == "not an image" else f"This file is {kind}"
    return f"{what}: upload a photo ({FORMATS_HINT})."


def _too_many_pixels_msg(cap: int) -> str:
    return (
        f"The image has too many pixels (limit {cap / 1e6:.0f} megapixels for this format): "
        "upload a smaller copy of the photo."
    )


def _check_header(im: Image.Image, limits: IntakeLimits) -> None:
    """Judge the declared size before any pixel is decoded (decompression bombs stop here)."""
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ImageRejected("The image file is damaged (it declares no pixels).")
    # Pillow's own cap counts too: its warning is turned into a refusal in _decode, but
    # warning filters are process-wide and threads can race on them, so check it here.
    cap = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    if not isinstance(im, JpegImagePlugin.JpegImageFile):  # decoded whole, not at 1/8
        cap = min(cap, limits.max_whole_pixels)
    if w * h > cap:
        raise ImageRejected(_too_many_pixels_msg(cap))
    if min(w, h) < limits.min_side:
        raise ImageRejected(
            f"The image is too small ({w}x{h} pixels, at least {limits.min_side} on each side): "
            "upload the original photo."
        )
    if max(w, h) / min(w, h) > limits.max_aspect:
        raise ImageRejected(
            f"The image is a narrow strip ({w}x{h} pixels), not a photo: upload a normal photo "
            "of the sky."
        )


def _load_first_frame(im: Image.Image, limits: IntakeLimits) -> None:
    """Decode the first frame/page (where open leaves every format), at reduced size where
    the format allows (JPEG draft). Never ask for n_frames: TIFF and GIF count frames by
    walking every one of them."""
    if isinstance(im, JpegImagePlugin.JpegImageFile):  # also MPO, which iPhones write
        scale = limits.work_size / max(im.size)
        if scale < 1:
            # draft keeps both sides >= the request, so _shrink only ever shrinks.
            im.draft("RGB", (math.ceil(im.size[0] * scale), math.ceil(im.size[1] * scale)))
    elif isinstance(im, HeifImageFile):
        # iPhones store a 320 px thumbnail beside the 12 MP image: draft picks the smallest
        # stored copy that still covers what the checks and the model read (else the full image).
        w, h = im.size
        scale = max(CHECK_SIZE / max(w, h), MODEL_INPUT_SIZE / min(w, h))
        if scale < 1:
            im.draft("RGB", (int(w * scale), int(h * scale)))
    im.load()  # forces the full decode here, so truncation raises inside our handler


def _shrink(img: Image.Image, work_size: int) -> Image.Image:
    if max(img.size) <= work_size:
        return img
    scale = work_size / max(img.size)
    new = (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale)))
    return img.resize(new, Image.Resampling.BILINEAR, reducing_gap=3.0)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8; 1 when missing or unreadable: a broken EXIF block should
    not cost the visitor their photo)."""
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except (SyntaxError, ValueError, struct.error, KeyError, OSError, TypeError) as exc:
        log.info("Ignoring unreadable EXIF orientation: %s", exc)
        return 1
    return value if isinstance(value, int) else 1
