"""The About tab, for a lay visitor: the plain limits and one honest number first, then how
it works, what each witness adds, the measurements, the model file, the data credits and the
example photos' licences, each a section the page folds away. Markdown only, every number a
whole percentage; airken.web.ui lays it out. The Hub model card (train.model_card) carries the
same numbers for the maintainer.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from airken.card.datasets import datasets_used
from airken.card.measurements import (
    SYSTEM_NAMES,
    baseline_legend,
    places_markdown,
    verdicts_markdown,
    whole_percent,
)
from airken.core.classes import CLASSES, LABELS, WORDS
from airken.core.prior import WORLD_PRIOR
from airken.examples import EXAMPLES_DIR

EXAMPLES_CREDITS = EXAMPLES_DIR / "ATTRIBUTION.md"
KEY_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
SECTION_TITLES = (("daylight", "daylight photos"), ("all", "all photos"))
# Keys of train/train.py's metrics.json drawn as tables below, or no numbers a visitor needs
# (the full file is one click away).
DRAWN_KEYS = {"evaluation", "kfold", "config", "data", "training", "export", "model_sha256", "places",
              "fusion", "calibration", "model_variant", "examples", "probe", "class_prior", "air_model_study",
              "verdict_rule"}
STUDY_SCORES = ("air_model_alone", "photo_and_air_model", "photo_alone", "photo_alone_as_shown")
pct = whole_percent  # one number format on the page: 0.478 -> "48%"

LIMITS = """\
- **It is an estimate, not a measurement.** The level comes from a model of the air (a forecast
  for the place and hour, not a station) and from a photo. For decisions that matter, check an
  official air-quality station near you.
- **A photo alone says little.** Airken learned from one webcam in Milan and phone videos from
  seven places in India and Nepal. On a place it has never seen, a photo without a place is
  usually "Can't tell reliably", and it says so: give the place, or calibrate it to your camera.
