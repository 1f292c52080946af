"""Training data: reading labelled folders, quarantining bad images, date splits,
oversampling and the tf.data input pipeline.

A data folder holds ``images/`` and ``labels.csv`` (airken.datafolder: its columns and rules;
training also needs a date per row). Images are decoded with the same code the app uses
(:func:`airken.core.intake.load_image` + :func:`airken.core.preprocess.to_model_input`), so the
model is trained on exactly the pixels it will see in production.

TensorFlow is imported only inside :func:`make_tf_dataset` and :func:`augment_fn`; everything
else needs numpy, Pillow and scikit-learn only.
"""
from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from airken import datafolder
from airken.core.classes import LABELS
from airken.core.intake import ImageRejected, load_image
from airken.core.preprocess import MODEL_INPUT_SIZE, to_model_input

log = logging.getLogger(__name__)

QUARANTINE_DIR = "quarantine"
QUARANTINE_CSV = "quarantine.csv"


@dataclass
class Sample:
    path: Path
    label: int  # index into airken.core.classes.LABELS
    pm25: float | None
    date: str  # local date, YYYY-MM-DD; splits never cut through a (place, date)
    hour: int | None
    place: str
    source: str  # name of the data folder the sample came from
    daylight: bool | None  # None when the folder does not say

    @property
    def group(self) -> tuple[str, str]:
        """Split group: frames of the same place and day are near-duplicates."""
        return (self.place, self.date)


@dataclass(frozen=True)
class Problem:
    """A labels.csv row that was skipped because it cannot be used."""

    source: str
    line: int  # line number in labels.csv (header is line 1)
    file: str
    reason: str


class Problems(list):
    """List of :class:`Problem` plus row counts of the read (``rows``, ``unlabelled``)."""

    def __init__(self, items: Iterable[Problem] = (), rows: int = 0, unlabelled: int = 0):
        super().__init__(items)
        self.rows = rows
        self.unlabelled = unlabelled


@dataclass(frozen=True)
class Quarantined:
    sample: Sample
    reason: str
    copy: Path | None  # where the file was copied; None when it could not be copied


# ---------------------------------------------------------------------------------------
# reading a folder


def read_folder(folder: str | os.PathLike) -> tuple[list[Sample], Problems]:
    """Read ``folder/labels.csv`` and ``folder/images`` with airken.datafolder's rules, a date
    required (splits are by day). Unlabelled rows are skipped and counted
    (``problems.unlabelled``); rows that cannot be used are listed in ``problems``. Raises
    airken.datafolder.BadFolder when the folder itself is unusable."""
    found = datafolder.read(folder, need_date=True)
    source = found.path.resolve().name
    samples = [Sample(path=r.path, label=r.label, pm25=r.pm25, date=r.date or "", hour=r.hour, place=r.place,
                      source=source, daylight=r.daylight) for r in found.rows]
    problems = Problems((Problem(source, p.line, p.file, p.reason) for p in found.problems),
                        rows=found.read, unlabelled=found.unlabelled)
    if found.relabelled:
        log.warning("%s: %d labels disagreed with pm25 and were recomputed", source, found.relabelled)
    log.info(
        "%s: %d rows, %d usable, %d unlabelled, %d problems; classes %s",
        source, problems.rows, len(samples), problems.unlabelled, len(problems),
        class_counts(samples),
    )
    return samples, problems


def class_counts(samples: Sequence[Sample]) -> dict[str, int]:
    counts = Counter(s.label for s in samples)
    return {name: counts.get(i, 0) for i, name in enumerate(LABELS)}


def labels_of(samples: Sequence[Sample]) -> np.ndarray:
    return np.fromiter((s.label for s in samples), dtype=np.int64, count=len(samples))


# ---------------------------------------------------------------------------------------
# decoding: quarantine and arrays


def _workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else min(4, os.cpu_count() or 1))


def _check_image(sample: Sample) -> str | None:
    try:
        load_image(sample.path)
    except ImageRejected as e:
        return str(e.args[0]) if e.args else "rejected"
    except OSError as e:  # e.g. the file vanished or is unreadable
        return f"cannot read file: {e}"
    return None


