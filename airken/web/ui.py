"""The Airken web page (Gradio Blocks): a declaration of its components and events.

The work lives elsewhere: airken.web.handlers (what each event does), airken.web.card and
airken.web.forecast (the HTML), airken.web.outlook (the place form and the 48 hours),
airken.web.text (the page's prose and script), airken.web.api (the public endpoints' shapes).

    demo = build_demo()
    launch(demo, host="127.0.0.1", port=7860)
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gradio as gr

from airken import settings
from airken.airmodel.donate import CONSENT, donations
from airken.airmodel.openmeteo import default_client
from airken.airmodel.planner import ACTIVITIES
from airken.core.predictor import Predictor
from airken.examples import example_paths, title
from airken.web import api, card, handlers, outlook, server, sweeper, text
from airken.web.about import about_page

PAGE_CSS = Path(__file__).resolve().parent / "page.css"
PRIVATE = dict(api_visibility="private")


def _photo_column(tab: handlers.ReadTab) -> dict[str, Any]:
    """Upload and the button; the examples and the optional profile go under them."""
    tab.image = gr.Image(
        type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"],
        # Phones: the rear camera, unmirrored, is the one that sees the sky.
        webcam_options=gr.WebcamOptions(mirror=False, constraints={"video": {"facingMode": "environment"}}),
        label="Photo of the sky", elem_id="ak-photo", buttons=[], height=340,
        placeholder="Drop a sky photo here, or tap to choose or take one")
    read = gr.Button("Read the air", variant="primary", elem_classes="ak-read")
    return {"read": read}


def _profile_box() -> gr.File:
    with gr.Accordion("Calibrated to your camera (optional)", open=False):
        gr.Markdown(text.CALIBRATE_HOW_TO)
        return gr.File(label="Calibration profile (.json)", file_types=[".json"], type="filepath",
                       elem_id="ak-profile")


def _place_form(place: gr.State) -> dict[str, Any]:
    """Where the photo was taken, one compact form right under the verdict that asks for it:
    a town and Find on one line, or the browser's position (page.css lays it out)."""
    enabled = default_client().settings.enabled
    with gr.Column(elem_id="ak-where", visible=enabled):  # AIRKEN_AIR=0: no air model, no form
        gr.Markdown(text.PLACE_PROMPT, elem_classes="ak-where-why")
        with gr.Row(equal_height=False, elem_classes="ak-where-row"):
            town = gr.Textbox(label="Town or city", placeholder="e.g. Milan", max_length=100, scale=1,
                              min_width=120, elem_id="ak-where-town")
            find = gr.Button("Find", scale=0, min_width=80, elem_id="ak-where-find")
        locate = gr.Button("Use my location", variant="secondary", elem_id="ak-where-locate")
        line = gr.HTML("", elem_id="ak-where-line")
    return {"place": place, "town": town, "find": find, "locate": locate, "line": line}


def _verdict_column(tab: handlers.ReadTab, place: gr.State) -> tuple[gr.Checkbox | None, dict[str, Any]]:
    """The card, the place form it may ask for, then the optional donation and how sure."""
    tab.card = gr.HTML(card.empty_card(), elem_id="ak-verdict")
    form = _place_form(place)
    share = None
    if donations().enabled:
        share = gr.Checkbox(False, label="Share this photo to improve Airken", info=CONSENT, elem_id="ak-share")
        tab.shared = gr.HTML("", visible=False, elem_id="ak-shared")
    with gr.Column(visible=False) as tab.results:
        tab.probs = gr.HTML("", elem_id="ak-probs")
    return share, form


