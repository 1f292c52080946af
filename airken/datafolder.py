"""A data folder: photos in ``images/`` and one row per photo in ``labels.csv``.

train/ trains on such folders, ``airken calibrate`` fits a calibration profile on one, and the
photo donations and ``train.label_photos`` write them. One set of rules for all:

- columns: ``file`` and ``pm25`` or ``label``; optional ``date``, ``timestamp_local``,
  ``place``, ``daylight`` and ``label_source`` (other columns, such as ``sha256``, are ignored);
- ``file`` is relative to images/ and must stay inside it; a file named twice is refused;
- ``pm25`` wins: the class is recomputed from it (airken.core.classes), ``label`` is read
  only where ``pm25`` is empty; a row with neither is unlabelled, counted and skipped;
- a row that cannot be used is a Problem with its line number (the header is line 1);
- the date is the ``date`` column, else the date of ``timestamp_local``.

Frames share one reading (one PM2.5 value) when they are of one place and hour; rows with a
date but no hour share the day's reading, and a photo with no date is a reading of its own.
Standard library only (csv): the app, the CLI and the training pipeline all read it.
"""
from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from airken.core.classes import LABELS, class_by_name, class_for_pm25

log = logging.getLogger(__name__)

LABELS_CSV = "labels.csv"
IMAGES_DIR = "images"
# The columns this module reads, in the order writers write them.
COLUMNS = ("file", "pm25", "label", "place", "date", "timestamp_local", "daylight", "label_source")
DAILY = -1  # the hour of a reading that only has a date
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}
_HOUR = re.compile(r"(?:^|[T\s])(\d{1,2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadFolder(ValueError):
    """A folder that is not a data folder at all; the message says what it needs."""


class Reading(NamedTuple):
    """The frames that share one PM2.5 value (sorts as the tuple it is)."""

    place: str
    date: str  # "" when the row has no date
    hour: int  # DAILY when only the date is known
    photo: str  # the file name for a row with no date (a reading of its own), else ""


def reading_of(place: str, date: str | None, hour: int | None, file: str) -> Reading:
    if not date:
        return Reading(place, "", DAILY, file)
    return Reading(place, date, DAILY if hour is None else hour, "")


def reading_ids(readings: Sequence[Reading]) -> list[int]:
    """An integer per reading, numbered in sorted order (equal readings, equal numbers)."""
    index = {r: i for i, r in enumerate(sorted(set(readings)))}
    return [index[r] for r in readings]


@dataclass(frozen=True)
class Row:
    """One usable row: its photo, class and what else the row says."""

    line: int
    file: str
    path: Path
    label: int  # index into airken.core.classes.LABELS
    pm25: float | None
    date: str | None
    hour: int | None
    place: str  # the place column, else the folder's name
    daylight: bool | None  # None when the row does not say
    label_source: str | None

    @property
    def reading(self) -> Reading:
        return reading_of(self.place, self.date, self.hour, self.file)


@dataclass(frozen=True)
class Problem:
    """A row that was skipped because it cannot be used."""

    line: int
    file: str
    reason: str


@dataclass
class Folder:
    """What read() found: the usable rows, the problems, and counts."""

    path: Path
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    read: int = 0  # data rows in labels.csv
    unlabelled: int = 0  # rows with neither pm25 nor label
    relabelled: int = 0  # rows whose label disagreed with their pm25 (the pm25 won)


# ------------------------------------------------------------------------------ reading


def read(folder: str | os.PathLike, need_date: bool = False) -> Folder:
    """Read ``folder/labels.csv`` with the rules above. ``need_date``: a row without a date
    (training splits by day) is a problem. Raises BadFolder when the folder has no
    labels.csv or images/, or labels.csv lacks the columns it needs."""
    root = Path(folder)
    csv_path, images = root / LABELS_CSV, root / IMAGES_DIR
    if not csv_path.is_file() or not images.is_dir():
        raise BadFolder(f"{root} is not a data folder: it needs {LABELS_CSV} and the photos in {IMAGES_DIR}/")
    found, name = Folder(root), root.resolve().name
    seen: set[str] = set()
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        table = csv.DictReader(f)
        check_columns(csv_path, table.fieldnames, need_date)
        for line, values in enumerate(table, start=2):
            found.read += 1
            outcome = _row(values, line, images, name, seen, need_date)
            if isinstance(outcome, Row):
                seen.add(outcome.file)
                found.rows.append(outcome)
                found.relabelled += _relabelled(values, outcome)
            elif outcome is None:
                found.unlabelled += 1
            else:
                found.problems.append(Problem(line, (values.get("file") or "").strip(), outcome))
    return found


def check_columns(csv_path: Path, fields: Sequence[str] | None, need_date: bool = False) -> None:
    """BadFolder naming the columns a labels.csv needs when ``fields`` lack them."""
    has = set(fields or ())
    either = [("pm25", "label"), *([("date", "timestamp_local")] if need_date else [])]
    if "file" in has and all(has & set(pair) for pair in either):
        return
    wanted = ", ".join(["file", *(f"{a} or {b}" for a, b in either)])
    optional = ", ".join(c for c in COLUMNS if c != "file" and all(c not in pair for pair in either))
    raise BadFolder(f"{csv_path} needs the columns {wanted} (optional: {optional}); "
                    f"its columns are: {', '.join(fields or ()) or 'none'}")


def _row(values: Mapping[str, str | None], line: int, images: Path, folder_name: str, seen: set[str],
         need_date: bool) -> Row | str | None:
    """A Row, the reason the row cannot be used, or None for an unlabelled row."""
    name = (values.get("file") or "").strip()
    if not name:
        return "empty file name"
    if not inside_images(name):
        return "file name points outside images/"
    if name in seen:
        return "duplicate row for this file"
    label, pm25, why = _label(values)
    if why or label is None:
        return why
    if not (images / name).is_file():
        return "image file not found"
    stamp = _text(values, "timestamp_local")
    date = _text(values, "date") or (stamp[:10] if _DATE.match(stamp) else "")
    if need_date and not date:
        return "no date"
    return Row(line, name, images / name, label, pm25, date or None, parse_hour(stamp),
               _text(values, "place") or folder_name, parse_bool(values.get("daylight")),
               _text(values, "label_source") or None)


def _text(values: Mapping[str, str | None], column: str) -> str:
    return (values.get(column) or "").strip()


def inside_images(name: str) -> bool:
    """File names are relative to images/; checked lexically so images/ may hold links."""
    norm = os.path.normpath(name or ".")
    return not (os.path.isabs(norm) or norm in (".", "..") or norm.startswith(".." + os.sep))


def _label(values: Mapping[str, str | None]) -> tuple[int | None, float | None, str | None]:
    """(class index, pm25, problem); no class and no problem: unlabelled."""
    pm25_text, label_text = _text(values, "pm25"), _text(values, "label").lower()
    if pm25_text:
        try:
            pm25 = parse_pm25(pm25_text)
        except ValueError:
            return None, None, f"bad pm25 value {pm25_text!r} (need a number >= 0)"
        return class_for_pm25(pm25).index, pm25, None
    if label_text:
        try:
            return class_by_name(label_text).index, None, None
        except KeyError:
            return None, None, f"unknown label {label_text!r} (expected one of {', '.join(LABELS)})"
    return None, None, None


def _relabelled(values: Mapping[str, str | None], row: Row) -> bool:
    given = _text(values, "label").lower()
    return row.pm25 is not None and given in LABELS and given != LABELS[row.label]


def parse_pm25(text: str) -> float:
    value = float(text)  # ValueError for "abc"
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"not a valid PM2.5 value: {text!r}")
    return value