def _quarantine_copy(sample: Sample, qdir: Path) -> Path | None:
    target = qdir / sample.source / sample.path.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(sample.path, target)
    except OSError as e:
        log.warning("could not copy %s to quarantine: %s", sample.path, e)
        return None
    return target


def scan_images(
    samples: Sequence[Sample], out_dir: str | os.PathLike, workers: int | None = None
) -> tuple[list[Sample], list[Quarantined]]:
    """Fully decode every image the way the app does; set aside the ones that fail.

    Failing files are COPIED to ``out_dir/quarantine/<source>/`` (the originals are never
    touched) and listed in ``out_dir/quarantine/quarantine.csv`` (file, reason, source, copy).
    The CSV is written even when nothing fails, as a record of the scan.
    """
    qdir = Path(out_dir) / QUARANTINE_DIR
    qdir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(_workers(workers)) as pool:
        reasons = list(
            tqdm(pool.map(_check_image, samples), total=len(samples), desc="scan images",
                 unit="img", leave=False)
        )
    good: list[Sample] = []
    quarantined: list[Quarantined] = []
    for sample, reason in zip(samples, reasons, strict=True):
        if reason is None:
            good.append(sample)
        else:
            quarantined.append(Quarantined(sample, reason, _quarantine_copy(sample, qdir)))
    with open(qdir / QUARANTINE_CSV, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "reason", "source", "copy"])
        for q in quarantined:
            w.writerow([str(q.sample.path), q.reason, q.sample.source, str(q.copy or "")])
    log.info("scanned %d images: %d good, %d quarantined (%s)",
             len(samples), len(good), len(quarantined), qdir / QUARANTINE_CSV)
    for q in quarantined:
        log.warning("quarantined %s: %s", q.sample.path, q.reason)
    return good, quarantined


def _cache_key(path: Path, size: int) -> str:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{size}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _load_one(path: Path, size: int, cache: Path | None) -> np.ndarray:
    cached = cache / f"{_cache_key(path, size)}.npy" if cache else None
    if cached is not None and cached.is_file():
        try:
            arr = np.load(cached, allow_pickle=False)
            if arr.shape == (size, size, 3) and arr.dtype == np.uint8:
                return arr
        except (OSError, ValueError):
            pass  # damaged cache entry: decode again
    try:
        arr = to_model_input(load_image(path), size)
    except ImageRejected as e:
        raise ImageRejected(f"{path}: {e.args[0] if e.args else 'rejected'}") from e
    if cached is not None:
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, cached)  # atomic, so parallel loaders never read half a file
    return arr


def load_arrays(
    samples: Sequence[Sample],
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    size: int = MODEL_INPUT_SIZE,
) -> np.ndarray:
    """Decode samples into model inputs: uint8 (N, size, size, 3), in sample order.

    ``cache_dir`` (optional) keeps one .npy per image, keyed by path, size and mtime, so a
    second run skips decoding. Run :func:`scan_images` first: a bad file raises ImageRejected.
    """
    cache = Path(cache_dir) / "arrays" if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    out = np.empty((len(samples), size, size, 3), dtype=np.uint8)
    with ThreadPoolExecutor(_workers(workers)) as pool:
        arrays = pool.map(lambda s: _load_one(s.path, size, cache), samples)
        for i, arr in enumerate(tqdm(arrays, total=len(samples), desc="load images",
                                     unit="img", leave=False)):
            out[i] = arr
    return out


# ---------------------------------------------------------------------------------------
# splits and balancing


def group_ids(samples: Sequence[Sample]) -> np.ndarray:
    """Integer id per sample of its (place, date) group, ids in sorted group order."""
    keys = sorted({s.group for s in samples})
    index = {k: i for i, k in enumerate(keys)}
    return np.fromiter((index[s.group] for s in samples), dtype=np.int64, count=len(samples))


def _match_dates(groups: Sequence[tuple[str, str]], dates: Iterable[Any]) -> set[int]:
    """Group indices named by dates: "YYYY-MM-DD" (every place) or (place, date)."""
    wanted = list(dates)
    chosen: set[int] = set()
    for d in wanted:
        hits = {i for i, g in enumerate(groups)
                if (tuple(d) == g if isinstance(d, (tuple, list)) else g[1] == str(d))}
        if not hits:
            raise ValueError(f"date {d!r} is not in the data")
        chosen |= hits
    return chosen