def _details(tab: handlers.ReadTab) -> None:
    """Under both columns: the plan, the 48 hours, the haze map, the raw JSON."""
    tab.plan = gr.HTML("", elem_id="ak-plan")
    tab.report = gr.State(None)
    tab.chart = gr.HTML("", elem_id="ak-air-chart")
    tab.best = gr.HTML("", elem_id="ak-air-best")
    with gr.Row(equal_height=True):
        tab.activity = gr.Radio([a.name for a in ACTIVITIES], value=ACTIVITIES[0].name, visible=False,
                                label="Add to calendar: the best time for", elem_id="ak-air-activity")
        tab.ics = gr.DownloadButton("Add to calendar (.ics)", visible=False, elem_id="ak-air-ics")
    with gr.Accordion("The haze in this photo", open=True, visible=False) as tab.why:
        gr.Markdown(text.HAZE_HOW_TO)
        with gr.Row():
            tab.photo = gr.Image(label="Your photo", interactive=False, min_width=240, buttons=[], format="jpeg",
                                 elem_id="ak-your-photo")
            tab.haze = gr.Image(label="Haze map", interactive=False, min_width=240, buttons=[], format="jpeg",
                                elem_id="ak-haze")
    with gr.Accordion("Raw result (JSON, same as the API)", open=False):
        tab.raw = gr.JSON(label="Verdict")


def _gallery() -> gr.Gallery | None:
    """The example photos under the upload box, where a first-time visitor looks."""
    examples = [str(p) for p in example_paths()]
    if not examples:
        return None
    return gr.Gallery([(p, title(p)) for p in examples], label="Or try one of these photos",
                      columns=4, height="auto", allow_preview=False, interactive=False,
                      buttons=[], elem_id="ak-examples")


def _read_tab(predictor: Predictor, place: gr.State, model_events: dict) -> None:
    """Upload or take a photo, say where -> the verdict, how sure, the plan, the 48 hours."""
    tab = handlers.ReadTab(predictor)
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photo = _photo_column(tab)
            gallery = _gallery()
            profile = _profile_box()
        with gr.Column(min_width=300):
            share, form = _verdict_column(tab, place)
    form |= photo | {"profile": profile}
    _details(tab)
    _read_events(tab, form, share, gallery, model_events)
    _public_endpoints(predictor, model_events)


def _read_events(tab: handlers.ReadTab, form: dict, share, gallery, model_events: dict) -> None:
    """A new photo first clears the old result, so a stale verdict never sits beside it. Every
    event runs with preprocess=False: the file reaches our own decoder and its messages."""
    outputs = tab.outputs()
    inputs = [tab.image, form["place"], form["profile"]] + ([share] if share is not None else [])
    read = dict(fn=tab.read, inputs=inputs, outputs=outputs, preprocess=False, **PRIVATE, **model_events)
    reread = read | dict(fn=tab.reread)
    pending = dict(fn=lambda place: tab.cleared(card.pending_card(), place=place), inputs=form["place"],
                   outputs=outputs, queue=False, **PRIVATE)
    gr.on([tab.image.upload, form["read"].click], **pending).then(**read)
    form["profile"].change(**reread)
    tab.image.clear(lambda place: tab.cleared(card.empty_card(), place=place), inputs=form["place"],
                    outputs=outputs, queue=False, **PRIVATE)
    tab.card.change(None, js="() => window.akShowVerdict()", queue=False, **PRIVATE)
    info, refused = gr.Textbox(visible=False), gr.Button("refused", elem_id="ak-photo-refused",
                                                          elem_classes="ak-offscreen")
    refused.click(tab.refused, inputs=info, outputs=outputs, js="() => window.akRefusedFile()", queue=False,
                  **PRIVATE)
    _place_events(tab, form, reread)
    if gallery is not None:
        examples = [str(p) for p in example_paths()]

        def pick(place: dict | None, evt: gr.SelectData) -> dict:  # only the first event of a chain gets evt
            return tab.cleared(card.pending_card(), place=place) | {tab.image: examples[evt.index]}

        gallery.select(pick, inputs=form["place"], outputs=outputs, queue=False, **PRIVATE).then(**read)


