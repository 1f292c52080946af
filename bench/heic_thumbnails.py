"""iPhone photos: does reading a HEIC from its stored thumbnail give the same verdict as a
full decode of the same file, and how much faster is it?

    python -m bench.heic_thumbnails [--json OUT]

Each of the app's example photos is cropped to an iPhone's 4:3 frame and encoded as HEIC with
pillow-heif at its own size, with a 320x240 thumbnail beside the image as iPhones store it.
The same file is then read twice by the predictor: as the app does (airken.core.intake drafts the
smallest stored copy the checks and the model can use: the thumbnail) and with pillow-heif's
thumbnails switched off (the whole image decoded). The 12 MP latency target is measured by bench.predict_latency.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image

from airken.examples import EXAMPLES_DIR as EXAMPLES
from bench import offline_env

log = logging.getLogger("bench.heic_thumbnails")

THUMBNAIL = 320  # long side of the thumbnail an iPhone stores


def heic_with_thumbnail(photo: Path) -> bytes:
    img = Image.open(photo).convert("RGB")
    w, h = img.size
    cw, ch = min(w, h * 4 // 3), min(h, w * 3 // 4)  # the middle 4:3 of the frame
    img = img.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2))
    buf = io.BytesIO()
    img.save(buf, "HEIF", quality=60, thumbnails=[THUMBNAIL])
    return buf.getvalue()


@contextmanager
def thumbnails_off():
    """pillow-heif then lists no thumbnail, so the intake decodes the whole image."""
    pillow_heif.options.THUMBNAILS = False
    try:
        yield
    finally:
        pillow_heif.options.THUMBNAILS = True


def timed(predictor, data: bytes, reps: int = 3):
    times, pred = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        pred = predictor.predict(data)
        times.append((time.perf_counter() - t0) * 1000)
    return pred, float(np.median(times))


def compare(predictor, photo: Path) -> dict:
    data = heic_with_thumbnail(photo)
    thumb, thumb_ms = timed(predictor, data)
    with thumbnails_off():
        full, full_ms = timed(predictor, data)
    diff = None
    if thumb.probabilities and full.probabilities:
        diff = max(abs(thumb.probabilities[k] - full.probabilities[k]) for k in thumb.probabilities)
    return {"photo": photo.name, "read_size": list(thumb.photo.image.size), "full_size": list(full.photo.image.size),
            "thumbnail": thumb.label, "full": full.label, "thumbnail_unsure": thumb.unsure,
            "full_unsure": full.unsure,
            "same_verdict": (thumb.label, thumb.unsure) == (full.label, full.unsure),
            "max_abs_prob_diff": None if diff is None else round(diff, 4),
            "thumbnail_ms": round(thumb_ms, 1), "full_ms": round(full_ms, 1)}


def run() -> dict:
    offline_env()
    from bench.predict_latency import make_predictor

    predictor = make_predictor()
    rows = [compare(predictor, p) for p in sorted(EXAMPLES.glob("*.jpg"))]
    diffs = [r["max_abs_prob_diff"] for r in rows if r["max_abs_prob_diff"] is not None]
    return {"photos": rows, "same_verdict": sum(r["same_verdict"] for r in rows), "n": len(rows),
            "max_abs_prob_diff": max(diffs) if diffs else None,
            "median_thumbnail_over_full": round(float(np.median([r["thumbnail_ms"] / r["full_ms"] for r in rows])), 3)}


def table(result: dict) -> str:
    lines = ["| photo | read from | thumbnail path | full decode | max abs prob diff | ms thumbnail / full |",
             "|---|---|---|---|---:|---:|"]
    for r in result["photos"]:
        def verdict(label, unsure):
            return "refused" if label is None else f"{label}{' (unsure)' if unsure else ''}"
        lines.append(f"| {r['photo']} | {r['read_size'][0]}x{r['read_size'][1]} | "
                     f"{verdict(r['thumbnail'], r['thumbnail_unsure'])} | {verdict(r['full'], r['full_unsure'])} | "
                     f"{'-' if r['max_abs_prob_diff'] is None else r['max_abs_prob_diff']} | "
                     f"{r['thumbnail_ms']} / {r['full_ms']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    result = run()
    print(table(result))
    print(f"same verdict: {result['same_verdict']} of {result['n']}; max abs prob diff {result['max_abs_prob_diff']}; "
          f"median time thumbnail / full {result['median_thumbnail_over_full']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
