"""Label your own sky photos with the modelled PM2.5 of their place and hour.

    python -m train.label_photos FOLDER --out DATA_FOLDER [--link] [--air-url URL]

Reads each photo's EXIF time and GPS position (the app's own decoder, airken.core.intake), asks the
Open-Meteo air-quality archive (Copernicus CAMS) for the hourly PM2.5 of that 0.1° cell and
hour, and writes a data folder that train/ reads: images/ (copies, or links with --link) and
labels.csv with pm25, label, place (the grid cell), date, timestamp_local, daylight and
label_source "cams", plus source_file. Photos without GPS or time, unreadable files and hours
without data are listed in skipped.csv and left out.

Exit status 0 when any photo was labelled (or all were, by an earlier run), 1 when every
photo of this run was skipped (the service could not be reached, no photo has GPS and time...:
one line says the commonest reason), 2 for a folder that does not exist.

Resumable: photos already in labels.csv are not read again, and every archive answer is kept
in DATA_FOLDER/cams-answers.json, so a second run asks nothing it asked before. Such labels
are a model of the area's air, not a monitor at the camera: see train/README.md.
No TensorFlow here.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import shutil
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from airken import datafolder
from airken.airmodel.archive import JsonAnswers, modelled_hour, photos_in
from airken.airmodel.openmeteo import AirSettings, OpenMeteo
from airken.airmodel.report import label_row
from airken.core.intake import ImageRejected, read_photo

log = logging.getLogger("train.label_photos")

EXTRA = ("source_file",)  # the photo's path in FOLDER: how a second run knows it is done
ANSWERS = "cams-answers.json"


def label_one(path: Path, client: OpenMeteo) -> tuple[dict | None, str | None]:
    """(labels.csv row without file names, None) or (None, why it was skipped)."""
    try:
        photo = read_photo(path)
    except ImageRejected as err:
        return None, err.reason  # no page here: a file in a folder, not an upload
    hit, why = modelled_hour(photo, client)
    return (None, why) if hit is None else (label_row("", hit.hour, hit.pm25, hit.lat, hit.lon), None)


def image_name(source: Path, folder: Path) -> str:
    """A file name in images/ that says where it came from and never collides."""
    rel = source.relative_to(folder).as_posix()
    return f"{hashlib.sha1(rel.encode()).hexdigest()[:8]}-{source.name}"


def place_image(source: Path, target: Path, link: bool) -> None:
    if target.exists() or target.is_symlink():
        target.unlink()
    if link:
        target.symlink_to(source.resolve())
    else:
        shutil.copy2(source, target)


def already_labelled(labels: Path) -> set[str]:
    if not labels.is_file():
        return set()
    with labels.open(newline="", encoding="utf-8") as fh:
        return {row["source_file"] for row in csv.DictReader(fh) if row.get("source_file")}


def run(folder: Path, out: Path, *, link: bool = False, settings: AirSettings | None = None) -> dict:
    """Label every photo in `folder` into the data folder `out` (asking the archive that
    ``settings`` name, default the environment's); returns the counts."""
    out.mkdir(parents=True, exist_ok=True)
    (out / datafolder.IMAGES_DIR).mkdir(exist_ok=True)
    client = OpenMeteo(settings or AirSettings.from_env(), answers=JsonAnswers(out / ANSWERS))
    done = already_labelled(out / datafolder.LABELS_CSV)
    skipped: list[tuple[str, str]] = []
    written = 0
    for path in tqdm(photos_in(folder), desc="label photos", unit="photo"):
        rel = path.relative_to(folder).as_posix()
        if rel in done:
            continue
        row, why = label_one(path, client)
        if row is None:
            skipped.append((rel, why or "skipped"))
            continue
        name = image_name(path, folder)
        place_image(path, out / datafolder.IMAGES_DIR / name, link)
        datafolder.append_rows(out, [{**row, "file": name, "source_file": rel}], EXTRA)  # a stopped run keeps it
        written += 1
    with (out / "skipped.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("file", "reason"), *skipped])
    counts = {"labelled": written, "already_labelled": len(done), "skipped": len(skipped),
              "skipped_by_reason": dict(Counter(why for _, why in skipped))}
    log.info("labelled %d photos (%d from earlier runs), skipped %d: %s", written, len(done), len(skipped),
             counts["skipped_by_reason"])
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.label_photos", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder of photos (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="the data folder to write (or to resume)")
    parser.add_argument("--link", action="store_true", help="link the photos into images/ instead of copying")
    parser.add_argument("--air-url", help="an Open-Meteo-compatible /v1/air-quality URL (default AIRKEN_AIR_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.folder.is_dir():
        print(f"label_photos: {args.folder} is not a folder", file=sys.stderr)
        return 2
    settings = AirSettings.from_env()
    if args.air_url:
        settings = replace(settings, air_url=args.air_url)
    counts = run(args.folder, args.out, link=args.link, settings=settings)
    print(json.dumps(counts))
    if counts["labelled"] == 0 and counts["skipped"]:  # nothing came of this run: say why, once
        reason, _ = Counter(counts["skipped_by_reason"]).most_common(1)[0]
        print(f"label_photos: none of the {counts['skipped']} photos could be labelled ({reason}); "
              f"see {args.out / 'skipped.csv'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
