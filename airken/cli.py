"""Command line: `airken predict PATH... [--json] [--lat LAT --lon LON | --where PLACE] [--time ISO8601]
[--profile NAME] [--prior SHARES]`,
`airken calibrate --name NAME [--from-air [--lat LAT --lon LON]] FOLDER`, `airken info` and
`airken air (--lat LAT --lon LON | --where PLACE) [--time ISO8601] [--json]` (or `python -m airken`).

Exit status:
  0  every file was read. A photo the scene checks refuse (night, no sky: label null) was
     read too, and still gives 0. For `air`: a modelled PM2.5 was found.
  1  no usable model could be loaded (the message says what to do).
  2  any file could not be read (missing, not an image, damaged, too big); the others are
     still printed. For `air`: no modelled PM2.5 (the one line says why). For `calibrate`:
     no profile could be fitted. A --prior, --profile or place that cannot be used, and
     argparse's status for a wrong command line.
  141  the reader of the output went away (`airken predict ... | head`), quietly, as a
     program that SIGPIPE ends.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from airken import calibrate, datafolder
from airken.airmodel.openmeteo import CREDIT, AirError, default_client, round_place
from airken.airmodel.report import air_block, parse_time
from airken.core.intake import ImageRejected
from airken.core.predictor import get_predictor
from airken.core.prior import BadPrior, parse_prior
from airken.core.profiles import BadProfile, load_profile, save_profile
from airken.core.verdict import Verdict
from airken.table import cell, record

EXIT_OK, EXIT_NO_MODEL, EXIT_REFUSED = 0, 1, 2
EXIT_PIPE_CLOSED = 128 + 13  # SIGPIPE's status in a shell

CALIBRATE_HELP = """\
Calibrate Airken to one camera's view (a webcam, a window you photograph often).

Labels from a station nearby: FOLDER holds the photos in images/ and labels.csv with the columns
  file             a photo's name inside images/
  pm25 or label    the PM2.5 reading (ug/m3) at the photo's hour, or its class
                   (healthy, moderate, danger)
  timestamp_local  when it was taken (ISO 8601), or date; photos of one hour share
                   one reading
Labels from the air model (--from-air): FOLDER is any folder of photos with their EXIF time
(and GPS, or give --lat and --lon); each is labelled with the modelled PM2.5 of its place and
hour from the Open-Meteo archive (CAMS), kept in FOLDER/air-model-answers.json.

The profile is saved as NAME.json in AIRKEN_PROFILES_DIR (default ~/.config/airken/profiles,
under $XDG_CONFIG_HOME when set); use it with `airken predict --profile NAME PHOTO`, or load
the file on the page."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        status = _run(args)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` stopped reading: the Python docs' SIGPIPE recipe
        # Point stdout at devnull so that the interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    return status


