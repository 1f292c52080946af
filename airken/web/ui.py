"""The Airken web page (Gradio Blocks): the declaration of the page and its events.

The work lives elsewhere: the predictor reads the photo (airken.core.predictor, with the
modelled PM2.5 of airken.airmodel.report), airken.web.render draws the verdict, plan, air panel and batch
table, airken.web.panel declares the air panel and its events, airken.web.about writes the About
tab and airken.web.sweeper deletes old uploads. Every event reads its file through `_path_of`.
The `/predict` API endpoint returns Prediction.to_dict(), the JSON that `python -m airken
predict --json` prints (plus the file's path there); `/air` is the modelled PM2.5 alone.

    demo = build_demo()
    launch(demo, host="127.0.0.1", port=7860)
"""
from __future__ import annotations

import csv
import html
import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from airken import settings
from airken.airmodel.report import predict_with_air
from airken.core.intake import ImageRejected, Photo, read_photo, too_big_message
from airken.core.prior import BadPrior, parse_prior
from airken.core.profiles import BadProfile, read_profile_file, resolve_place
from airken.core.scene import haze_map
from airken.examples import EXAMPLES_DIR, example_paths, title
from airken.web import panel as air_panel
from airken.web import render, server, sweeper
from airken.web.about import about_page
from airken.web.api import photo_input, prediction_output, verdict_inputs, where_inputs
from airken.web.uploads import uploaded_path

if TYPE_CHECKING:
    from airken.core.predictor import Prediction, Predictor

log = logging.getLogger(__name__)

PAGE_CSS = Path(__file__).resolve().parent / "page.css"
GENERIC_ERROR = "Something went wrong while reading this photo. Please try another one."
NO_PHOTO = "Add a photo of the sky first."
NO_PHOTOS = "Add one or more photos first."
# Formats a browser cannot show: the page swaps in a decoded copy so the visitor sees the photo.
NO_BROWSER_PREVIEW = {"HEIF", "TIFF"}

INTRO = (
    "# Airken: how healthy is the air?\n"
    "Upload a photo of the sky (or take one) and Airken tells you how healthy the air looks: "
    "fine for everyone, a day for sensitive people to take care, or a day to cut outdoor "
    "exertion. It is an estimate from a photo, not a measurement."
)
HAZE_HOW_TO = (
    "**How to read the haze map:** haze adds a milky veil that lifts even the darkest "
    "colours of distant things. **Blue** means a clear view, **green to yellow** means more "
    "veil. White cloud, fog and bright sky near the sun also show yellow, so look at "
    "distant buildings, hills and the horizon."
)

# In the page: the verdict is a live region; images get their alt text; the API page's MCP
# tab is hidden (no MCP server: it would add packages and fetch any URL a caller names); a
# file over the upload cap is stopped before Gradio's own upload (whose error is a bare
# toast) and its box's hidden button is clicked instead, which puts the app's message in
# the page.
PAGE_JS = """() => {
  const cap = %(max_bytes)d;
  const boxes = {'ak-photo': 'ak-photo-too-big', 'ak-batch-files': 'ak-batch-too-big'};
  const card = document.getElementById('ak-verdict');
  if (card) { card.setAttribute('aria-live', 'polite'); card.setAttribute('aria-atomic', 'true'); }
  const alts = {'ak-photo': 'Your photo of the sky', 'ak-your-photo': 'Your photo, as Airken read it',
                'ak-haze': 'Haze map of your photo: blue is a clear view, yellow more haze'};
  new MutationObserver(() => {
    for (const [id, alt] of Object.entries(alts)) {
      document.querySelectorAll('#' + id + ' img:not([alt]), #' + id + ' img[alt=""]')
        .forEach(img => img.setAttribute('alt', alt));
    }
    // An empty upload box is named by the words it shows, not Gradio's own (WCAG 2.5.3).
    document.querySelectorAll('button.upload-container[aria-label]').forEach(btn => {
      const text = btn.innerText.trim().replace(/\\s+/g, ' ');
      if (text && btn.getAttribute('aria-label') !== text) btn.setAttribute('aria-label', text);
    });
    // Example thumbnails: the caption names the button, so the picture itself is decorative.
    document.querySelectorAll('#ak-examples button[aria-label^="Thumbnail"]').forEach(btn => {
      const caption = btn.innerText.trim();
      if (caption) { btn.setAttribute('aria-label', caption); btn.querySelectorAll('img').forEach(i => i.alt = ''); }
    });
    // Wide tables scroll sideways on a phone (WCAG 1.4.10 allows it for data tables) in a
    // region a keyboard can reach, instead of breaking words or running off the screen.
    document.querySelectorAll('.ak-about table').forEach(table => {
      if (table.parentElement.classList.contains('ak-scroll')) return;
      const region = document.createElement('div');
      region.className = 'ak-scroll';
      region.tabIndex = 0;
      region.setAttribute('role', 'region');
      region.setAttribute('aria-label', 'Table, scrolls sideways');
      table.replaceWith(region);
      region.appendChild(table);
    });
    // The API page's MCP tab: this app does not serve MCP (it would fetch URLs it is given).
    document.querySelectorAll('.snippets li').forEach(li => {
      if (li.textContent.trim() === 'MCP') li.style.display = 'none';
    });
  }).observe(document.body, {childList: true, subtree: true});
  const refuse = (ev, files) => {
    const box = ev.target.closest && ev.target.closest(Object.keys(boxes).map(id => '#' + id).join(','));
    const big = box && Array.from(files || []).find(f => f.size > cap);
    if (!big) return;
    ev.preventDefault(); ev.stopImmediatePropagation();
    if (ev.target.type === 'file') ev.target.value = '';
    window.akTooBig = big.size;
    document.getElementById(boxes[box.id]).click();
  };
  document.addEventListener('change', ev => refuse(ev, ev.target.files), true);
  document.addEventListener('drop', ev => refuse(ev, ev.dataTransfer && ev.dataTransfer.files), true);
  window.akReady = true;  // the listeners above are in place (the browser tests wait for this)
}"""
TOO_BIG_SIZE_JS = "(size) => window.akTooBig || 0"

