"""The Airken web page (Gradio Blocks): one photo in, a coloured verdict and a plan out.

The page calls the same Predictor.predict as the CLI. Its `/predict` API endpoint returns
Prediction.to_dict(), the same JSON as `python -m airken predict --json`.

    demo = build_demo()
    launch(demo, host="127.0.0.1", port=7860)
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import logging
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from airken.air import predict_with_air
from airken.air_panel import air_panel
from airken.classes import CLASSES, LABELS
from airken.intake import ImageRejected, IntakeLimits, load_image
from airken.measurements import places_markdown
from airken.scene import haze_map

if TYPE_CHECKING:
    from airken.predictor import Prediction, Predictor

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
GENERIC_ERROR = "Something went wrong while reading this photo. Please try another one."
NO_PHOTO = "Add a photo of the sky first."

EXAMPLE_LABELS = {
    "clear-kite": "Blue sky with a kite",
    "clear-mountains-picos-de-europa": "Mountains, blue sky",
    "clear-autumn-aitzgorri": "Mountain ridge, pale sky",
    "clear-bridge-cables": "Bridge cables, blue sky",
    "hazy-beijing-summer-palace": "Hazy day in Beijing",
    "overcast-storm": "Storm clouds",
    "fog-pier": "Pier in thick fog",
    "dusk-lake": "Lake at dusk",
    "sunset-boats": "Sunset over boats",
    "sun-glare-hilltop": "Sun straight into the lens",
    "night-rocket-launch": "Night photo (refused)",
    "no-sky-coffee": "No sky: a coffee cup (refused)",
}
EXAMPLE_ORDER = list(EXAMPLE_LABELS)

HAZE_HOW_TO = (
    "**How to read the haze map:** haze adds a milky veil that lifts even the darkest "
    "colours of distant things. **Blue** means a clear view, **green to yellow** means more "
    "veil. White cloud, fog and bright sky near the sun also show yellow, so look at "
    "distant buildings, hills and the horizon."
)

VERDICT_CSS = """
.ak-card { border-radius: 14px; padding: 18px 20px; background: var(--ak, #546e7a); }
.ak-card, .ak-card * { color: #fff !important; }
.ak-card.ak-empty { background: var(--block-background-fill); border: 2px dashed var(--border-color-primary); }
.ak-card.ak-empty, .ak-card.ak-empty * { color: var(--body-text-color) !important; }
.ak-headline { font-size: 2.1rem; font-weight: 800; line-height: 1.15; margin: 0; }
.ak-band { font-size: 1.15rem; font-weight: 600; margin-top: 4px; opacity: .95; }
.ak-advice { font-size: 1.05rem; margin: 12px 0 0 0; line-height: 1.4; }
.ak-warn { margin: 10px 0 0 0; padding: 8px 12px; border-radius: 8px;
  background: rgba(0,0,0,.18); font-size: .95rem; }
.ak-empty .ak-warn { background: var(--background-fill-secondary); }
.ak-warn ul { margin: 4px 0 0 18px; padding: 0; }
.ak-meta { font-size: .8rem; opacity: .8; margin-top: 10px; }
"""

PLAN_CSS = """
.ak-plan { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.ak-item { border-radius: 10px; padding: 10px 12px; border: 1px solid var(--border-color-primary);
  border-left: 6px solid var(--ak, #546e7a); background: var(--block-background-fill); }
.ak-act { font-weight: 700; text-transform: capitalize; }
.ak-do { margin-top: 4px; line-height: 1.35; }
"""

PAGE_CSS = """
.ak-title h1 { margin-bottom: 0; }
.ak-read { min-height: 52px; font-size: 1.1rem; }
"""

# On a phone the verdict sits below the photo: bring it into view when it arrives.
SCROLL_TO_VERDICT = """() => { setTimeout(() => {
  const card = document.querySelector('#ak-verdict [data-label]');
  if (card && window.innerWidth < 800) card.scrollIntoView({behavior: 'smooth', block: 'start'});
}, 80); }"""

INTRO = (
    "# Airken\n"
    "Upload a photo of the sky (or take one) and Airken tells you how healthy the air is: "
    "fine for everyone, a day for sensitive people to take care, or a day to cut outdoor "
    "exertion. It is an estimate from a photo, not a measurement."
)


# ---------------------------------------------------------------- prediction plumbing


def _path_of(image: Any) -> str:
    """The uploaded file's path, from a FileData dict (events run with preprocess=False so
    bad files reach our own decoder and its messages) or a plain path."""
    if isinstance(image, dict):
        image = image.get("path")
    if not image:
        raise gr.Error(NO_PHOTO, print_exception=False)
    return str(image)


def _user_error(err: ImageRejected) -> gr.Error:
    message = str(err.args[0]) if err.args else "This file cannot be read as a photo."
    # gr.Error renders HTML; the message may quote a file name.
    return gr.Error(html.escape(message, quote=False), title="Can't use this file", print_exception=False)


def _run(predictor: Predictor, image: Any, **where: Any) -> Prediction:
    path = _path_of(image)
    try:
        return predict_with_air(predictor, path, **where)  # where: lat, lon, time (airken.air)
    except ImageRejected as err:
        log.info("rejected upload: %s", err)
        raise _user_error(err) from None
    except gr.Error:
        raise
    except Exception:
        log.exception("prediction failed for %s", path)
        raise gr.Error(GENERIC_ERROR, print_exception=False) from None


def _why_images(predictor: Predictor, image: Any) -> tuple[Any, Any]:
    """The photo (upright, as read) and its haze map: extras that must never fail a reading.
    Also drawn for refused photos, where it shows what the checks looked at."""
    try:
        img = load_image(_path_of(image), predictor.limits)
        return img, haze_map(img)
    except Exception:
        log.exception("haze map failed")
        return None, None


# ---------------------------------------------------------------- rendering


def _units(text: str) -> str:
    return text.replace("ug/m3", "\N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}")


def _percent(share: float) -> str:
    """A probability for people: never "100%" or "0%", which a photo cannot back."""
    if share >= 0.995:
        return "over 99%"
    if share < 0.005:
        return "under 1%"
    return f"{share:.0%}"


def _warnings_html(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f'<div class="ak-warn"><strong>Take this with care:</strong><ul>{items}</ul></div>'


def empty_verdict() -> str:
    return (
        '<div class="ak-card ak-empty"><p class="ak-headline" style="font-size:1.5rem">'
        "Your verdict appears here</p><p class=\"ak-advice\">Upload a daytime photo with plenty "
        "of open sky, or pick one of the examples below.</p></div>"
    )


def confidence_words(pred: Prediction) -> str:
    """The calibrated confidence in plain words."""
    words = "unsure" if pred.uncertain else "fairly sure" if pred.confidence < 0.9 else "sure"
    return f"model {words} ({_percent(pred.confidence)})"


def verdict_html(pred: Prediction) -> str:
    """The big coloured card: headline, PM2.5 band, advice, warnings."""
    total = pred.timings_ms.get("total") if pred.timings_ms else None
    meta = f'<div class="ak-meta">Read in {total:.0f} ms</div>' if total is not None else ""
    advice = f'<p class="ak-advice">{html.escape(pred.advice)}</p>'
    warnings = _warnings_html(pred.warnings)
    if pred.label is None:
        return (
            f'<div class="ak-card ak-empty" data-label="none"><p class="ak-headline">'
            f"{html.escape(pred.headline)}</p>{advice}{warnings}{meta}</div>"
        )
    sure = f" &middot; {confidence_words(pred)}" if pred.confidence is not None else ""
    band = f'<div class="ak-band">{html.escape(_units(pred.pm25_range or ""))}{sure}</div>'
    return (
        f'<div class="ak-card" data-label="{html.escape(pred.label)}" '
        f'style="--ak:{html.escape(pred.colour or "#546e7a")}">'
        f'<p class="ak-headline">{html.escape(pred.headline)}</p>{band}{advice}{warnings}{meta}</div>'
    )


def plan_html(pred: Prediction) -> str:
    if not pred.plan:
        return ""
    cells = []
    for activity, todo in pred.plan.items():
        cells.append(
            f'<div class="ak-item"><div class="ak-act">{html.escape(activity)}</div>'
            f'<div class="ak-do">{html.escape(todo)}</div></div>'
        )
    return (
        f'<div class="ak-plan" style="--ak:{html.escape(pred.colour or "#546e7a")}">'
        f'{"".join(cells)}</div>'
    )


def _probabilities(pred: Prediction) -> dict[str, float] | None:
    if pred.probabilities is None:
        return None
    return {name: float(pred.probabilities.get(name, 0.0)) for name in LABELS}


# ---------------------------------------------------------------- the About tab


KEY_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
SYSTEM_TITLES = {
    "model": "**this model**",
    "linear_probe": "linear probe (frozen backbone + logistic regression)",
    "colour": "colour/haze features + logistic regression",
    "majority": "majority class (always the commonest)",
}
SECTION_TITLES = (("daylight", "daylight photos"), ("all", "all photos"))
# Keys of train/train.py's metrics.json that are drawn as tables below, or that are no numbers
# a visitor needs (the full file is one click away).
DRAWN_KEYS = {"evaluation", "kfold", "config", "data", "training", "export", "model_sha256", "places"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    """0.812 -> 0.81; {"mean": .8, "std": .1} -> 0.80 ± 0.10; anything else -> n/a."""
    if isinstance(value, dict) and _is_number(value.get("mean")):
        std = value.get("std")
        return f"{value['mean']:.2f} \N{PLUS-MINUS SIGN} {std:.2f}" if _is_number(std) else f"{value['mean']:.2f}"
    return f"{value:.2f}" if _is_number(value) else "n/a"


def _systems_table(systems: dict) -> str:
    recall = any(isinstance(m, dict) and isinstance(m.get("per_class_recall"), dict) for m in systems.values())
    head = ["system", "accuracy", "balanced accuracy", "macro-F1"]
    head += [f"recall {c}" for c in LABELS] if recall else []
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, m in systems.items():
        if not isinstance(m, dict):
            continue
        cells = [SYSTEM_TITLES.get(name, name), *(_cell(m.get(k)) for k in KEY_METRICS)]
        if recall:
            per_class = m.get("per_class_recall") or {}
            cells += [_cell(per_class.get(c)) for c in LABELS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _metric_rows(node: Any, path: tuple[str, ...] = (), depth: int = 0) -> list[tuple[str, dict]]:
    """Every nested dict that carries one of KEY_METRICS, with the keys that lead to it."""
    if not isinstance(node, dict) or depth > 6:
        return []
    rows: list[tuple[str, dict]] = []
    if any(_is_number(node.get(k)) or isinstance(node.get(k), dict) and _is_number(node[k].get("mean"))
           for k in KEY_METRICS):
        rows.append((" / ".join(path) or "overall", node))
    for key, child in node.items():
        rows.extend(_metric_rows(child, (*path, str(key)), depth + 1))
    return rows


def metrics_markdown(metrics: dict, max_rows: int = 30) -> str:
    """The headline numbers of the model beside its baselines. Knows the layout written by
    train/train.py (evaluation sections, k-fold); any other nesting gets a generic table."""
    parts = []
    evaluation = metrics.get("evaluation") if isinstance(metrics.get("evaluation"), dict) else {}
    # Daylight first: the app refuses night photos, so that is the number a visitor meets.
    for key, title in SECTION_TITLES:
        sec = evaluation.get(key)
        if isinstance(sec, dict) and isinstance(sec.get("systems"), dict) and sec["systems"]:
            n = f" ({sec['n']} photos)" if _is_number(sec.get("n")) else ""
            parts += [f"**Held-out days, {title}**{n}", _systems_table(sec["systems"])]
            if "n/a" in parts[-1]:
                parts.append("n/a: no photo of that class on the held-out days, so it was not measured.")
            break
    kfold = metrics.get("kfold")
    if isinstance(kfold, dict) and isinstance(kfold.get("systems"), dict):
        how = f"{kfold.get('k', '?')} folds over {kfold.get('groups', '?')} place-and-day groups"
        parts += [f"**Grouped k-fold estimate** ({how}; mean \N{PLUS-MINUS SIGN} std)",
                  _systems_table(kfold["systems"])]
    rows = _metric_rows({k: v for k, v in metrics.items() if k not in DRAWN_KEYS})[:max_rows]
    if rows:
        lines = ["| measured on | " + " | ".join(k.replace("_", " ") for k in KEY_METRICS) + " |",
                 "|---" * (len(KEY_METRICS) + 1) + "|"]
        lines += [f"| {where} | " + " | ".join(_cell(row.get(k)) for k in KEY_METRICS) + " |"
                  for where, row in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _model_markdown(model: dict) -> str:
    source = model.get("source")
    where = {
        "hub": f"Hugging Face Hub: `{model.get('repo_id')}` at revision `{model.get('revision')}`",
        "local": "a local file (AIRKEN_MODEL_PATH)",
        "bundled": "the copy bundled with the app",
    }.get(source, str(source))
    lines = [f"- **Weights from:** {where}"]
    if model.get("filename"):
        lines.append(f"- **File:** `{model['filename']}`")
    if model.get("sha256"):
        lines.append(f"- **sha256:** `{model['sha256']}`")
    return "\n".join(lines)


DATA_CREDITS = {
    "milan": (
        "- **Milan, Italy:** one webcam looking south over the city, 41 days in 2025, each photo paired\n"
        "  with the hourly PM2.5 of the ARPA Lombardia station \"Milano Viale Marche\". Labels from the\n"
        "  AQpictures toolkit (D. Oxoli, S. Li, S. Xu, M.A. Brovelli, F. Pirotti, A. Moazzam, 2025;\n"
        "  CC BY 4.0; PM2.5 by ARPA Lombardia). Photos from the public MeteoGiuliacci webcam, used for\n"
        "  non-commercial research only."
    ),
    "india-nepal": (
        "- **India and Nepal:** phone photos from 7 places with hourly PM2.5: A. Rouniyar, S. Utomo,\n"
        "  J. A, P.-A. Hsiung (2023), \"Air Pollution Image Dataset from India and Nepal\", Kaggle,\n"
        "  doi:10.34740/KAGGLE/DS/3152196, CC BY-NC-SA 3.0 IGO. A model trained on it is for\n"
        "  non-commercial use."
    ),
}

LIMITATIONS = """
### Limitations, in plain words
- **It is not a measuring instrument.** It guesses the PM2.5 band from how the sky looks.
  For decisions that matter, check an official air-quality station near you.
- **It has seen few places.** It learned from one webcam in Milan and from phone videos in
  seven places in India and Nepal. Tested on a place left out of training, it was right only a
  little more often than a blind guess (the per-place table on this page), and much worse in some places.
- **Clear skies elsewhere are often read as moderate or worse.** In its data, clean air was
  mostly the Milan webcam's view and polluted air mostly Indian phone videos, so a clear
  phone photo from somewhere else can look "polluted" to it. Treat the verdict as a hint.
- **Unhealthy air is rare in its Milan data** (a single morning), so the held-out Milan days
  cannot show how well the "unhealthy" verdict works; most of it is in the Indian places of the table.
- **Haze is not only pollution.** Fog, mist, clouds and low sun look hazy too.
- **Night photos and photos with little sky are refused**, because the sky is what it reads.
"""


def credits_markdown(metrics: dict) -> str:
    """Credit the data sets this model was trained on (from its metrics.json config)."""
    folders = [Path(str(d)).name for d in (metrics.get("config") or {}).get("data") or []]
    known = [DATA_CREDITS[f] for f in folders if f in DATA_CREDITS] or list(DATA_CREDITS.values())
    return ("### Data it learned from\n" + "\n".join(known) + "\n\nExample photos on this page: see "
            "`assets/examples/ATTRIBUTION.md` for authors and licences.\n" + LIMITATIONS)


def about_markdown(about: dict, keep_minutes: int | None = None) -> str:
    model = about.get("model") or {}
    metrics = about.get("metrics") or {}
    parts = [
        "## About this model",
        "A small image classifier (EfficientNet-Lite0, fine-tuned) run with LiteRT, averaged with a "
        "colour-and-haze model of the same photo. It sorts a sky photo into three PM2.5 bands: "
        + ", ".join(f"**{c.headline.lower()}** ({html.escape(_units(c.band))})" for c in CLASSES)
        + ".",
        _model_markdown(model),
    ]
    places = places_markdown(metrics.get("places"))
    if places:
        parts += ["### Measured on places it never saw in training", places]
    parts.append("### Measured on days it never saw in training")
    table = metrics_markdown(metrics)
    if table:
        parts.append(table)
    elif metrics:
        parts.append("The full measurements are below.")
    else:
        parts.append("No measurements ship with this model file.")
    parts.append(credits_markdown(metrics))
    if keep_minutes:
        parts.append(
            f"### Your photos\nPhotos you upload are used only to answer you: the server deletes "
            f"them within about {keep_minutes} minutes and never keeps them for training."
        )
    return "\n\n".join(parts)


# ---------------------------------------------------------------- batch


BATCH_HEADERS = ["file", "verdict", *LABELS, "notes"]


def _batch_row(predictor: Predictor, path: str) -> list:
    name = Path(path).name
    try:
        pred = predictor.predict(path)
    except ImageRejected as err:
        return [name, "error", None, None, None, str(err.args[0]) if err.args else "unreadable"]
    except Exception:
        log.exception("batch prediction failed for %s", name)
        return [name, "error", None, None, None, GENERIC_ERROR]
    probs = pred.probabilities or {}
    verdict = pred.label or "refused"
    notes = pred.warnings if pred.label else [pred.advice, *pred.warnings]
    shares = [None if probs.get(c) is None else round(float(probs[c]), 3) for c in LABELS]
    return [name, verdict, *shares, " ".join(notes)]


def _write_csv(rows: list[list], cache_dir: str) -> str:
    """Written inside Gradio's cache so that delete_cache ages it out like an upload."""
    folder = Path(cache_dir) / f"airken-batch-{uuid.uuid4().hex}"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "airken-results.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(BATCH_HEADERS)
        writer.writerows(rows)
    return str(out)


# ---------------------------------------------------------------- the page


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        log.warning("ignoring %s=%r: not a whole number", name, os.environ.get(name))
        return default


def _temp_policy() -> tuple[int, int]:
    """(sweep every, delete older than) in seconds for uploads and generated files."""
    max_age = _env_int("AIRKEN_TEMP_MAX_AGE_S", 900)
    return max(5, min(300, max_age // 3)), max_age


def _snapshot(items: Iterable[str]) -> list[str]:
    """A list copy of a set that request threads may be adding to while we copy it."""
    for _ in range(20):
        try:
            return list(items)
        except RuntimeError:  # "Set changed size during iteration": copy again
            time.sleep(0.001)
    return []


def sweep_temp_files(demo: gr.Blocks, max_age_s: float) -> int:
    """Delete the files this app put in Gradio's temp folder (uploads, result images, CSVs)
    that are older than max_age_s, and their emptied per-file folders. Returns the count.

    Gradio's own Blocks(delete_cache=...) sweeper walks these same sets while requests add
    to them; under steady traffic it dies at the first "Set changed size during iteration"
    and temp files then pile up for good. This one walks a snapshot and never stops.
    """
    keep: set[str] = set()
    for block in _snapshot(demo.blocks.values()):
        keep.update(_snapshot(getattr(block, "keep_in_cache", ())))
    upload_root = Path(demo.GRADIO_CACHE).resolve()
    now, removed = time.time(), 0
    for files in _snapshot(demo.temp_file_sets):
        for path in _snapshot(files):
            if path in keep:
                continue
            try:
                if now - os.lstat(path).st_ctime <= max_age_s:
                    continue
                folder = Path(path).parent
                folder_idle = now - folder.stat().st_mtime > max_age_s  # before our delete touches it
                os.remove(path)
                removed += 1
                if folder_idle and folder.resolve().parent == upload_root:
                    with contextlib.suppress(OSError):  # not empty: another file lives there
                        folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("could not delete temp file %s: %s", path, err)
                continue
            files.discard(path)
    return removed


def _temp_sweeper(demo: gr.Blocks, every_s: int, max_age_s: int):
    """Server lifespan: sweep old temp files every every_s; at shutdown, delete them all."""

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    removed = await asyncio.to_thread(sweep_temp_files, demo, max_age_s)
                    log.debug("temp sweep removed %d file(s)", removed)
                except Exception:
                    log.exception("temp file sweep failed; next try in %d s", every_s)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.to_thread(sweep_temp_files, demo, -1)

    return lifespan


def _examples() -> list[str]:
    if not EXAMPLES_DIR.is_dir():
        return []
    found = {p.stem: p for p in EXAMPLES_DIR.glob("*.jpg")}
    ordered = [found.pop(s) for s in EXAMPLE_ORDER if s in found]
    return [str(p) for p in ordered + sorted(found.values())]


def _example_label(path: str) -> str:
    stem = Path(path).stem
    return EXAMPLE_LABELS.get(stem, stem.replace("-", " ").capitalize())


def _examples_cache_env(predictor: Predictor) -> None:
    """Key the lazily cached example results by model file, so new weights never show
    results cached from old ones. An explicit GRADIO_EXAMPLES_CACHE is left alone."""
    if "GRADIO_EXAMPLES_CACHE" in os.environ:
        return
    sha = getattr(getattr(predictor, "source", None), "sha256", "") or "unknown"
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(Path(".gradio") / "cached_examples" / f"airken-{sha[:12]}")


def _read_tab(predictor: Predictor, model_events: dict) -> None:
    """Upload or take a photo -> verdict, probabilities, plan, haze map; and /predict."""

    def predict(image: dict | str, latitude: float | None = None, longitude: float | None = None,
                time: str | None = None) -> dict:
        """Read the air from one sky photo. Returns label (healthy / moderate / danger, or
        null when the photo cannot be read), probabilities, PM2.5 band, advice, plan,
        warnings, model, timings and air: the JSON of `python -m airken predict --json`.
        latitude, longitude (rounded to 0.1°) and time (ISO 8601) say where and when the photo
        was taken when its EXIF does not; "air" is the modelled PM2.5 there, or null."""
        return _run(predictor, image, lat=latitude, lon=longitude, time=time).to_dict()

    def read_photo(image: dict | str, place: dict | None = None, share: bool = False,
                   request: gr.Request = None) -> tuple:
        pred = _run(predictor, image, **panel.where(place))
        panel.donate(pred, place, share, request)
        photo, haze = _why_images(predictor, image)
        return verdict_html(pred), _probabilities(pred), plan_html(pred), photo, haze, pred.to_dict()

    def clear() -> tuple:
        return empty_verdict(), None, "", None, None, None

    with gr.Row(equal_height=False):
        with gr.Column(min_width=300) as left:
            image = gr.Image(
                type="filepath", image_mode=None, sources=["upload", "webcam", "clipboard"],
                # Phones: the rear camera, unmirrored, is the one that sees the sky.
                webcam_options=gr.WebcamOptions(mirror=False, constraints={"video": {"facingMode": "environment"}}),
                label="Photo of the sky", elem_id="ak-photo", buttons=["fullscreen"], height=340,
                placeholder="Drop a sky photo here, or tap to choose or take one",
            )
            read = gr.Button("Read the air", variant="primary", elem_classes="ak-read")
        with gr.Column(min_width=300):
            verdict = gr.HTML(empty_verdict(), css_template=VERDICT_CSS, js_on_load=None, elem_id="ak-verdict")
            probs = gr.Label(num_top_classes=3, show_heading=False, label="How sure (probability of each class)")
            panel = air_panel()  # the modelled PM2.5 beside the verdict, and the place
    gr.Markdown("### Plan your day")
    panel.render_plan()  # the next 48 hours here
    plan = gr.HTML("", css_template=PLAN_CSS, js_on_load=None, elem_id="ak-plan")
    with gr.Accordion("Why: the haze in this photo", open=True):
        gr.Markdown(HAZE_HOW_TO)
        with gr.Row():
            photo = gr.Image(label="Your photo", interactive=False, min_width=240, buttons=["fullscreen"],
                             format="jpeg")
            haze = gr.Image(label="Haze map", interactive=False, min_width=240, buttons=["fullscreen"],
                            format="jpeg")
    with gr.Accordion("Raw result (JSON, same as the API)", open=False):
        raw = gr.JSON(label="Prediction")

    outputs = [verdict, probs, plan, photo, haze, raw]
    # preprocess=False everywhere: the file goes to our decoder untouched, so a bad file gets
    # our message instead of a Pillow error from Gradio's own image loading.
    gr.on([image.upload, read.click], read_photo, inputs=[image, *panel.inputs], outputs=outputs, preprocess=False,
          api_visibility="private", **model_events)
    panel.follow(raw)
    image.clear(clear, outputs=outputs, queue=False, api_visibility="private")
    verdict.change(None, js=SCROLL_TO_VERDICT, queue=False, api_visibility="private")
    examples = _examples()
    if examples:
        with left:  # under the upload box, where a first-time visitor looks
            gr.Examples(
                examples=examples, inputs=image, outputs=outputs, fn=read_photo,
                cache_examples=True, cache_mode="lazy", preprocess=False,
                example_labels=[_example_label(p) for p in examples],
                examples_per_page=len(examples), label="Or try one of these photos",
            )
    # The public endpoint. A hidden button gives it an event without adding to the page.
    where = [gr.Number(visible=False), gr.Number(visible=False), gr.Textbox(visible=False)]
    gr.Button(visible=False).click(predict, inputs=[image, *where], outputs=raw, preprocess=False,
                                   api_name="predict", **model_events)


def _batch_tab(predictor: Predictor, model_events: dict) -> None:
    """Many files -> a table and a CSV; unreadable files get a row with the reason."""
    gr.Markdown("Read a folder of photos at once and download the results as CSV.")
    files = gr.File(file_count="multiple", type="filepath", label="Photos", elem_id="ak-batch-files")
    go = gr.Button("Read all", variant="primary")
    table = gr.Dataframe(headers=BATCH_HEADERS, label="Results", wrap=True, interactive=False,
                         elem_id="ak-batch-table", column_widths=["24%", "11%", "9%", "9%", "9%", "38%"])
    csv_out = gr.File(label="Download CSV", interactive=False)

    # Gradio finds its progress tracker through this default value.
    def read_batch(paths: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        if not paths:
            raise gr.Error("Add one or more photos first.", print_exception=False)
        limit = _env_int("AIRKEN_BATCH_MAX_FILES", 100)
        if len(paths) > limit:
            raise gr.Error(f"At most {limit} photos at a time, please.", print_exception=False)
        rows = [_batch_row(predictor, p) for p in progress.tqdm(paths, desc="Reading photos")]
        return rows, _write_csv(rows, csv_out.GRADIO_CACHE)

    go.click(read_batch, inputs=files, outputs=[table, csv_out], api_visibility="private", **model_events)


def _about_tab(predictor: Predictor, keep_minutes: int) -> None:
    about = predictor.about()
    gr.Markdown(about_markdown(about, keep_minutes=keep_minutes))
    if about.get("metrics"):
        with gr.Accordion("All measurements (metrics.json)", open=False):
            gr.JSON(about["metrics"])


def build_demo(predictor: Predictor | None = None) -> gr.Blocks:
    """The whole page. Loads the model now (LiteRT loads in milliseconds) so that the
    first visitor does not wait for it."""
    if predictor is None:
        from airken.predictor import get_predictor

        predictor = get_predictor()
    # One limit shared by every event that runs the model: as many calls as interpreters.
    concurrency = _env_int("AIRKEN_CONCURRENCY", 2)
    model_events = dict(concurrency_limit=concurrency, concurrency_id="model")
    cleanup_every, max_age = _temp_policy()  # launch() runs the sweeper
    _examples_cache_env(predictor)

    with gr.Blocks(title="Airken: read the air from a photo of the sky") as demo:
        gr.Markdown(INTRO, elem_classes="ak-title")
        with gr.Tab("Read the air"):
            _read_tab(predictor, model_events)
        with gr.Tab("Many photos"):
            _batch_tab(predictor, model_events)
        with gr.Tab("About"):
            _about_tab(predictor, keep_minutes=-(-(max_age + cleanup_every) // 60))
    demo.queue(default_concurrency_limit=concurrency, max_size=64)
    return demo


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, **kwargs: Any):
    """Serve the page; host/port fall back to GRADIO_SERVER_NAME / GRADIO_SERVER_PORT.

    Serve through this, not demo.launch(): it adds the styling, the temp file sweeper, and
    the upload cap (Gradio refuses files above the intake's byte limit before they reach
    the app). Run history is off: visitors' photos are not kept anywhere.
    """
    every_s, max_age_s = _temp_policy()
    options: dict[str, Any] = dict(
        server_name=host, server_port=port, max_file_size=IntakeLimits.from_env().max_bytes, css=PAGE_CSS,
        theme=gr.themes.Soft(primary_hue="sky"), footer_links=["api"], run_history=False,
        # Gradio keeps a copy of the page's state per session (every API call is one) and
        # only drops the oldest past this count. The page keeps nothing between events, so
        # a small cap bounds memory (default 10000: ~80 KB each, close to 1 GB) at no cost.
        state_session_capacity=_env_int("AIRKEN_SESSIONS", 200),
        app_kwargs={"lifespan": _temp_sweeper(demo, every_s, max_age_s)},
    )
    options.update(kwargs)
    return demo.launch(**options)
