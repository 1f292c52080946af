"""What the page shows for a Prediction: the verdict card, the probabilities, the plan for
the day and the batch table, as HTML, in one vocabulary (airken.classes WORDS) and one
number format (whole percentages). Plain functions of their inputs, no Gradio.

A card is always one of: empty (before a photo), reading, unsure, refused (the scene checks
said no), error (the file cannot be used) or pending (a photo is being read).
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airken.classes import (
    CLASSES,
    LABELS,
    NEUTRAL_COLOUR,
    UNSURE_ADVICE,
    UNSURE_HEADLINE,
    UNSURE_PLAN,
    UNSURE_WARNING,
    WORDS,
)

if TYPE_CHECKING:
    from airken.predictor import Prediction

ERROR_HEADLINE = "Can't use this file"


def units(text: str) -> str:
    return text.replace("ug/m3", "\N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}")


def percent(share: float) -> str:
    """A probability for people: never "100%" or "0%", which a photo cannot back."""
    if share >= 0.995:
        return "over 99%"
    if share < 0.005:
        return "under 1%"
    return f"{share:.0%}"


def text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with a #rrggbb background (WCAG 2.1)."""
    rgb = [int(background.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lum = sum(w * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
              for w, c in zip((0.2126, 0.7152, 0.0722), rgb, strict=True))
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


# ---------------------------------------------------------------- the verdict card


def _card(state: str, headline: str, body: str = "", label: str | None = None, colour: str | None = None) -> str:
    attrs = f' data-state="{state}"'
    if label is not None:
        attrs += f' data-label="{_esc(label)}"'
    if colour:
        attrs += f' style="--ak:{colour};--ak-text:{text_colour(colour)}"'
    kind = "ak-card ak-filled" if colour else "ak-card ak-empty"
    return f'<div class="{kind}"{attrs}><h2 class="ak-headline">{_esc(headline)}</h2>{body}</div>'


def _warnings_html(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{_esc(w)}</li>" for w in warnings)
    return f'<div class="ak-warn"><strong>Take this with care:</strong><ul>{items}</ul></div>'


def _meta(pred: Prediction) -> str:
    total = (pred.timings_ms or {}).get("total")
    return f'<p class="ak-meta">Read in {total:.0f} ms</p>' if total is not None else ""


def _own_warnings(pred: Prediction) -> list[str]:
    """The warnings, less the unsure one: an unsure card and row say it already."""
    return [w for w in pred.warnings if w != UNSURE_WARNING]


def empty_card() -> str:
    return _card("empty", "Your verdict appears here",
                 '<p class="ak-advice">Upload a daytime photo with plenty of open sky, or pick one of the '
                 "example photos under the upload box.</p>")


def pending_card() -> str:
    return _card("pending", "Reading the air\N{HORIZONTAL ELLIPSIS}")


def error_card(message: str) -> str:
    """A file we cannot use (broken, too big, not an image, none given), in the app's words."""
    return _card("error", ERROR_HEADLINE, f'<p class="ak-advice">{_esc(message)}</p>')


def verdict_card(pred: Prediction) -> str:
    """The card for a Prediction: reading, unsure or refused."""
    if pred.label is None:
        body = f'<p class="ak-advice">{_esc(pred.advice)}</p>{_warnings_html(pred.warnings)}{_meta(pred)}'
        return _card("refused", pred.headline, body, label="none")
    cls = CLASSES[LABELS.index(pred.label)]
    band = _esc(units(pred.pm25_range or cls.band))
    confidence = percent(pred.confidence) if pred.confidence is not None else None
    if pred.uncertain:
        lean = f"It leans towards <strong>{_esc(cls.word)}</strong> ({band})"
        lean += f", with {confidence} confidence." if confidence else "."
        body = (f'<p class="ak-band">{lean}</p><p class="ak-advice">{_esc(UNSURE_ADVICE)}</p>'
                f"{_warnings_html(_own_warnings(pred))}{_meta(pred)}")
        return _card("unsure", UNSURE_HEADLINE, body, label=pred.label, colour=NEUTRAL_COLOUR)
    sure = f" &middot; confidence {confidence}" if confidence else ""
    body = (f'<p class="ak-band">{band}{sure}</p><p class="ak-advice">{_esc(pred.advice)}</p>'
            f"{_warnings_html(pred.warnings)}{_meta(pred)}")
    return _card("reading", pred.headline, body, label=pred.label, colour=pred.colour or cls.colour)


# ---------------------------------------------------------------- probabilities and plan


@dataclass(frozen=True)
class Threshold:
    """The "unsure" line of the model (airken.calibration), in words for the page."""

    below: float  # confidence under which a reading is unsure
    accuracy_above: float | None = None  # validation accuracy of the readings at or above it

    def explain(self) -> str:
        if self.below <= 0:
            return "This model has no unsure threshold: every reading is shown as it comes."
        text = f"Airken calls a reading unsure when its top band gets less than {percent(self.below)}"
        if self.accuracy_above:
            return (f"{text}: on validation days, which it was not trained on, readings at or above that "
                    f"were right {percent(self.accuracy_above)} of the time.")
        return text + "."


def probabilities_html(pred: Prediction, threshold: Threshold) -> str:
    """Each band's probability as text and a bar, and the unsure threshold explained."""
    probs = pred.probabilities or {}
    rows = []
    for c in CLASSES:
        share = float(probs.get(c.name, 0.0))
        rows.append(
            f'<li><span class="ak-prob-name">{_esc(c.word.capitalize())}</span>'
            f'<span class="ak-prob-bar" aria-hidden="true"><span style="width:{share * 100:.1f}%"></span></span>'
            f'<span class="ak-prob-value">{percent(share)}</span></li>')
    return (f'<h2 class="ak-h">How sure</h2><ul class="ak-probs">{"".join(rows)}</ul>'
            f'<p class="ak-note">{_esc(threshold.explain())}</p>')


def plan_html(pred: Prediction) -> str:
    """The plan for the day: the class's own, or the gentle one when the model is unsure."""
    plan = UNSURE_PLAN if pred.uncertain else pred.plan
    if pred.label is None or not plan:
        return ""
    items = "".join(f'<li class="ak-item"><strong class="ak-act">{_esc(activity.capitalize())}</strong>'
                    f'<span class="ak-do">{_esc(todo)}</span></li>' for activity, todo in plan.items())
    colour = NEUTRAL_COLOUR if pred.uncertain else (pred.colour or NEUTRAL_COLOUR)
    return f'<h2 class="ak-h">Plan your day</h2><ul class="ak-plan" style="--ak:{colour}">{items}</ul>'


# ---------------------------------------------------------------- many photos


BATCH_HEADERS = ["file", "verdict", *(c.word for c in CLASSES), "notes"]


def batch_row(name: str, pred: Prediction | None = None, error: str | None = None) -> list[str]:
    """One row of the batch table and CSV, in the page's words and number format."""
    if pred is None:
        return [name, "unreadable", "", "", "", error or ""]
    if pred.label is None:
        return [name, "refused", "", "", "", " ".join([pred.advice, *pred.warnings])]
    probs = pred.probabilities or {}
    verdict = f"unsure ({WORDS[pred.label]}?)" if pred.uncertain else WORDS[pred.label]
    return [name, verdict, *(percent(float(probs.get(c, 0.0))) for c in LABELS),
            " ".join(_own_warnings(pred))]


def batch_table(rows: Sequence[Sequence[str]]) -> str:
    """An HTML table that becomes one card per photo on a narrow screen (page.css)."""
    head = "".join(f'<th scope="col">{_esc(h.capitalize())}</th>' for h in BATCH_HEADERS)
    body = []
    for row in rows:
        cells = [f'<th scope="row" data-col="{_esc(BATCH_HEADERS[0].capitalize())}">{_esc(row[0])}</th>']
        cells += [f'<td data-col="{_esc(h.capitalize())}">{_esc(v)}</td>'
                  for h, v in zip(BATCH_HEADERS[1:], row[1:], strict=True)]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="ak-batch"><caption>Results, one row per photo</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
