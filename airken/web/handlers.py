"""What the page's events do. airken.web.ui declares the components and wires them here.

Every event reads its file through `path_of` (airken.web.uploads' rule: an upload or one of
the app's examples, nothing else), calls the predictor once and shows the Verdict as it is.
"""
from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from airken import settings
from airken.airmodel.donate import donations
from airken.airmodel.openmeteo import AirError
from airken.core.intake import ImageRejected, too_big_message
from airken.core.predictor import Predictor
from airken.core.prior import BadPrior
from airken.core.profiles import BadProfile, read_profile_file, resolve_profile
from airken.core.scene import haze_map
from airken.core.verdict import Verdict, plain
from airken.examples import EXAMPLES_DIR
from airken.table import record, write_csv
from airken.web import card, outlook
from airken.web.files import new_file
from airken.web.text import GENERIC_ERROR, NO_PHOTOS, NOT_A_PHOTO
from airken.web.uploads import uploaded_path

log = logging.getLogger(__name__)

NO_BROWSER_PREVIEW = {"HEIF", "TIFF"}  # formats a browser cannot show: the page shows a decoded copy


def path_of(image: Any) -> str | None:
    """The real path of the upload (or example) a request names; None when it names none.
    NotAnUpload (an ImageRejected) for anything else."""
    return uploaded_path(image, EXAMPLES_DIR)


def message(err: Exception) -> str:
    if isinstance(err, gr.Error):
        return str(err.message)
    return str(err.args[0]) if err.args else "This file cannot be read as a photo."


def where_of(place: dict | None) -> dict:
    """The predictor's place options for the session's place (the photo's own GPS comes first)."""
    if not isinstance(place, dict) or "lat" not in place:
        return {}
    return {"latitude": place["lat"], "longitude": place["lon"], "place_name": place.get("name")}


def refused_file(info: str, limits) -> str:
    """The message for a file the page script stopped before upload (too big, or not a photo)."""
    try:
        found = json.loads(info or "{}")
    except ValueError:
        found = {}
    size = int(found.get("size") or 0)
    return too_big_message(size, limits) if size > limits.max_bytes else NOT_A_PHOTO


@dataclass
class ReadTab:
    """The read tab's components (airken.web.ui sets them as it lays them out) and what each
    event puts in them."""

    predictor: Predictor
    image: Any = None
    card: Any = None
    results: Any = None
    probs: Any = None
    plan: Any = None
    why: Any = None
    photo: Any = None
    haze: Any = None
    raw: Any = None
    report: Any = None
    chart: Any = None
    best: Any = None
    activity: Any = None
    ics: Any = None
    shared: Any = None

    def outputs(self) -> list:
        found = [self.card, self.results, self.probs, self.plan, self.why, self.photo, self.haze, self.raw,
                 self.image, self.report, self.chart, self.best, self.activity, self.ics, self.shared]
        return [c for c in found if c is not None]

    def cleared(self, shown: str, keep_photo: bool = True, place: dict | None = None) -> dict:
        """Only a card: everything from an earlier reading is hidden or emptied."""
        report, chart, best, activity, ics = outlook.outlook(None, place)
        out = {self.card: shown, self.results: gr.Column(visible=False), self.probs: "", self.plan: "",
               self.why: gr.Accordion(visible=False), self.photo: None, self.haze: None, self.raw: None,
               self.image: gr.skip() if keep_photo else None, self.report: report, self.chart: chart,
               self.best: best, self.activity: activity, self.ics: ics}
        return out | ({self.shared: gr.update(visible=False)} if self.shared is not None else {})

    def read(self, image: Any, place: dict | None = None, profile: Any = None, share: bool = False,
             request: gr.Request | None = None) -> dict:
        """The verdict on `image` for the session's place and profile, everything it shows."""
        try:
            path = path_of(image)
            if path is None:
                return self.cleared(card.no_photo_card(), place=place)
            calibrated = read_profile_file(path_of(profile)) if profile else None
            v = self.predictor.predict(path, profile=calibrated, **where_of(place))
        except BadProfile as err:  # its message is a whole sentence for the visitor
            return self.cleared(card.error_card(str(err)), place=place)
        except (ImageRejected, AirError, gr.Error) as err:
            log.info("rejected upload: %s", message(err))
            return self.cleared(card.error_card(message(err)), keep_photo=False, place=place)
        except Exception:
            log.exception("prediction failed")
            return self.cleared(card.error_card(GENERIC_ERROR), keep_photo=False, place=place)
        return self.shown(v, place) | self._shared(v, share, request)

    def reread(self, image: Any, place: dict | None = None, profile: Any = None, share: bool = False,
               request: gr.Request | None = None) -> dict:
        """The shown photo read again for a new place or profile; without one, the new place's outlook."""
        if image is None:
            report, chart, best, activity, ics = outlook.outlook(None, place)
            return {self.report: report, self.chart: chart, self.best: best, self.activity: activity, self.ics: ics}
        return self.read(image, place, profile, False, request)  # shared once, on the first reading

    def shown(self, v: Verdict, place: dict | None) -> dict:
        """What the page shows for a verdict (a refused photo keeps the photo, no haze map)."""
        # plain(): the outlook and the page's state hold a dict, not the Verdict's frozen view
        report, chart, best, activity, ics = outlook.outlook(plain(v.air_model), place)
        upright = v.photo.image if v.photo is not None and not v.refused else None
        return {self.card: card.verdict_card(v), self.results: gr.Column(visible=not v.refused),
                self.probs: "" if v.refused else card.probabilities_html(v, self.predictor.rule),
                self.plan: card.plan_html(v), self.why: gr.Accordion(visible=upright is not None),
                self.photo: upright, self.haze: _haze(upright), self.raw: v.to_dict(), self.image: _preview(v),
                self.report: report, self.chart: chart, self.best: best, self.activity: activity, self.ics: ics}

    def _shared(self, v: Verdict, ticked: bool, request: gr.Request | None) -> dict:
        """Share the photo just read, only when the visitor ticked the box; says how it went."""
        if self.shared is None:
            return {}
        said = ""
        if ticked and not v.refused and v.photo is not None:  # plain(): the donation reads a dict, not a frozen view
            said = donations().share(v.photo, plain(v.air_model), getattr(request, "session_hash", None) or "anonymous")
        return {self.shared: gr.update(value=card.status(said), visible=bool(said))}

    def refused(self, info: str) -> dict:
        """A file the page script stopped before upload: the app's message in the card."""
        return self.cleared(card.error_card(refused_file(info, self.predictor.limits)), keep_photo=False)