def _pick_groups(
    n: int, order: list[int], group_classes: list[set[int]], taken: set[int]
) -> set[int]:
    """Pick n of the groups not yet taken, in seed order, never taking the last group of a
    class away from training. First one group per class (rarest first) so every class that
    can spare a day gets measured, then fill up. If that cannot reach n, the rule is
    relaxed with a warning."""
    picked: set[int] = set()
    if n <= 0:
        return picked
    free = [g for g in order if g not in taken]
    left = Counter(c for g in free for c in group_classes[g])  # groups per class still in train

    def take(g: int) -> None:
        picked.add(g)
        left.subtract(group_classes[g])

    def can_take(g: int) -> bool:
        return g not in picked and all(left[c] >= 2 for c in group_classes[g])

    for cls in sorted(left, key=lambda c: (left[c], c)):
        if len(picked) < n and not any(cls in group_classes[g] for g in picked):
            g = next((g for g in free if cls in group_classes[g] and can_take(g)), None)
            if g is not None:
                take(g)
    for g in free:
        if len(picked) < n and can_take(g):
            take(g)
    if len(picked) < n:
        log.warning("not enough dates to hold out %d without losing a class from training", n)
        for g in free:
            if len(picked) < n and g not in picked:
                take(g)
    return picked


def split_by_date(
    samples: Sequence[Sample],
    val_days: int = 4,
    test_days: int = 6,
    seed: int = 0,
    val_dates: Iterable[Any] | None = None,
    test_dates: Iterable[Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split into train/val/test index arrays by whole (place, date) groups.

    ``val_days``/``test_days`` count (place, date) groups drawn reproducibly from ``seed``.
    Each class keeps at least one group in training (a class on a single date is never
    tested), and every class that can spare a group gets one into test, then val.
    ``val_dates``/``test_dates`` name the dates explicitly instead ("YYYY-MM-DD" for every
    place, or (place, date) pairs).
    """
    groups = sorted({s.group for s in samples})
    gid = {g: i for i, g in enumerate(groups)}
    sample_group = np.fromiter((gid[s.group] for s in samples), dtype=np.int64,
                               count=len(samples))
    group_classes: list[set[int]] = [set() for _ in groups]
    for s, g in zip(samples, sample_group, strict=True):
        group_classes[g].add(s.label)
    rng = np.random.default_rng(seed)
    order = [int(g) for g in rng.permutation(len(groups))]

    test = (_match_dates(groups, test_dates) if test_dates is not None
            else _pick_groups(test_days, order, group_classes, set()))
    val = (_match_dates(groups, val_dates) - test if val_dates is not None
           else _pick_groups(val_days, order, group_classes, test))
    if len(groups) - len(test) - len(val) < 1:
        raise ValueError(f"only {len(groups)} (place, date) groups: nothing left to train on")
    for name, part in (("test", test), ("val", val)):
        if 0 < len(part) < 2:
            log.warning("%s split has a single date: its numbers will be very noisy", name)
    test_idx = np.flatnonzero(np.isin(sample_group, sorted(test)))
    val_idx = np.flatnonzero(np.isin(sample_group, sorted(val)))
    train_idx = np.flatnonzero(~np.isin(sample_group, sorted(test | val)))
    log.info("date split: train %d frames / %d groups, val %d / %d, test %d / %d",
             len(train_idx), len(groups) - len(test) - len(val), len(val_idx), len(val),
             len(test_idx), len(test))
    return train_idx, val_idx, test_idx


def grouped_kfold(
    samples: Sequence[Sample], k: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, test_idx) per fold; a (place, date) group is never split across folds.
    Folds are stratified by class as far as the groups allow."""
    from sklearn.model_selection import StratifiedGroupKFold

    groups = group_ids(samples)
    n_groups = len(np.unique(groups))
    if k < 2 or k > n_groups:
        raise ValueError(f"k={k} folds need 2 <= k <= number of (place, date) groups ({n_groups})")
    y = labels_of(samples)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "least populated class has fewer members than n_splits": expected for rare classes
        warnings.simplefilter("ignore", UserWarning)
        folds = list(cv.split(np.zeros(len(y)), y, groups))
    yield from folds


def leave_one_place_out(
    samples: Sequence[Sample],
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(place, train_idx, test_idx) for every place: the number a visitor from a new place
    can expect, since place and class are confounded in multi-place data."""
    places = np.array([s.place for s in samples])
    for place in sorted(set(places.tolist())):
        yield place, np.flatnonzero(places != place), np.flatnonzero(places == place)


def split_sources(
    samples: Sequence[Sample],
    val_days: int,
    test_days: int,
    seed: int = 0,
    heldout_place: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/val/test indices when training on several data folders.

    Every source gets its own ``val_days`` validation (place, date) groups, so the early
    stopping and the temperature see every kind of photo. Test days come from the first
    source only (Milan: the held-out days criterion) - or, with ``heldout_place``, the test
    split is every frame of that place and nothing else is tested (one leave-one-place-out
    fold).
    """
    place = np.array([s.place for s in samples])
    if heldout_place is not None and heldout_place not in place:
        raise ValueError(f"place {heldout_place!r} is not in the data")
    test = [np.flatnonzero(place == heldout_place)] if heldout_place else []
    train, val = [], []
    sources = list(dict.fromkeys(s.source for s in samples))
    for k, source in enumerate(sources):
        idx = np.flatnonzero([s.source == source and s.place != heldout_place for s in samples])
        if not idx.size:
            continue
        n_test = test_days if k == 0 and heldout_place is None else 0
        tr, va, te = split_by_date([samples[i] for i in idx], val_days, n_test, seed)
        train.append(idx[tr]), val.append(idx[va]), test.append(idx[te])
    return tuple(np.sort(np.concatenate(part)).astype(np.int64) if part else np.zeros(0, np.int64)
                 for part in (train, val, test))


def reading_ids(samples: Sequence[Sample]) -> np.ndarray:
    """Id per sample of its reading (airken.datafolder.Reading: one place and hour, or one
    place and day): frames of one reading (a video, or the webcam's frames of one hour) are
    near-duplicates and share one label."""
    readings = [datafolder.reading_of(s.place, s.date, s.hour, s.path.name) for s in samples]
    return np.array(datafolder.reading_ids(readings), dtype=np.int64)


def class_weights(labels: np.ndarray) -> np.ndarray:
    """Weights (mean 1) so that every class present weighs the same."""
    labels = np.asarray(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    w = 1.0 / (len(classes) * counts[inverse])
    return w * len(w) / w.sum() if len(w) else w.astype(np.float64)


def balance_weights(labels: np.ndarray, places: np.ndarray, readings: np.ndarray,
                    sources: np.ndarray | None = None) -> np.ndarray:
    """Weights (mean 1) so that every class weighs the same; inside a class every place
    holding it the same; inside a (place, class) every hourly reading the same; inside a
    reading every frame the same. 200 frames of one Delhi video then count as one reading,
    and no source, place or class swamps the rest. With ``sources``, a level between class
    and place: inside a class every source (data folder) weighs the same, so one webcam
    counts as much as a folder of phone videos."""
    labels = np.asarray(labels)
    sources = np.zeros(len(labels), dtype=np.int64) if sources is None else np.asarray(sources)
    w = np.zeros(len(labels), dtype=np.float64)
    classes = np.unique(labels)
    for c in classes:
        in_c = labels == c
        in_sources = np.unique(sources[in_c])
        for src in in_sources:
            in_s = in_c & (sources == src)
            in_places = np.unique(places[in_s])
            for p in in_places:
                cell = in_s & (places == p)
                groups = np.unique(readings[cell])
                for g in groups:
                    m = cell & (readings == g)
                    w[m] = 1.0 / (len(classes) * len(in_sources) * len(in_places) * len(groups) * m.sum())
    return w * len(w) / w.sum() if len(w) else w


def balanced_sample(indices: np.ndarray, samples: Sequence[Sample], size: int | None = None,
                    seed: int = 0, by_source: bool = False) -> np.ndarray:
    """``size`` indices (default: as many as given) drawn with the :func:`balance_weights`
    of ``indices`` - one training epoch where classes, places and readings are balanced.
    Draws without replacement as far as the weights allow (each index at most
    ceil(weight * size / total) times), so small sets are not one frame repeated."""
    indices = np.asarray(indices, dtype=np.int64)
    size = len(indices) if size is None else int(size)
    if not indices.size or size <= 0:
        return np.zeros(0, np.int64)
    sub = [samples[i] for i in indices]
    sources = np.array([s.source for s in sub]) if by_source else None
    w = balance_weights(labels_of(sub), np.array([s.place for s in sub]), reading_ids(sub), sources)
    expected = w / w.sum() * size
    whole = np.floor(expected).astype(np.int64)  # certain copies, then the remainder by chance
    rng = np.random.default_rng(seed)
    rest = size - int(whole.sum())
    frac = expected - whole
    extra = rng.choice(len(indices), size=rest, replace=False, p=frac / frac.sum()) if rest else []
    counts = whole + np.bincount(np.asarray(extra, dtype=np.int64), minlength=len(indices))
    out = np.repeat(indices, counts)
    rng.shuffle(out)
    return out


def oversample(indices: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Randomly oversample ``indices`` so each class present reaches the largest count.

    ``labels`` are the labels of ALL samples (the array ``indices`` index into). Use it on
    the training split only. Every original index is kept; extra copies are drawn without
    replacement where possible. Classes with no samples are ignored. Result is shuffled.
    """
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels)
    if indices.size == 0:
        return indices.copy()
    rng = np.random.default_rng(seed)
    y = labels[indices]
    classes, counts = np.unique(y, return_counts=True)
    target = counts.max()
    parts = []
    for cls, n in zip(classes, counts, strict=True):
        members = indices[y == cls]
        full, rest = divmod(target, n)
        parts.append(np.tile(members, full))
        parts.append(rng.choice(members, size=rest, replace=False))
    out = np.concatenate(parts)
    rng.shuffle(out)
    return out


def daylight_mask(samples: Sequence[Sample], keep_unknown: bool = True) -> np.ndarray:
    """Boolean mask of daylight frames; frames without daylight info count as daylight
    when ``keep_unknown`` (phone photos are taken by day)."""
    return np.array([s.daylight is True or (keep_unknown and s.daylight is None)
                     for s in samples], dtype=bool)


def daylight_filter(samples: Sequence[Sample], keep_unknown: bool = True) -> list[Sample]:
    """Only the daylight samples (see :func:`daylight_mask`)."""
    mask = daylight_mask(samples, keep_unknown)
    return [s for s, keep in zip(samples, mask, strict=True) if keep]


# ---------------------------------------------------------------------------------------
# tf.data

CROP_MIN = 0.85  # smallest random crop side, as a fraction: mild zoom + shift


def augment_fn(size: int) -> Any:
    """Geometry-only augmentation, fn(image, seed pair) -> image: flip, zoom and shift. Sky
    colour is the signal, so no hue, saturation, brightness or contrast jitter."""
    import tensorflow as tf

    def fn(image: Any, seed: Any) -> Any:
        seeds = tf.random.experimental.stateless_split(seed, num=3)
        image = tf.image.stateless_random_flip_left_right(image, seed=seeds[0])
        frac = tf.random.stateless_uniform([], seeds[1], minval=CROP_MIN, maxval=1.0)
        side = tf.cast(tf.round(frac * size), tf.int32)
        image = tf.image.stateless_random_crop(image, tf.stack([side, side, 3]), seed=seeds[2])
        image = tf.image.resize(image, (size, size), method="bilinear")
        return tf.clip_by_value(image, 0.0, 255.0)

    return fn


def make_tf_dataset(x: np.ndarray, batch_size: int) -> Any:
    """tf.data.Dataset of float32 pixel batches (0-255), in order, for prediction. Training
    batches (shuffled, augmented, with targets) come from train.objectives.dataset."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(np.asarray(x)).cache()  # uint8: 4x smaller than float
    ds = ds.map(lambda im: tf.cast(im, tf.float32), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
