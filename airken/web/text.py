"""The page's own prose (the photo's verdict carries its words itself) and its script."""
from __future__ import annotations

from pathlib import Path

INTRO = (
    "# Airken: how healthy is the air?\n"
    "Upload a photo of the sky (or take one) and say where it was taken. The air model of that place "
    "and hour sets the level, the photo shows whether the air looks hazier or cleaner than that, and "
    "Airken tells you what it means for your day. It is an estimate, not a measurement."
)
PLACE_PROMPT = ("### Where was the photo taken?\n"
                "For a photo without its own GPS and time, give the town: the modelled air of that place and "
                "hour then sets the level, far more reliably than the photo alone.")
HAZE_HOW_TO = (
    "**How to read the haze map:** haze adds a milky veil that lifts even the darkest "
    "colours of distant things. **Blue** means a clear view, **green to yellow** means more "
    "veil. White cloud, fog and bright sky near the sun also show yellow, so look at "
    "distant buildings, hills and the horizon."
)
CALIBRATE_HOW_TO = (
    "If you photograph the same view often (a webcam, a window), calibrate Airken to your camera on your "
    "computer: `airken calibrate --name my-view --from-air FOLDER` labels the photos in FOLDER with the air "
    "model's archive for their EXIF place and hour, or `airken calibrate --name my-view FOLDER` uses "
    "readings of a station you give in `FOLDER/labels.csv`. Load the `.json` file it writes here: it is used "
    "for your readings only and not kept.")
NO_PHOTOS = "Add one or more photos first."
NOT_A_PHOTO = "This file is not a photo Airken can read: upload a JPEG, PNG, WebP or HEIC photo of the sky."
GENERIC_ERROR = "Something went wrong while reading this photo. Please try another one."
PREDICT_DOC = (
    "Read the air from one sky photo. Only the photo is required; latitude and longitude (decimal "
    "degrees, rounded to 0.1) and time (ISO 8601) say where and when it was taken when its EXIF does not; "
    "prior replaces the air model with a class prior (\"world\", \"uniform\", \"train\" or "
    "\"healthy,moderate,danger\" shares); profile takes a calibration profile's JSON (airken calibrate). "
    "Returns the verdict as the page shows it: label, unsure, headline, advice, plan, colour, confidence, "
    "unsure_reason, probabilities, witnesses (what the air model and the photo each said), where, "
    "air_model (the modelled PM2.5 report, {\"error\": why}, or null without a place), and more: the JSON "
    "line of airken predict --json without its path.")
AIR_DOC = (  # plain text: the "Use via API" page shows descriptions as they are, backticks and all
    "Modelled PM2.5 (Open-Meteo, CAMS) for a place and hour: latitude and longitude (rounded to 0.1 degree) "
    "or a place name in where; time in ISO 8601 (default now). Returns lat, lon, time, pm25, label, source, "
    "hourly (the next 48 hours) and best (a window per activity), or {\"error\": why}: the JSON of "
    "airken air --json.")

PAGE_JS = (Path(__file__).with_name("page.js")).read_text(encoding="utf-8")


def page_js(max_bytes: int) -> str:
    """The page script with the upload cap in it."""
    return PAGE_JS.replace("__MAX_BYTES__", str(int(max_bytes)))