PREDICT_DOC = ("Read the air from one sky photo. Returns label (healthy / moderate / danger, or null when "
               "the photo cannot be read), probabilities, PM2.5 band, advice, plan, warnings, model, "
               "timings and air (the modelled PM2.5 for the photo's place and hour, {\"error\": reason} "
               "when it cannot be had, or null without a place): the JSON of `python -m airken predict "
               "--json` without its path. latitude, longitude (rounded to 0.1 degree) and time (ISO 8601) "
               "say where and when the photo was taken when its EXIF does not; prior sets the class prior "
               "(\"world\", \"uniform\", \"train\" or \"healthy,moderate,danger\" shares) and place takes a "
               "place profile's JSON (python -m airken calibrate), which calibrates the reading to that camera.")

CALIBRATE_HOW_TO = (
    "If you photograph the same view often, a few photos with PM2.5 readings from a nearby station calibrate "
    "Airken to your camera: run `python -m airken calibrate --name my-view FOLDER` on your computer "
    "(FOLDER holds `images/` and a `labels.csv` with `file`, `pm25` and `timestamp_local`) and load the "
    "`.json` file it writes here. It is used for your readings only and not kept.")

# On a phone the verdict sits below the photo: bring it into view when it arrives.
SCROLL_TO_VERDICT = """() => { setTimeout(() => {
  const card = document.querySelector('#ak-verdict [data-label]');
  if (card && window.innerWidth < 800) card.scrollIntoView({behavior: 'smooth', block: 'start'});
}, 80); }"""


# ---------------------------------------------------------------- reading one photo


def _path_of(image: Any) -> str:
    """The real path of the uploaded file (or example) a request names, in whatever shape it
    came (events run with preprocess=False so bad files reach our own decoder and its
    messages). Anything else is refused by airken.web.uploads' rule (NotAnUpload is an
    ImageRejected: the card shows it like any unreadable file)."""
    path = uploaded_path(image, EXAMPLES_DIR)
    if path is None:
        raise ImageRejected(NO_PHOTO)
    return path


def _message(err: Exception) -> str:
    if isinstance(err, gr.Error):
        return str(err.message)
    return str(err.args[0]) if err.args else "This file cannot be read as a photo."


def _run(predictor: Predictor, image: Any, **where: Any) -> Prediction:
    """The reading of the uploaded file, with the modelled PM2.5 for `where` (lat, lon, time:
    airken.airmodel.report) or the photo's own place and hour. Raises ImageRejected (or gr.Error) with a
    message for the visitor; anything else is logged and becomes GENERIC_ERROR."""
    path = _path_of(image)
    try:
        return predict_with_air(predictor, path, **where)
    except (ImageRejected, gr.Error):
        raise
    except Exception:
        log.exception("prediction failed for %s", path)
        raise gr.Error(GENERIC_ERROR, print_exception=False) from None


