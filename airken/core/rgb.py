"""Any Pillow image mode as 8-bit RGB, the one the model and the scene checks read: palettes
and 1-bit as colour or grey, alpha composited over white, CMYK through its ICC profile, and
16-bit and float grey rescaled rather than clipped."""
from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

try:  # littlecms is optional in Pillow builds; without it CMYK converts naively
    from PIL import ImageCms
except ImportError:  # pragma: no cover
    ImageCms = None

log = logging.getLogger(__name__)

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def without_palette(im: Image.Image) -> Image.Image:
    """Palette and 1-bit images as colour/grey, which (unlike indices) can be resized."""
    if im.mode in ("P", "PA"):
        has_alpha = im.mode == "PA" or "transparency" in im.info or (
            im.palette is not None and im.palette.mode == "RGBA"
        )
        return im.convert("RGBA" if has_alpha else "RGB")
    if im.mode == "1":
        return im.convert("L")
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB, alpha composited over white."""
    im = without_palette(im)
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in _ALPHA_MODES:
        if mode == "La":  # premultiplied grey has no direct route to RGBA
            im = im.convert("LA")
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        return Image.fromarray(_wide_to_uint8(im, mode), "L").convert("RGB")
    return im.convert("RGB")  # L, 1, YCbCr, HSV, LAB, RGBX ...


def _wide_to_uint8(im: Image.Image, mode: str) -> np.ndarray:
    """Rescale 16/32-bit and float grey levels to 0-255 instead of clipping them at 255."""
    a = np.asarray(im)
    if mode in _SIXTEEN_BIT_MODES:
        return (a.astype(np.float32) / 257.0).round().astype(np.uint8)
    a = a.astype(np.float64)
    finite = a[np.isfinite(a)]
    top = float(finite.max()) if finite.size else 0.0
    if mode == "F" and top <= 1.0:
        scaled = a * 255.0  # float images in 0..1
    elif top <= 255.0:
        scaled = a  # 8-bit values stored wide
    elif top <= 65535.0:
        scaled = a / 257.0  # 16-bit values (older Pillow opens 16-bit PNG as "I")
    else:
        scaled = a * (255.0 / top)
    return np.nan_to_num(np.clip(scaled, 0, 255), nan=0.0).round().astype(np.uint8)


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    """Use the embedded ICC profile when there is one: naive CMYK->RGB is visibly off."""
    icc = im.info.get("icc_profile")
    if icc and ImageCms is not None:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            if out is not None:
                return out
        except (OSError, ValueError, ImageCms.PyCMSError) as exc:
            log.info("CMYK profile unusable, converting without it: %s", exc)
    return im.convert("RGB")