def _run(args: argparse.Namespace) -> int:
    if args.command == "air":  # no model needed
        return _air(args)
    try:
        predictor = get_predictor(instances=1)  # one file at a time, with every core
    except RuntimeError as err:  # no usable model anywhere: say what to do
        print(f"airken: {err}", file=sys.stderr)
        return EXIT_NO_MODEL
    if args.command == "info":
        return _info(predictor, args.json)
    if args.command == "calibrate":
        return _calibrate(predictor, args)
    try:  # a bad --prior, --profile or place is said once, before any photo is read
        options = _predict_options(args)
    except (BadPrior, BadProfile, AirError) as err:
        print(f"airken: {err}", file=sys.stderr)
        return EXIT_REFUSED
    return _predict(predictor, args.paths, args.json, options)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="airken", description="Read air quality from photos of the sky.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log where the model came from and more")
    sub = parser.add_subparsers(dest="command", required=True)
    pred = sub.add_parser("predict", help="classify one or more photos")
    pred.add_argument("paths", nargs="+", metavar="PATH")
    pred.add_argument("--json", action="store_true", help="one JSON object per line per input")
    pred.add_argument("--lat", help="where the photos were taken, when their EXIF does not say: latitude")
    pred.add_argument("--lon", help="longitude, decimal degrees")
    pred.add_argument("--where", metavar="PLACE", help="a place name instead of --lat/--lon")
    pred.add_argument("--time", help="when they were taken (ISO 8601), when their EXIF does not say; default now")
    pred.add_argument("--profile", metavar="NAME", help="your camera's calibration profile (see calibrate)")
    pred.add_argument("--prior", metavar="SHARES",
                      help='class prior: "world" (default), "uniform", "train" (none) or three shares '
                           '"healthy,moderate,danger"')
    cal = sub.add_parser("calibrate", help="calibrate Airken to one camera's view", description=CALIBRATE_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cal.add_argument("--name", required=True, help="the profile's name (letters, digits, _ - .)")
    cal.add_argument("folder", metavar="FOLDER", help="a data folder (images/ and labels.csv), or with --from-air "
                                                      "any folder of photos")
    cal.add_argument("--from-air", action="store_true", help="label the photos with the air model's archive for "
                                                             "their EXIF place and hour")
    cal.add_argument("--lat", help="with --from-air: the place of photos without GPS, latitude")
    cal.add_argument("--lon", help="with --from-air: longitude")
    info = sub.add_parser("info", help="where the model came from, its revision and sha256")
    info.add_argument("--json", action="store_true")
    air = sub.add_parser("air", help="modelled PM2.5 for a place and hour, the next 48 hours and their best windows")
    air.add_argument("--lat", help="latitude, decimal degrees (rounded to 0.1 before it is sent)")
    air.add_argument("--lon", help="longitude, decimal degrees")
    air.add_argument("--where", metavar="PLACE", help="a place name instead of --lat/--lon")
    air.add_argument("--time", help="ISO 8601 (default now); without an offset, local time at the place")
    air.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def _predict_options(args: argparse.Namespace) -> dict:
    """The predictor's options from the command line; raises BadPrior, BadProfile or AirError."""
    if args.prior is not None:
        parse_prior(args.prior)  # checked now; the predictor reads it ("train": no correction)
    parse_time(args.time)  # a bad place or time is said once, not as a traceback at the first photo
    if args.lat is not None or args.lon is not None:
        round_place(args.lat, args.lon)
    options = {"prior": args.prior, "profile": None if args.profile is None else load_profile(args.profile),
               "latitude": args.lat, "longitude": args.lon, "time": args.time}
    if args.where is not None:
        if args.lat is not None or args.lon is not None:
            raise AirError("Give either --where or --lat and --lon, not both.")
        place = default_client().geocode(args.where)
        options |= {"latitude": place.lat, "longitude": place.lon, "place_name": place.name}
    return options


TABLE = ("verdict", "confidence", "air model PM2.5", "why unsure")  # the columns after the file


def _predict(predictor, paths: list[str], as_json: bool, options: dict) -> int:
    status = EXIT_OK
    if not as_json:
        print(_table_line("file", *TABLE))
    for path in paths:
        try:
            result = predictor.predict(path, **options)
        except ImageRejected as err:
            status = EXIT_REFUSED
            _emit(path, None, as_json, str(err))
            continue
        _emit(path, result, as_json)
    return status


def json_record(path: str, result: Verdict) -> dict:
    """The API's JSON (Verdict.to_dict()) with the file's path in front."""
    return {"path": path, **result.to_dict()}


def _emit(path: str, result: Verdict | None, as_json: bool, error: str | None = None) -> None:
    if as_json:
        line = json_record(path, result) if result is not None else {"path": path, "error": error}
        print(json.dumps(line, ensure_ascii=False), flush=True)
        return
    row = record(path, result, error)  # the page's words and percentages
    notes = row["why unsure"] or row["notes"] or ""
    if result is not None and result.profile:  # said on every row: the table may be cut by `head`
        notes = f"Calibrated by the profile {result.profile!r}. {notes}".strip()
    print(_table_line(_short(path), *(cell(c, row[c]) for c in TABLE[:-1]), notes), flush=True)


def _info(predictor, as_json: bool) -> int:
    about = predictor.about()
    if as_json:
        print(json.dumps(about))
        return EXIT_OK
    model = about["model"]
    print(f"source:   {model['source']}")
    print(f"file:     {predictor.source.path}")
    if model.get("repo_id"):
        print(f"hub repo: {model['repo_id']} @ {model.get('revision')}")
    print(f"sha256:   {model['sha256']}" + ("" if model.get("verified", True) else " (not verified)"))
    metrics = about["metrics"]
    if metrics.get("model_variant"):
        print(f"variant:  {metrics['model_variant']}")
    return EXIT_OK


def _calibrate(predictor, args: argparse.Namespace) -> int:
    try:
        if args.from_air:
            if (args.lat is None) != (args.lon is None):
                raise AirError("Give both --lat and --lon, or neither.")
            lat, lon = (None, None) if args.lat is None else round_place(args.lat, args.lon)
            done = calibrate.from_air_model(predictor, args.folder, args.name, lat, lon)
        else:
            done = calibrate.from_readings(predictor, args.folder, args.name)
    except (BadProfile, datafolder.BadFolder, AirError) as err:
        print(f"airken: {err}", file=sys.stderr)
        return EXIT_REFUSED
    path = save_profile(done.profile)
    for file, why in done.skipped:
        print(f"skipped {file}: {why}")
    print("\n".join(calibrate.describe(done)))
    print(f"Saved {path}; use it with: airken predict --profile {done.profile.name} PHOTO")
    return EXIT_OK


def _table_line(name: str, verdict: str, confidence: str, air: str, notes: str) -> str:
    return f"{name:40} {verdict:36} {confidence:>10} {air:>15}  {notes}"


def _air(args: argparse.Namespace) -> int:
    here = f"{args.lat}, {args.lon}"
    if args.where is not None and (args.lat is not None or args.lon is not None):
        block = {"error": "Give either --where or --lat and --lon, not both."}
    elif args.where is not None:
        try:
            place = default_client().geocode(args.where)
            here, block = place.name, air_block(place.lat, place.lon, args.time)
        except AirError as err:
            block = {"error": err.message}
    elif args.lat is None or args.lon is None:
        block = {"error": "Give --lat and --lon (decimal degrees), or --where PLACE."}
    else:
        block = air_block(args.lat, args.lon, args.time)
    print(json.dumps(block) if args.json else _air_text(block, here), flush=True)
    return EXIT_REFUSED if "error" in block else EXIT_OK


def _air_text(block: dict, here: str) -> str:
    if "error" in block:
        return f"airken: {block['error']}"
    lines = [f"{here}: {block['pm25']} ug/m3 modelled PM2.5 at {block['time']} ({block['label']})"]
    for activity, best in block["best"].items():
        when = "no daylight window" if best is None else (
            f"{best['start']} to {best['end'][11:16]} ({best['pm25']} ug/m3, {best['label']})")
        lines.append(f"  best time for {activity}: {when}")
    lines.append(f"source: {block['source']}. {CREDIT}")
    return "\n".join(lines)


def _short(path: str, width: int = 40) -> str:
    return path if len(path) <= width else "..." + path[-(width - 3):]
