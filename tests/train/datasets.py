"""Small synthetic data folders (images/ + labels.csv) for the training-pipeline tests.

Sky colour follows the class (blue when healthy, grey-white when moderate, brown-grey when
danger), so a colour model can learn it. With ``bad=True`` the folder also holds the
problems real folders have: an undecodable file, a truncated JPEG, a row naming a missing
file, bad pm25 values, an unlabelled row, a label-only row and a label that disagrees with
its pm25.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (96, 64)  # width, height: small, but above the intake minimum of 32 px
SKY = {  # RGB of the sky per class
    0: (70, 130, 230),
    1: (175, 180, 190),
    2: (170, 150, 120),
}
HOURS = (6, 9, 11, 13, 15, 19)  # 6 and 19 are night frames
FIELDS = ["file", "timestamp_local", "date", "pm25", "label", "daylight"]


@dataclass
class SynthFolder:
    path: Path
    rows: int = 0  # data rows in labels.csv
    samples: int = 0  # rows read_folder should keep
    problems: list[str] = field(default_factory=list)  # files of rows it should report
    unlabelled: int = 0
    undecodable: list[str] = field(default_factory=list)  # files scan_images should quarantine


def sky_image(label: int, rng: np.random.Generator, size: tuple[int, int] = SIZE,
              night: bool = False) -> Image.Image:
    """Sky in the upper part, a darker textured 'city' below."""
    w, h = size
    img = np.empty((h, w, 3), dtype=np.float64)
    horizon = int(h * 0.6)
    top = np.array(SKY[label], dtype=np.float64)
    grad = np.linspace(0.9, 1.1, horizon)[:, None, None]
    img[:horizon] = top * grad
    img[horizon:] = rng.uniform(30, 90, size=(h - horizon, w, 1)) * np.array([1.0, 0.95, 0.9])
    img += rng.normal(0, 6, size=img.shape)
    if night:
        img *= 0.15
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _pm25_for(label: int, rng: np.random.Generator) -> str:
    lo, hi = {0: (5, 28), 1: (32, 52), 2: (60, 90)}[label]
    return str(int(rng.integers(lo, hi)))


def make_folder(
    root: Path,
    name: str = "synth",
    day_labels: tuple[int, ...] = (0, 0, 1, 0, 1, 0, 1, 2, 0, 1),
    hours: tuple[int, ...] = HOURS,
    bad: bool = True,
    place: str | None = None,
    seed: int = 0,
) -> SynthFolder:
    """One date per entry of ``day_labels`` (2025-03-01 on), every frame of a date having
    that class; len(hours) frames per date. ``place`` adds a place column."""
    rng = np.random.default_rng(seed)
    folder = root / name
    images = folder / "images"
    images.mkdir(parents=True)
    info = SynthFolder(folder)
    rows: list[dict[str, str]] = []
    for d, label in enumerate(day_labels):
        date = f"2025-03-{d + 1:02d}"
        for hour in hours:
            night = hour < 7 or hour > 18
            fname = f"{date.replace('-', '')}-{hour:02d}00.jpg"
            (images / fname).write_bytes(_jpeg(sky_image(label, rng, night=night)))
            rows.append({"file": fname, "timestamp_local": f"{date}T{hour:02d}:00",
                         "date": date, "pm25": _pm25_for(label, rng), "label": "",
                         "daylight": "false" if night else "true"})
            info.samples += 1
    if bad:
        _add_bad_rows(images, rows, info, rng)
    fields = FIELDS + (["place"] if place else [])
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for row in rows:
            w.writerow({**row, **({"place": place} if place else {})})
    info.rows = len(rows)
    return info


def _add_bad_rows(images: Path, rows: list[dict[str, str]], info: SynthFolder,
                  rng: np.random.Generator) -> None:
    date = "2025-03-01"

    def row(fname: str, pm25: str = "20", label: str = "") -> None:
        rows.append({"file": fname, "timestamp_local": f"{date}T12:00", "date": date,
                     "pm25": pm25, "label": label, "daylight": "true"})

    (images / "corrupt.jpg").write_bytes(rng.bytes(3000))
    (images / "truncated.jpg").write_bytes(_jpeg(sky_image(0, rng))[:900])
    for fname in ("corrupt.jpg", "truncated.jpg"):  # rows are fine; the files are not
        row(fname)
        info.samples += 1
        info.undecodable.append(fname)
    row("missing.jpg")  # no such file
    info.problems.append("missing.jpg")
    for fname, pm25 in (("bad-pm25.jpg", "abc"), ("negative-pm25.jpg", "-5")):
        (images / fname).write_bytes(_jpeg(sky_image(0, rng)))
        row(fname, pm25=pm25)
        info.problems.append(fname)
    (images / "unlabelled.jpg").write_bytes(_jpeg(sky_image(0, rng)))
    row("unlabelled.jpg", pm25="")
    info.unlabelled += 1
    (images / "label-only.jpg").write_bytes(_jpeg(sky_image(1, rng)))
    row("label-only.jpg", pm25="", label="moderate")  # no pm25: the label is used
    (images / "relabel.jpg").write_bytes(_jpeg(sky_image(0, rng)))
    row("relabel.jpg", pm25="12", label="danger")  # pm25 wins: healthy
    info.samples += 2


def tiny_model(size: int):
    """A few-parameter Keras model with the Airken convention (pixels 0-255 in, the first layer
    rescales, softmax over 3 classes out), for tests of export and distribution."""
    import tensorflow as tf

    inp = tf.keras.Input((size, size, 3))
    x = tf.keras.layers.Rescaling(1 / 128.0, offset=-127 / 128.0)(inp)
    x = tf.keras.layers.Conv2D(4, 3, strides=4, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(3, activation="softmax")(x)
    return tf.keras.Model(inp, out)