def _place_events(tab: handlers.ReadTab, form: dict, reread: dict) -> None:
    """The place form sets the session's place, then reads the shown photo again with it."""
    lat, lon = gr.Number(visible=False), gr.Number(visible=False)
    placed = [form["place"], form["line"]]
    form["locate"].click(outlook.at_coordinates, inputs=[lat, lon, form["place"]], outputs=placed,
                         js="(...args) => window.akLocate(...args)", **PRIVATE).then(**reread)
    gr.on([form["find"].click, form["town"].submit], outlook.at_name, inputs=[form["town"], form["place"]],
          outputs=placed, **PRIVATE).then(**reread)
    tab.activity.input(outlook.calendar, inputs=[tab.report, tab.activity, form["place"]], outputs=tab.ics,
                       **PRIVATE)


def _public_endpoints(predictor: Predictor, model_events: dict) -> None:
    """`predict` and `air`, on hidden buttons: events without anything on the page."""
    gr.Button(visible=False).click(
        lambda image, latitude=None, longitude=None, time=None, prior=None, profile=None:
        handlers.api_predict(predictor, image, latitude, longitude, time, prior, profile),
        inputs=[api.photo_input(), *api.where_inputs(), *api.verdict_inputs()], outputs=api.verdict_output(),
        preprocess=False, api_name="predict", api_description=text.PREDICT_DOC, **model_events)
    gr.Button(visible=False).click(outlook.air, inputs=api.air_inputs(), outputs=api.air_output(), api_name="air",
                                   api_description=text.AIR_DOC)


def _batch_tab(predictor: Predictor, place: gr.State, model_events: dict) -> None:
    """Many files -> a table and a CSV; unreadable files get a row with the reason."""
    gr.Markdown("Read a folder of photos at once and download the results as CSV.")
    files = gr.File(file_count="multiple", type="filepath", label="Photos", elem_id="ak-batch-files")
    go = gr.Button("Read all", variant="primary")
    table = gr.HTML("", elem_id="ak-batch-table")
    csv_out = gr.File(label="Download CSV", interactive=False, visible=False)

    # Gradio finds its progress tracker through this default value.
    def read_batch(paths: list[str] | None, where: dict | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        return handlers.batch(predictor, paths, where, progress)

    go.click(read_batch, inputs=[files, place], outputs=[table, csv_out], **PRIVATE, **model_events)
    info, refused = gr.Textbox(visible=False), gr.Button("refused", elem_id="ak-batch-refused",
                                                          elem_classes="ak-offscreen")
    refused.click(lambda i: (card.status(handlers.refused_file(i, predictor.limits)), gr.File(visible=False)),
                  inputs=info, outputs=[table, csv_out], js="() => window.akRefusedFile()", queue=False,
                  **PRIVATE)


def _about_tab(predictor: Predictor) -> None:
    about = predictor.about()
    page = about_page(about, keep_minutes=sweeper.keep_minutes())
    with gr.Column(elem_classes="ak-about"):
        gr.Markdown(page.lead)
        for heading, body in page.sections:
            with gr.Accordion(heading, open=False):
                gr.Markdown(body)
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
        gr.Markdown(text.INTRO, elem_classes="ak-title")
        place = gr.State(None)  # the visitor's place, {"lat", "lon", "name"}: both tabs read with it
        with gr.Tab("Read the air"):
            _read_tab(predictor, place, model_events)
        with gr.Tab("Many photos"):
            _batch_tab(predictor, place, model_events)
        with gr.Tab("About"):
            _about_tab(predictor)
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    threading.Thread(target=default_client().warm, daemon=True, name="airken-air-warm").start()
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
        js=text.page_js(env.max_bytes), theme=theme(), footer_links=["api"], run_history=False,
        # Gradio keeps a copy of the page's state per session (every API call is one) and
        # only drops the oldest past this count. The page keeps nothing between events, so
        # a small cap bounds memory (default 10000: ~80 KB each, close to 1 GB) at no cost.
        state_session_capacity=env.sessions,
        app_kwargs=server.app_kwargs(demo),
    )
    options.update(kwargs)
    return demo.launch(**options)