- **Haze is not only pollution.** Fog, mist, cloud and a low sun look hazy too.
- **Night photos and photos with little sky are refused**, because the sky is what it reads."""


@dataclass(frozen=True)
class AboutPage:
    lead: str  # shown open
    sections: list[tuple[str, str]]  # (title, markdown), each folded away on the page


def markdown_safe(text: str) -> str:
    """"PM2.5 < 30 ... > 54" as entities: Gradio's Markdown takes a "<" ... ">" pair on one line
    for an HTML tag and leaves the markdown between them unrendered (literal "**moderate**")."""
    return re.sub(r"(?<=[ \t])>(?=[ \t])", "&gt;", re.sub(r"(?<=[ \t])<(?=[ \t])", "&lt;", text))


def about_page(about: dict, keep_minutes: int | None = None) -> AboutPage:
    """about: Predictor.about() (the model's identity and its metrics.json)."""
    model, metrics = about.get("model") or {}, about.get("metrics") or {}
    lead = ["## What Airken can and cannot tell you", honest_number(metrics), LIMITS]
    if keep_minutes:
        lead.append(f"**Your photos** are used only to answer you: the server deletes them within about "
                    f"{keep_minutes} minutes and never keeps them for training.")
    sections = [("How it works", how_it_works())]
    study = air_model_study(metrics)
    if study:
        sections.append(("What the air model and the photo each add", witnesses_markdown(study)))
    sections += _measured(metrics)
    sections.append(("The model file", model_markdown(model)))
    sections.append(("Data it learned from", credits_markdown(metrics)))
    if EXAMPLES_CREDITS.is_file():
        sections.append(("Example photos: authors and licences", examples_credits()))
    return AboutPage(markdown_safe("\n\n".join(lead)), [(t, markdown_safe(body)) for t, body in sections])


def _measured(metrics: dict) -> list[tuple[str, str]]:
    """The measurement sections: unseen places, how sure, the examples, unseen days."""
    out = []
    places = places_markdown(metrics.get("places"), pct)
    if places:
        out.append(("Measured on places it never saw in training",
                    "\n\n".join([places, *_as_shown_note(metrics), *_legend(metrics["places"].get("systems", []))])))
    verdicts = verdicts_markdown(metrics.get("places"), pct)
    if verdicts:
        out.append(("How sure it is, and a few readings of your own view", verdicts))
    examples = (metrics.get("examples") or {}).get("markdown")
    if examples:
        out.append(("What it says about the example photos",
                    "A sanity check, not a test: none of them has a measured PM2.5.\n\n" + examples))
    days = metrics_markdown(metrics)
    out.append(("Measured on days it never saw in training", days or "No measurements ship with this model file."))
    return out


def _as_shown_note(metrics: dict) -> list[str]:
    """The table is the photo model's own answer; the app without a place weighs it against the world prior."""
    world = ((((metrics.get("places") or {}).get("verdicts") or {}).get("prior") or {}).get("world") or {})
    score = world.get("balanced_accuracy")
    if not _is_number(score):
        return []
    return [f"\"This model\" is the photo model's own answer, every band equally likely beforehand. Without a "
            f"place Airken reads a photo against the world prior instead, which scores {pct(score)} (next "
            "section)."]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def air_model_study(metrics: dict) -> dict | None:
    """metrics.json's "air_model_study" block (train.airstudy's summary) when it carries the
    four pooled scores; None otherwise (an older model: the page says nothing about it)."""
    study = metrics.get("air_model_study")
    pooled = study.get("pooled") if isinstance(study, dict) else None
    if not isinstance(pooled, dict) or not all(_is_number(pooled.get(k)) for k in STUDY_SCORES):
        return None
    return study


def _photo_alone(metrics: dict) -> tuple[float | None, float | None]:
    """(balanced accuracy, share shown as sure) of the photo alone as the app runs without a
    place, on places it never saw: the study's, else train.verdicts' world prior, else the
    photo model's own pooled score (share unknown)."""
    study = air_model_study(metrics)
    if study:
        sure = ((study.get("sure") or {}).get("prior") or {}).get("sure")
        return study["pooled"]["photo_alone_as_shown"], sure if _is_number(sure) else None
    places = metrics.get("places") if isinstance(metrics.get("places"), dict) else {}
    verdicts = places.get("verdicts") if isinstance(places.get("verdicts"), dict) else {}
    world = ((verdicts.get("prior") or {}).get("world") or {}).get("balanced_accuracy")
    if _is_number(world):
        sure = (verdicts.get("unsure") or {}).get("coverage")
        return world, sure if _is_number(sure) else None
    own = ((places.get("pooled") or {}).get(places.get("system")) or {}).get("balanced_accuracy")
    return (own, None) if _is_number(own) else (None, None)


def honest_number(metrics: dict) -> str:
    """The numbers a visitor should know first: how often Airken, as it runs, picks the right
    band on a place it never saw, from a photo alone and (when measured) with the air model."""
    alone, sure = _photo_alone(metrics)
    if alone is None:
        return ("**How often it is right:** this model file carries no test on places it never saw, so "
                "nobody knows how it does on your photos. Treat a verdict as a hint.")
    chance = (metrics.get("places") or {}).get("chance", 1 / len(LABELS))
    text = (f"**How often it is right, honestly:** on photos of places it never saw in training, read from the "
            f"photo alone as Airken does without a place, it picks the right band {pct(alone)} of the time "
            f"(averaged over the three bands); a blind guess gets {pct(chance)}.")
    if sure is not None:
        text += f" So without a place it mostly can't tell: {pct(sure)} of those photos got a sure verdict."
    study = air_model_study(metrics)
    if study:
        text += (f" With the place and hour the air model sets the level, and in a simulation of its usual "
                 f"errors the air model and the photo together pick the right band "
                 f"{pct(study['pooled']['photo_and_air_model'])} of the time.")
    return text + " Treat a verdict as a hint, not a measurement."


def how_it_works() -> str:
    bands = ", ".join(f"**{c.word}** ({c.band})" for c in CLASSES)
    prior = ", ".join(f"{pct(share)} {c.word}" for share, c in zip(WORLD_PRIOR, CLASSES, strict=True))
    return "\n".join([
        "Airken weighs two witnesses, and the card says what each of them said.", "",
        "- **The air model sets the level.** For the photo's place and hour (its own GPS and time, else your "
        "location or the town you give), Airken asks Open-Meteo for the modelled PM2.5 there: a forecast "
        "from the Copernicus Atmosphere Monitoring Service (CAMS), not a measurement.",
        "- **The photo is a second witness.** A small image classifier (EfficientNet-Lite0) and a "
        "colour-and-haze model read how hazy the sky looks. The photo moves the answer only as far as it "
        "was measured to help on places it never saw.",
        f"- **Without a place, the photo is alone.** It is read against a world prior ({prior}: how common "
        "each band is in daylight where people live), and the answer is usually \"Can't tell reliably\", "
        "with the band it leans to.",
        "- **A calibrated view makes the photo count.** A profile made with `airken calibrate` from photos "
        "of one view (a webcam, a window) takes out that camera's own bias, so its photos say more.", "",
        f"The three bands: {bands}. Before anything, simple checks refuse night photos, blank frames and "
        "photos without sky. When the answer is not sure enough, Airken says \"Can't tell reliably\" and "
        "which way it leans, instead of guessing."])


def witnesses_markdown(study: dict) -> str:
    """What each witness adds, from the study a model carries, in plain words and percentages."""
    pooled = study["pooled"]
    both, air = pooled["photo_and_air_model"], pooled["air_model_alone"]
    gain = round((both - air) * 100)
    added = (f"the photo adds {gain} points" if gain > 0 else "the photo adds nothing measurable" if gain == 0
             else f"{-gain} points below the air model alone")
    lines = [_simulation_note(study), "",
             f"How often each picks the right band on places the model never saw, averaged over the three bands "
             f"(a blind guess gets {pct(1 / len(LABELS))}):", "",
             f"- the air model alone: **{pct(air)}**",
             f"- the air model, with the photo as a second witness: **{pct(both)}** ({added})",
             f"- the photo alone, its own best guess: **{pct(pooled['photo_alone'])}**",
             f"- the photo alone as Airken shows it without a place (against the world prior): "
             f"**{pct(pooled['photo_alone_as_shown'])}**"]
    return "\n".join(lines + _sure_lines(study.get("sure")))


def _simulation_note(study: dict) -> str:
    if study.get("simulated") is False:
        return "These numbers compare the photo with the air model's own archive for the training photos."
    setting = study.get("setting") or {}
    bias, noise = setting.get("bias_sd"), setting.get("noise_sd")
    errors = ""
    if _is_number(bias) and _is_number(noise):
        errors = (f": off by a lasting factor for each place (typically \N{MULTIPLICATION SIGN}"
                  f"{math.exp(bias):.1f}) and by a further one hour by hour (typically \N{MULTIPLICATION SIGN}"
                  f"{math.exp(noise):.1f})")
    return ("**The air model's numbers here are a SIMULATION.** No archive of the air model could be fetched "
            "for the training photos, so its answers were drawn from the station readings taken with them, "
            f"with the errors that published comparisons with stations report{errors}. The photos and the photo "
            "model are real, and each place was left out of training in turn.")


def _sure_lines(sure: Any) -> list[str]:
    """How many verdicts were shown as sure, and how often those were right, per level witness."""
    said = []
    for basis, lead in (("air_model", "With the air model"), ("prior", "From the photo alone")):
        found = (sure or {}).get(basis) if isinstance(sure, dict) else None
        if isinstance(found, dict) and _is_number(found.get("sure")):
            right = found.get("right_when_sure")
            said.append(f"{lead}, {pct(found['sure'])} of the photos got a sure verdict"
                        + (f", right {pct(right)} of the time." if _is_number(right) else "."))
    if not said:
        return []
    return ["", " ".join(said) + " The rest are shown as \"Can't tell reliably\", with the band they lean to."]


def _legend(systems: list[str]) -> list[str]:
    shown = [s for s in ("colour", "linear_probe", "majority") if s in systems]
    return ["What the other columns are:\n" + "\n".join(baseline_legend(shown))] if shown else []


# ---------------------------------------------------------------- held-out days


def _cell(value: Any) -> str:
    """0.812 -> 81%; {"mean": .8, "std": .1} -> 80% ± 10%; anything else -> n/a."""
    if isinstance(value, dict) and _is_number(value.get("mean")):
        std = value.get("std")
        return f"{pct(value['mean'])} \N{PLUS-MINUS SIGN} {pct(std)}" if _is_number(std) else pct(value["mean"])
    return pct(value) if _is_number(value) else "n/a"


def _system_name(name: str) -> str:
    title = SYSTEM_NAMES.get(name, name)
    return f"**{title}**" if title == SYSTEM_NAMES["model"] else title


def _systems_table(systems: dict) -> str:
    recall = any(isinstance(m, dict) and isinstance(m.get("per_class_recall"), dict) for m in systems.values())
    head = ["system", "accuracy", "balanced accuracy", "macro-F1"]
    head += [f"recall {WORDS[c]}" for c in LABELS] if recall else []
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, m in systems.items():
        if not isinstance(m, dict):
            continue
        cells = [_system_name(name), *(_cell(m.get(k)) for k in KEY_METRICS)]
        if recall:
            per_class = m.get("per_class_recall") or {}
            cells += [_cell(per_class.get(c)) for c in LABELS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _constant_notes(systems: dict) -> list[str]:
    """Why a baseline that gives one answer for every photo scores what it scores."""
    notes = []
    for name, m in systems.items():
        predicted = m.get("predicted") if isinstance(m, dict) else None
        support = m.get("support") if isinstance(m, dict) else None
        if not isinstance(predicted, dict) or not isinstance(support, dict) or sum(predicted.values()) == 0:
            continue
        said = [c for c, n in predicted.items() if n]
        if len(said) == 1 and said[0] in WORDS:
            word, right = WORDS[said[0]], support.get(said[0], 0)
            notes.append(f"{SYSTEM_NAMES.get(name, name).capitalize()} answered \"{word}\" for every photo (the "
                         f"band most common in training); {right} of these photos were {word}, "
                         f"so it scores {_cell(m.get('accuracy'))}.")
    return notes


def metrics_markdown(metrics: dict, max_rows: int = 30) -> str:
    """The held-out numbers of the model beside its baselines. Knows the layout written by
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
                parts.append("n/a: no photo of that band on the held-out days, so it was not measured.")
            parts += _constant_notes(sec["systems"])
            break
    kfold = metrics.get("kfold")
    if isinstance(kfold, dict) and isinstance(kfold.get("systems"), dict):
        how = f"{kfold.get('k', '?')} folds over {kfold.get('groups', '?')} place-and-day groups"
        parts += [f"**Grouped k-fold estimate** ({how}; mean \N{PLUS-MINUS SIGN} std)",
                  _systems_table(kfold["systems"])]
        if "model" not in kfold["systems"]:
            parts.append("This model itself is not in the k-fold rows: retraining the network once per fold "
                         "was left out to save time, so these rows show only how hard the data is for its "
                         "baselines.")
    rows = _metric_rows({k: v for k, v in metrics.items() if k not in DRAWN_KEYS})[:max_rows]
    if rows:
        lines = ["| measured on | " + " | ".join(k.replace("_", " ") for k in KEY_METRICS) + " |",
                 "|---" * (len(KEY_METRICS) + 1) + "|"]
        lines += [f"| {where} | " + " | ".join(_cell(row.get(k)) for k in KEY_METRICS) + " |"
                  for where, row in rows]
        parts.append("\n".join(lines))
    if parts:
        parts.append("What the other rows are:\n" + "\n".join(baseline_legend()))
    return "\n\n".join(parts)


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


# ---------------------------------------------------------------- the file and the credits


def model_markdown(model: dict) -> str:
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


def credits_markdown(metrics: dict) -> str:
    """Credit the data sets this model was trained on (from its metrics.json config)."""
    lines = [f"- **{d.place}:** {d.summary}. {d.credit}. Licence: {d.licence}. [The data set]({d.url})."
             for d in datasets_used(metrics)]
    return ("\n".join(lines) + "\n\nNone of these photos is part of this app. A model trained on them is for "
            "non-commercial use only.")


def examples_credits() -> str:
    """assets/examples/ATTRIBUTION.md, less its title (the section has one)."""
    text = EXAMPLES_CREDITS.read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("# "))