def _preview(v: Verdict) -> Any:
    """A PNG of the photo as read, for uploads the browser cannot show (HEIC, TIFF)."""
    if v.photo is None or v.photo.format not in NO_BROWSER_PREVIEW:
        return gr.skip()
    out = new_file("photo.png", "preview")
    v.photo.image.save(out, "PNG")
    return str(out)


def _haze(img: Any) -> Any:
    """The haze map: an extra that must never fail a reading."""
    if img is None:
        return None
    try:
        return haze_map(img)
    except Exception:
        log.exception("haze map failed")
        return None


def batch(predictor: Predictor, paths: list[Any] | None, place: dict | None, progress: Any) -> tuple[str, Any]:
    """Many files -> (the table, the CSV button); an unreadable file gets a row with the reason."""
    limit = settings.current().batch_max_files
    if not paths:
        return card.status(NO_PHOTOS), gr.File(visible=False)
    if len(paths) > limit:
        return card.status(f"At most {limit} photos at a time, please."), gr.File(visible=False)
    rows = [_batch_row(predictor, p, place) for p in progress.tqdm(paths, desc="Reading photos")]
    return card.table_html(rows), gr.File(str(write_csv(rows, new_file("airken-results.csv", "batch"))),
                                          visible=True)


def _batch_row(predictor: Predictor, file: Any, place: dict | None) -> dict:
    name = Path(str(file.get("path") if isinstance(file, dict) else file)).name
    try:
        return record(name, predictor.predict(path_of(file) or "", **where_of(place)))
    except (ImageRejected, AirError, gr.Error) as err:
        return record(name, error=message(err))
    except Exception:
        log.exception("batch prediction failed for %s", name)
        return record(name, error=GENERIC_ERROR)


def api_predict(predictor: Predictor, image: Any, latitude: float | None = None, longitude: float | None = None,
                time: str | None = None, prior: str | None = None, profile: str | None = None) -> dict:
    """The public `predict` endpoint: the Verdict's JSON, or a gr.Error a caller can read."""
    try:
        path = path_of(image)
        if path is None:
            raise ImageRejected("Send a photo: the first input is the image file.")
        prior = prior.strip() if isinstance(prior, str) and prior.strip() else None
        return predictor.predict(path, latitude=latitude, longitude=longitude, time=time, prior=prior,
                                 profile=resolve_profile(profile)).to_dict()
    except (BadPrior, BadProfile, AirError) as err:
        raise gr.Error(html.escape(str(err), quote=False), title="Can't use this setting",
                       print_exception=False) from None
    except ImageRejected as err:
        log.info("rejected upload: %s", err)
        # gr.Error renders HTML; the message may quote a file name.
        raise gr.Error(html.escape(message(err), quote=False), title="Can't use this file",
                       print_exception=False) from None
    except Exception:  # a bug: the traceback stays in the server log, the caller gets one plain line
        log.exception("prediction failed")
        raise gr.Error(GENERIC_ERROR, print_exception=False) from None