def _api_predict(predictor: Predictor, image: Any, latitude: float | None = None, longitude: float | None = None,
                 time: str | None = None, prior: str | None = None, place: str | None = None) -> dict:
    try:
        prior = prior.strip() if prior and prior.strip() else None
        parse_prior(prior)  # a bad prior is refused here, before the photo is read ("train": no correction)
        options = {"prior": prior, "place": resolve_place(place)}
        return _run(predictor, image, lat=latitude, lon=longitude, time=time, **options).to_dict()
    except (BadPrior, BadProfile) as err:
        raise gr.Error(html.escape(str(err), quote=False), title="Can't use this setting",
                       print_exception=False) from None
    except ImageRejected as err:
        log.info("rejected upload: %s", err)
        # gr.Error renders HTML; the message may quote a file name.
        raise gr.Error(html.escape(_message(err), quote=False), title="Can't use this file",
                       print_exception=False) from None


class ReadTab:
    """The read tab's components (set by _read_tab as it lays them out), and what each state
    of the page puts in them."""

    image: gr.Image
    verdict: gr.HTML
    results: gr.Column
    probs: gr.HTML
    plan: gr.HTML
    why: gr.Accordion
    photo: gr.Image
    haze: gr.Image
    raw: gr.JSON
    air: air_panel.AirPanel
    profile: gr.File

    def __init__(self, predictor: Predictor):
        self.predictor = predictor
        self.threshold = render.threshold_of(predictor.calibration.uncertain_below, predictor.metrics)

    def outputs(self) -> list:
        return [self.verdict, self.results, self.probs, self.plan, self.why, self.photo, self.haze, self.raw,
                self.image]

    def cleared(self, card: str, keep_photo: bool = True) -> tuple:
        """Only a card: everything from an earlier reading is hidden or emptied."""
        return (card, gr.Column(visible=False), "", "", gr.Accordion(visible=False), None, None, None,
                gr.skip() if keep_photo else None)

    def read(self, image: Any, place: dict | None = None, profile: Any = None) -> tuple:
        """The reading of `image`; `place` is the visitor's chosen place (air_panel), if any,
        and `profile` the place profile file they loaded (airken.core.profiles), if any."""
        try:
            calibrated = read_profile_file(_path_of(profile)) if profile else None
            pred = _run(self.predictor, image, place=calibrated, **air_panel.where(place))
        except BadProfile as err:
            return self.cleared(render.error_card(f"The place profile cannot be used: {err}"), keep_photo=True)
        except (ImageRejected, gr.Error) as err:
            log.info("rejected upload: %s", _message(err))
            return self.cleared(render.error_card(_message(err)), keep_photo=False)
        if pred.label is None:  # refused by the scene checks: the photo stays, no haze map
            return (*self.cleared(render.verdict_card(pred))[:-2], pred.to_dict(), self._preview(pred))
        upright = pred.photo.image if pred.photo else None
        return (render.verdict_card(pred), gr.Column(visible=True), render.probabilities_html(pred, self.threshold),
                render.plan_html(pred), gr.Accordion(visible=True), upright, _haze(upright), pred.to_dict(),
                self._preview(pred))

    def _preview(self, pred: Prediction) -> Any:
        """A PNG of the photo as read, for uploads the browser cannot show (HEIC, TIFF)."""
        if pred.photo is None or pred.photo.format not in NO_BROWSER_PREVIEW:
            return gr.skip()
        folder = Path(self.image.GRADIO_CACHE) / f"airken-preview-{uuid.uuid4().hex}"
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "photo.png"
        pred.photo.image.save(out, "PNG")
        return str(out)

    def photo_of(self, image: Any) -> Photo:
        """The photo a request names, read again (for a donation), through the upload rule."""
        return read_photo(_path_of(image), self.predictor.limits)


def _haze(img: Any) -> Any:
    """The haze map: an extra that must never fail a reading."""
    if img is None:
        return None
    try:
        return haze_map(img)
    except Exception:
        log.exception("haze map failed")
        return None


# ---------------------------------------------------------------- many photos


def _batch_row(predictor: Predictor, file: Any) -> list[str]:
    name = Path(str(file.get("path") if isinstance(file, dict) else file)).name
    try:
        return render.batch_row(name, predictor.predict(_path_of(file)))
    except (ImageRejected, gr.Error) as err:
        return render.batch_row(name, error=_message(err))
    except Exception:
        log.exception("batch prediction failed for %s", name)
        return render.batch_row(name, error=GENERIC_ERROR)


def _write_csv(rows: list[list[str]], cache_dir: str) -> str:
    """Written inside Gradio's cache so that the sweeper ages it out like an upload."""
    folder = Path(cache_dir) / f"airken-batch-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "airken-results.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(render.BATCH_HEADERS)
        writer.writerows(rows)
    return str(out)


# ---------------------------------------------------------------- the page


