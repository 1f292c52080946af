"""airken.table: one typed record per photo in the Verdict's own words, its CSV (numbers as
numbers, the unsure flag, the PM2.5 band) and the page's and the CLI's cells."""
from __future__ import annotations

import csv

import pytest
from verdicts import made, report

from airken.core.classes import CLASSES
from airken.core.verdict import Where
from airken.core.words import REFUSED_HEADLINE, UNSURE_HEADLINE
from airken.table import COLUMNS, SHARES, UNREADABLE, cell, record, write_csv

HERE = Where(45.5, 9.2, "Milan", "given", "2026-03-14T12:00+01:00", "given")


def _rows() -> list[dict]:
    sure = made("moderate", confidence=0.9, basis="air_model", where=HERE, air_model=report(42.0), prior=None)
    unsure = made("healthy", confidence=0.59, unsure_below=0.74)
    refused = made(probabilities=None, refusal="This looks like a night or twilight photo: take it in daylight.",
                   confidence=None, warnings=("The photo is dim.",))
    return [record("sure.jpg", sure), record("unsure.jpg", unsure), record("night.jpg", refused),
            record("broken.jpg", error="The file is empty.")]


def test_a_record_is_typed_and_in_the_verdicts_words():
    sure, unsure, refused, broken = _rows()
    assert list(sure) == list(COLUMNS)
    assert (sure["verdict"], sure["leans to"], sure["unsure"], sure["PM2.5 band"]) == (
        "Moderate air", "moderate", False, CLASSES[1].band)
    assert sure["moderate"] == 0.9 and sure["confidence"] == 0.9 and sure["air model PM2.5"] == 42.0
    assert sure["why unsure"] is None
    assert (unsure["verdict"], unsure["leans to"], unsure["unsure"]) == (UNSURE_HEADLINE, "healthy", True)
    assert unsure["why unsure"] == "Its confidence (59%) is under the unsure line (74%)."
    assert unsure["notes"] == ""  # the reason is said once, in its own column
    assert refused["verdict"] == REFUSED_HEADLINE and refused["unsure"] is None and refused["healthy"] is None
    assert refused["notes"].startswith("This looks like a night") and "The photo is dim." in refused["notes"]
    assert (broken["verdict"], broken["notes"]) == (UNREADABLE, "The file is empty.")
    assert all(broken[c] is None for c in COLUMNS if c not in ("file", "verdict", "notes"))


def test_the_csv_keeps_numbers_the_unsure_flag_and_the_band(tmp_path):
    out = write_csv(_rows(), tmp_path / "airken-results.csv")
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        sure, unsure, refused, broken = list(reader)
    assert float(unsure["healthy"]) == pytest.approx(0.59) and unsure["healthy"] == "0.59"  # a number, not "59%"
    assert sum(float(sure[w]) for w in SHARES) == pytest.approx(1.0)
    assert (sure["unsure"], unsure["unsure"]) == ("false", "true")
    assert sure["PM2.5 band"] == "PM2.5 30-54 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"  # UTF-8 kept
    assert float(sure["air model PM2.5"]) == 42.0 and float(sure["confidence"]) == 0.9
    assert unsure["why unsure"].startswith("Its confidence (59%)")
    assert refused["healthy"] == "" and refused["unsure"] == "" and refused["verdict"] == REFUSED_HEADLINE
    assert broken["verdict"] == UNREADABLE and broken["notes"] == "The file is empty." and broken["healthy"] == ""


def test_cells_show_what_the_page_and_the_cli_show():
    sure, unsure, *_ = _rows()
    assert [cell(w, unsure[w]) for w in SHARES] == ["59%", "20%", "20%"]
    assert cell("confidence", sure["confidence"]) == "90%"
    assert (cell("unsure", True), cell("unsure", False)) == ("yes", "no")
    assert cell("air model PM2.5", 42.04) == "42 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"
    assert cell("notes", None) == "" and cell("verdict", UNSURE_HEADLINE) == UNSURE_HEADLINE
