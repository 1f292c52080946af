"""The About tab, for a lay visitor: the plain limits and one honest number first, then the
measurements, the model file, the data credits and the example photos' licences, each a
section the page folds away. Markdown only; airken.web.ui lays it out. The Hub model card
(train.model_card) carries the same numbers for the maintainer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airken.card.datasets import datasets_used
from airken.card.measurements import SYSTEM_NAMES, baseline_legend, places_markdown, verdicts_markdown
from airken.core.classes import CLASSES, LABELS, WORDS
from airken.core.words import percent
from airken.examples import EXAMPLES_DIR

EXAMPLES_CREDITS = EXAMPLES_DIR / "ATTRIBUTION.md"
KEY_METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
SECTION_TITLES = (("daylight", "daylight photos"), ("all", "all photos"))
# Keys of train/train.py's metrics.json drawn as tables below, or no numbers a visitor needs
# (the full file is one click away).
DRAWN_KEYS = {"evaluation", "kfold", "config", "data", "training", "export", "model_sha256", "places",
              "fusion", "calibration", "model_variant", "examples", "probe", "class_prior"}

LIMITS = """\
- **It is not a measuring instrument.** It guesses the PM2.5 band from how the sky looks. For
  decisions that matter, check an official air-quality station near you.
- **It has seen few places:** one webcam in Milan and phone videos from seven places in India
  and Nepal. On a place unlike those, its answer is little more than a guess.
- **On a place it has never seen it usually can't tell**, and says so: in its data clean air
  was mostly the Milan webcam's view and polluted air mostly Indian phone videos, so the level
  it reads elsewhere is unreliable. A few photos of your own view with PM2.5 readings
  ("Calibrated to your camera") help more than anything else measured.
- **Haze is not only pollution.** Fog, mist, cloud and a low sun look hazy too.
- **Night photos and photos with little sky are refused**, because the sky is what it reads."""


@dataclass(frozen=True)
class AboutPage:
    lead: str  # shown open
    sections: list[tuple[str, str]]  # (title, markdown), each folded away on the page


def about_page(about: dict, keep_minutes: int | None = None) -> AboutPage:
    """about: Predictor.about() (the model's identity and its metrics.json)."""
    model, metrics = about.get("model") or {}, about.get("metrics") or {}
    lead = ["## What Airken can and cannot tell you", honest_number(metrics), LIMITS]
    if keep_minutes:
        lead.append(f"**Your photos** are used only to answer you: the server deletes them within about "
                    f"{keep_minutes} minutes and never keeps them for training.")
    sections = [("How it works", how_it_works())]
    places = places_markdown(metrics.get("places"))
    if places:
        sections.append(("Measured on places it never saw in training",
                         "\n\n".join([places, *_legend(metrics["places"].get("systems", []))])))
    verdicts = verdicts_markdown(metrics.get("places"))
    if verdicts:
        sections.append(("How sure it is, and a few readings of your own view", verdicts))
    examples = (metrics.get("examples") or {}).get("markdown")
    if examples:
        sections.append(("What it says about the example photos",
                         "A sanity check, not a test: none of them has a measured PM2.5.\n\n" + examples))
    days = metrics_markdown(metrics)
    sections.append(("Measured on days it never saw in training",
                     days or "No measurements ship with this model file."))
    sections.append(("The model file", model_markdown(model)))
    sections.append(("Data it learned from", credits_markdown(metrics)))
    if EXAMPLES_CREDITS.is_file():
        sections.append(("Example photos: authors and licences", examples_credits()))
    return AboutPage("\n\n".join(lead), sections)


def honest_number(metrics: dict) -> str:
    """The one number a visitor should know: how it does on a place it never saw."""
    places = metrics.get("places") if isinstance(metrics.get("places"), dict) else {}
    mine = (places.get("pooled") or {}).get(places.get("system"), {})
    score = mine.get("balanced_accuracy")
    if not _is_number(score):
        return ("**How often it is right:** this model file carries no test on places it never saw, so "
                "nobody knows how it does on your photos. Treat a verdict as a hint.")
    chance = places.get("chance", 1 / len(LABELS))
    text = (f"**How often it is right, honestly:** on photos from places it never saw in training, it "
            f"picks the right band {percent(score)} of the time (averaged over the three bands); a blind "
            f"guess would get {percent(chance)}.")
    lo = mine.get("per_place_min")
    if _is_number(lo):
        text += f" Place by place it ranged from {percent(lo)} to {percent(mine.get('per_place_max', lo))}."
    return text + " Treat a verdict as a hint, not a measurement."


def how_it_works() -> str:
    bands = ", ".join(f"**{c.word}** ({c.band})" for c in CLASSES)
    return ("A small image classifier (EfficientNet-Lite0, fine-tuned) reads the photo, and its answer "
            "is averaged with a colour-and-haze model of the same photo. It sorts a sky photo into three "
            f"PM2.5 bands: {bands}. Before that, simple checks refuse night photos, blank frames and "
            "photos without sky. When the bands are close it says it can't tell, instead of guessing.")


def _legend(systems: list[str]) -> list[str]:
    shown = [s for s in ("colour", "linear_probe", "majority") if s in systems]
    return ["What the other columns are:\n" + "\n".join(baseline_legend(shown))] if shown else []


# ---------------------------------------------------------------- held-out days


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    """0.812 -> 0.81; {"mean": .8, "std": .1} -> 0.80 ± 0.10; anything else -> n/a."""
    if isinstance(value, dict) and _is_number(value.get("mean")):
        std = value.get("std")
        return f"{value['mean']:.2f} \N{PLUS-MINUS SIGN} {std:.2f}" if _is_number(std) else f"{value['mean']:.2f}"
    return f"{value:.2f}" if _is_number(value) else "n/a"


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