def _too_big_button(elem_id: str) -> gr.Button:
    """Clicked by PAGE_JS, never by a person: display:none keeps it off screen and out of the tab order."""
    return gr.Button("file too big", elem_id=elem_id, elem_classes="ak-offscreen")


def _read_tab(predictor: Predictor, model_events: dict) -> None:
    """Upload or take a photo -> verdict, probabilities, plan, haze map; and /predict."""
    tab = ReadTab(predictor)
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300) as left:
            tab.image = gr.Image(
                type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"],
                # Phones: the rear camera, unmirrored, is the one that sees the sky.
                webcam_options=gr.WebcamOptions(mirror=False, constraints={"video": {"facingMode": "environment"}}),
                label="Photo of the sky", elem_id="ak-photo", buttons=[], height=340,
                placeholder="Drop a sky photo here, or tap to choose or take one",
            )
            read = gr.Button("Read the air", variant="primary", elem_classes="ak-read")
            with gr.Accordion("Calibrated to your camera (optional)", open=False):
                gr.Markdown(CALIBRATE_HOW_TO)
                tab.profile = gr.File(label="Place profile (.json)", file_types=[".json"], type="filepath",
                                      elem_id="ak-profile")
        with gr.Column(min_width=300):
            tab.verdict = gr.HTML(render.empty_card(), elem_id="ak-verdict")
            tab.air = air_panel.air_panel()  # the modelled PM2.5 beside the verdict, and the place
            with gr.Column(visible=False) as tab.results:
                tab.probs = gr.HTML("", elem_id="ak-probs")
    with gr.Column():
        tab.plan = gr.HTML("", elem_id="ak-plan")
        tab.air.render_plan()  # the next 48 hours here and their best times
    with gr.Accordion("Why: the haze in this photo", open=True, visible=False) as tab.why:
        gr.Markdown(HAZE_HOW_TO)
        with gr.Row():
            tab.photo = gr.Image(label="Your photo", interactive=False, min_width=240, buttons=[],
                                 format="jpeg", elem_id="ak-your-photo")
            tab.haze = gr.Image(label="Haze map", interactive=False, min_width=240, buttons=[],
                                format="jpeg", elem_id="ak-haze")
    with gr.Accordion("Raw result (JSON, same as the API)", open=False):
        tab.raw = gr.JSON(label="Prediction")
    size = gr.Number(visible=False)
    too_big = _too_big_button("ak-photo-too-big")

    outputs, inputs = tab.outputs(), [tab.image, tab.air.place, tab.profile]
    # preprocess=False everywhere: the file goes to our decoder untouched, so a bad file gets
    # our message instead of a Pillow error from Gradio's own image loading. A new photo first
    # clears the old result, so a stale verdict never sits beside a new photo.
    gr.on([tab.image.upload, read.click], lambda: tab.cleared(render.pending_card()), outputs=outputs,
          queue=False, api_visibility="private").then(
        tab.read, inputs=inputs, outputs=outputs, preprocess=False, api_name="read_photo", api_visibility="private",
        **model_events)
    tab.image.clear(lambda: tab.cleared(render.empty_card()), outputs=outputs, queue=False,
                    api_visibility="private")
    too_big.click(lambda n: tab.cleared(render.error_card(too_big_message(int(n or 0), predictor.limits)), False),
                  inputs=size, outputs=outputs, js=TOO_BIG_SIZE_JS, queue=False, api_visibility="private")
    tab.verdict.change(None, js=SCROLL_TO_VERDICT, queue=False, api_visibility="private")
    tab.air.follow(tab.raw, tab.image, tab.photo_of)
    examples = [str(p) for p in example_paths()]
    if examples:
        with left:  # under the upload box, where a first-time visitor looks
            gallery = gr.Gallery([(p, title(p)) for p in examples], label="Or try one of these photos",
                                 columns=4, height="auto", allow_preview=False, interactive=False, buttons=[],
                                 elem_id="ak-examples")

        def pick_example(evt: gr.SelectData) -> tuple:  # only the first event of a chain gets evt
            return (*tab.cleared(render.pending_card())[:-1], examples[evt.index])

        gallery.select(pick_example, outputs=outputs, queue=False, api_visibility="private").then(
            tab.read, inputs=inputs, outputs=outputs, preprocess=False, api_visibility="private", **model_events)
    # The public endpoint. A hidden button gives it an event without adding to the page.
    gr.Button(visible=False).click(lambda image, latitude=None, longitude=None, time=None, prior=None, place=None:
                                   _api_predict(predictor, image, latitude, longitude, time, prior, place),
                                   inputs=[photo_input(), *where_inputs(), *verdict_inputs()],
                                   outputs=prediction_output(),
                                   preprocess=False, api_name="predict", api_description=PREDICT_DOC,
                                   **model_events)


