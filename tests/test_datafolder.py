"""airken.datafolder: one set of rules for reading and writing images/ + labels.csv."""
from __future__ import annotations

from datetime import datetime

import pytest

from airken import datafolder
from airken.datafolder import BadFolder, Reading, append_rows, new_row, read, reading_ids


def _folder(tmp_path, header: str, rows: list[str], photos: tuple[str, ...] = ("a.jpg", "b.jpg", "c.jpg")):
    folder = tmp_path / "cam"
    (folder / "images").mkdir(parents=True)
    for name in photos:
        (folder / "images" / name).write_bytes(b"a photo")
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


def test_other_column_names_are_refused_with_the_expected_ones(tmp_path):
    folder = _folder(tmp_path, "photo,pm2.5", ["a.jpg,12"])
    with pytest.raises(BadFolder) as err:
        read(folder)
    message = str(err.value)
    assert "needs the columns file, pm25 or label (optional: place, date, timestamp_local" in message
    assert "its columns are: photo, pm2.5" in message
    with pytest.raises(BadFolder, match="file, pm25 or label, date or timestamp_local"):
        read(_folder(tmp_path / "2", "file,pm25", ["a.jpg,12"]), need_date=True)


def test_a_folder_without_labels_or_images_is_refused(tmp_path):
    with pytest.raises(BadFolder, match="labels.csv and the photos in images/"):
        read(tmp_path)


def test_a_file_named_twice_is_refused_with_its_line(tmp_path):
    folder = _folder(tmp_path, "file,pm25", ["a.jpg,12", "b.jpg,40", "a.jpg,80"])
    found = read(folder)
    assert [r.file for r in found.rows] == ["a.jpg", "b.jpg"] and found.rows[0].pm25 == 12
    assert [(p.line, p.file, p.reason) for p in found.problems] == [(4, "a.jpg", "duplicate row for this file")]


@pytest.mark.parametrize("name", ["../secret.jpg", "/etc/passwd", "images/../../x.jpg", ".", "sub/../../b.jpg"])
def test_a_file_outside_images_is_refused(tmp_path, name):
    (tmp_path / "secret.jpg").write_bytes(b"not data")
    found = read(_folder(tmp_path, "file,pm25", [f"{name},12"]))
    assert not found.rows and [p.reason for p in found.problems] == ["file name points outside images/"]


def test_pm25_wins_over_the_label_and_rows_without_either_are_counted(tmp_path):
    folder = _folder(tmp_path, "file,pm25,label", ["a.jpg,12,danger", "b.jpg,,moderate", "c.jpg,,",
                                                  "d.jpg,abc,", "e.jpg,,purple", "f.jpg,5,"])
    found = read(folder)
    assert [(r.file, r.label, r.pm25) for r in found.rows] == [("a.jpg", 0, 12.0), ("b.jpg", 1, None)]
    assert (found.read, found.unlabelled, found.relabelled) == (6, 1, 1)
    assert [(p.line, p.reason) for p in found.problems] == [
        (5, "bad pm25 value 'abc' (need a number >= 0)"),
        (6, "unknown label 'purple' (expected one of healthy, moderate, danger)"),
        (7, "image file not found")]


def test_frames_of_one_hour_share_a_reading_and_dated_rows_one_per_day(tmp_path):
    photos = tuple(f"{i}.jpg" for i in range(8))
    folder = _folder(tmp_path, "file,place,date,timestamp_local,pm25", [
        "0.jpg,roof,2025-03-01,2025-03-01T09:00,12", "1.jpg,roof,2025-03-01,2025-03-01T09:40,12",
        "2.jpg,roof,2025-03-01,2025-03-01T10:00,20",
        "3.jpg,roof,2025-03-02,,31", "4.jpg,roof,2025-03-02,,31",  # one daily value: one reading
        "5.jpg,park,2025-03-02,,31",  # another place, another reading
        "6.jpg,roof,,,8", "7.jpg,roof,,,8"], photos)  # no date: each photo its own
    found = read(folder)
    readings = [r.reading for r in found.rows]
    assert readings[3] == Reading("roof", "2025-03-02", datafolder.DAILY, "")
    ids = reading_ids(readings)
    assert ids[0] == ids[1] != ids[2] and ids[3] == ids[4] != ids[5] and ids[6] != ids[7]
    assert len(set(ids)) == 6


def test_the_date_comes_from_the_timestamp_when_there_is_no_date_column(tmp_path):
    found = read(_folder(tmp_path, "file,timestamp_local,pm25,daylight", ["a.jpg,2023-02-03 08:30,76,true",
                                                                           "b.jpg,,76,no"]))
    a, b = found.rows
    assert (a.date, a.hour, a.daylight, a.place) == ("2023-02-03", 8, True, "cam")
    assert (b.date, b.hour, b.daylight) == (None, None, False)
    found = read(found.path, need_date=True)
    assert [r.file for r in found.rows] == ["a.jpg"] and [p.reason for p in found.problems] == ["no date"]


def test_rows_written_are_read_back_and_the_header_is_written_once(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"a photo")
    (tmp_path / "images" / "b.jpg").write_bytes(b"a photo")
    hour = datetime(2026, 3, 14, 9)
    append_rows(tmp_path, [new_row("a.jpg", 42.0, hour, "+45.5+009.2", True, "cams")])
    append_rows(tmp_path, [new_row("b.jpg", 61.0, hour, "+45.5+009.2", False, "cams")])
    text = (tmp_path / "labels.csv").read_text()
    assert text.count("file,") == 1 and text.splitlines()[0] == ",".join(datafolder.COLUMNS)
    a, b = read(tmp_path, need_date=True).rows
    assert (a.pm25, a.label, a.hour, a.place, a.daylight, a.label_source) == (42.0, 1, 9, "+45.5+009.2", True, "cams")
    assert b.label == 2 and a.reading == b.reading


def test_writing_refuses_names_outside_images_and_other_columns(tmp_path):
    hour = datetime(2026, 3, 14, 9)
    with pytest.raises(ValueError, match="inside images/"):
        append_rows(tmp_path, [new_row("../x.jpg", 1.0, hour, "p", True, "cams")])
    assert not (tmp_path / "labels.csv").exists()
    (tmp_path / "labels.csv").write_text("file,pm25\n")
    with pytest.raises(BadFolder, match="expected file, pm25, label"):
        append_rows(tmp_path, [new_row("x.jpg", 1.0, hour, "p", True, "cams")])
