"""Many photos at once: one record per photo, in the Verdict's own words, for the batch tab's
table, its CSV and the CLI's table. The CSV keeps numbers as numbers (shares 0-1).
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airken.core.classes import CLASSES, WORDS
from airken.core.verdict import Verdict
from airken.core.words import percent

SHARES = tuple(c.word for c in CLASSES)
COLUMNS = ("file", "verdict", "leans to", "unsure", "PM2.5 band", "confidence", *SHARES,
           "air model PM2.5", "why unsure", "notes")
UNREADABLE = "Can't use this file"


def record(name: str, v: Verdict | None = None, error: str | None = None) -> dict[str, Any]:
    """One photo's row: typed values (None where there is nothing to say)."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["file"] = name
    if v is None:
        return row | {"verdict": UNREADABLE, "notes": error or ""}
    row["verdict"], row["notes"] = v.headline, " ".join(w for w in v.warnings if w != v.unsure_reason)
    if v.refused:
        row["notes"] = " ".join(filter(None, [v.advice, row["notes"]]))
        return row
    air = v.air_model or {}
    row |= {"leans to": WORDS[v.label], "unsure": v.unsure, "PM2.5 band": v.pm25_range, "confidence": v.confidence,
            "air model PM2.5": air.get("pm25"), "why unsure": v.unsure_reason}
    for c in CLASSES:
        row[c.word] = (v.probabilities or {}).get(c.name)
    return row


def cell(column: str, value: Any) -> str:
    """A value as the page and the CLI table show it: shares as whole percentages."""
    if value is None:
        return ""
    if column == "unsure":
        return "yes" if value else "no"
    if column in SHARES or column == "confidence":
        return percent(float(value))
    if column == "air model PM2.5":
        return f"{float(value):.0f} \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"
    return str(value)


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """The records as CSV: shares and confidence as numbers 0-1, unsure as true/false."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else str(v).lower() if isinstance(v, bool) else v)
                             for k, v in row.items()})
    return path