def _batch_tab(predictor: Predictor, model_events: dict) -> None:
    """Many files -> a table and a CSV; unreadable files get a row with the reason."""
    gr.Markdown("Read a folder of photos at once and download the results as CSV.")
    files = gr.File(file_count="multiple", type="filepath", label="Photos", elem_id="ak-batch-files")
    go = gr.Button("Read all", variant="primary")
    table = gr.HTML("", elem_id="ak-batch-table")
    csv_out = gr.File(label="Download CSV", interactive=False, visible=False)
    size = gr.Number(visible=False)
    too_big = _too_big_button("ak-batch-too-big")

    # Gradio finds its progress tracker through this default value.
    def read_batch(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        limit = settings.current().batch_max_files
        if not paths:
            return render.status(NO_PHOTOS), gr.File(visible=False)
        if len(paths) > limit:
            return render.status(f"At most {limit} photos at a time, please."), gr.File(visible=False)
        rows = [_batch_row(predictor, p) for p in progress.tqdm(paths, desc="Reading photos")]
        return render.batch_table(rows), gr.File(_write_csv(rows, csv_out.GRADIO_CACHE), visible=True)

    go.click(read_batch, inputs=files, outputs=[table, csv_out], api_visibility="private", **model_events)
    too_big.click(lambda n: (render.status(too_big_message(int(n or 0), predictor.limits)), gr.File(visible=False)),
                  inputs=size, outputs=[table, csv_out], js=TOO_BIG_SIZE_JS, queue=False, api_visibility="private")


def _about_tab(predictor: Predictor) -> None:
    about = predictor.about()
    page = about_page(about, keep_minutes=sweeper.keep_minutes())
    with gr.Column(elem_classes="ak-about"):
        gr.Markdown(page.lead)
        for title, text in page.sections:
            with gr.Accordion(title, open=False):
                gr.Markdown(text)
        if about.get("metrics"):
            with gr.Accordion("All measurements (metrics.json)", open=False):
                gr.JSON(about["metrics"])


def build_demo(predictor: Predictor | None = None) -> gr.Blocks:
    """The whole page. Loads the model now (LiteRT loads in milliseconds) so that the
    first visitor does not wait for it."""
    if predictor is None:
        from airken.core.predictor import get_predictor

        predictor = get_predictor()
    # One limit shared by every event that runs the model: as many calls as interpreters.
    concurrency = settings.current().concurrency
    model_events = dict(concurrency_limit=concurrency, concurrency_id="model")

    with gr.Blocks(title="Airken: read the air from a photo of the sky") as demo:
        gr.Markdown(INTRO, elem_classes="ak-title")
        with gr.Tab("Read the air"):
            _read_tab(predictor, model_events)
        with gr.Tab("Many photos"):
            _batch_tab(predictor, model_events)
        with gr.Tab("About"):
            _about_tab(predictor)
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    return demo


def theme() -> gr.themes.Theme:
    """Soft, with a primary blue dark enough for white text (WCAG AA), on buttons and on a
    chosen radio option, and info lines dark enough to read."""
    return gr.themes.Soft(primary_hue="sky").set(
        button_primary_background_fill="*primary_700", button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white", block_label_text_color="*neutral_700",
        checkbox_label_background_fill_selected="*primary_700",  # a chosen radio option, white text on it
        block_info_text_color="*neutral_600",  # a component's info line (the donation consent text)
        block_title_text_color="*neutral_800",
    )


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, **kwargs: Any):
    """Serve the page; host/port fall back to GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.

    Serve through this, not demo.launch(): it adds the styling and the page script, the temp
    file sweeper, and the upload cap (Gradio refuses files above the intake's byte limit
    before they reach the app). Run history is off: visitors' photos are not kept anywhere.
    """
    env = settings.current()
    options: dict[str, Any] = dict(
        server_name=host, server_port=port, max_file_size=env.max_bytes, css_paths=[PAGE_CSS],
        js=PAGE_JS % {"max_bytes": env.max_bytes}, theme=theme(), footer_links=["api"], run_history=False,
        # Gradio keeps a copy of the page's state per session (every API call is one) and
        # only drops the oldest past this count. The page keeps nothing between events, so
        # a small cap bounds memory (default 10000: ~80 KB each, close to 1 GB) at no cost.
        state_session_capacity=env.sessions,
        app_kwargs=server.app_kwargs(demo),
    )
    options.update(kwargs)
    return demo.launch(**options)