def parse_bool(text: str | None) -> bool | None:
    t = (text or "").strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def parse_hour(text: str | None) -> int | None:
    """The hour of a local time such as "2025-03-01T09:00" or "2023-02-03 08:30"."""
    m = _HOUR.search((text or "").strip())
    if not m:
        return None
    hour = int(m.group(1))
    return hour if 0 <= hour <= 23 else None


# ------------------------------------------------------------------------------ writing


def new_row(file: str, pm25: float, hour: datetime, place: str, daylight: bool, label_source: str) -> dict[str, str]:
    """The labels.csv row of a photo taken in the local ``hour``, its class from ``pm25``."""
    return {"file": file, "pm25": f"{pm25:.1f}", "label": class_for_pm25(pm25).name, "place": place,
            "date": hour.date().isoformat(), "timestamp_local": hour.strftime("%Y-%m-%dT%H:%M"),
            "daylight": str(daylight).lower(), "label_source": label_source}


def append_rows(folder: str | os.PathLike, rows: Iterable[Mapping[str, str]], extra: Sequence[str] = ()) -> None:
    """Append rows to ``folder/labels.csv`` (columns COLUMNS then ``extra``; the header when
    the file is new) in one write, so that a reader never sees half a row. Refuses a file
    name outside images/ and a labels.csv whose header is not these columns."""
    columns, rows = (*COLUMNS, *extra), list(rows)
    path = Path(folder) / LABELS_CSV
    outside = [row.get("file") for row in rows if not inside_images(row.get("file") or "")]
    if outside:
        raise ValueError(f"{outside[0]!r} is not a file name inside {IMAGES_DIR}/")
    header = _header(path)
    if header is not None and header != list(columns):
        raise BadFolder(f"{path} has the columns {', '.join(header)}; expected {', '.join(columns)}")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    if header is None:
        writer.writeheader()
    writer.writerows(rows)
    with path.open("a", newline="", encoding="utf-8") as f:
        f.write(text.getvalue())


def _header(path: Path) -> list[str] | None:
    """The column names of an existing, non-empty labels.csv, else None."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), None)
    except FileNotFoundError:
        return None
