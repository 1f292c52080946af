"""The verdict as the page shows it: the card, how sure, the plan for the day, as HTML.

Every word comes from the Verdict (airken.core.words built them); this module only lays them
out. A card is one of: empty (before a photo), reading, unsure, refused (the scene checks
said no), error (the file cannot be used) or pending (a photo is being read).
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from airken.core.classes import CLASSES
from airken.core.rule import VerdictRule
from airken.core.verdict import Verdict
from airken.core.words import ASK_FOR_PLACE, WHERE_MEASURED, percent
from airken.table import COLUMNS, cell

ERROR_HEADLINE = "Can't use this file"
# The part of the Verdict's request for a place that becomes a link to the place form (its words unchanged).
ASK_LINK = ASK_FOR_PLACE.split(":")[0]
NO_PHOTO = "Add a photo of the sky first: upload one, take one, or pick an example."


def esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def text_colour(background: str) -> str:
    """Black or white, whichever contrasts more with a #rrggbb background (WCAG 2.1)."""
    rgb = [int(background.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lum = sum(w * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
              for w, c in zip((0.2126, 0.7152, 0.0722), rgb, strict=True))
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"


def _card(state: str, headline: str, body: str = "", label: str | None = None, colour: str | None = None) -> str:
    attrs = f' data-state="{state}"'
    if label is not None:
        attrs += f' data-label="{esc(label)}"'
    if colour:
        attrs += f' style="--ak:{colour};--ak-text:{text_colour(colour)}"'
    kind = "ak-card ak-filled" if colour else "ak-card ak-empty"
    return f'<div class="{kind}"{attrs}><h2 class="ak-headline">{esc(headline)}</h2>{body}</div>'


def _list(items: Sequence[str], cls: str, title: str = "") -> str:
    if not items:
        return ""
    head = f"<strong>{esc(title)}</strong>" if title else ""
    return f'<div class="{cls}">{head}<ul>{"".join(f"<li>{esc(i)}</li>" for i in items)}</ul></div>'


def _advice(text: str) -> str:
    """The Verdict's advice as it is; where it asks for the place, that request is a link that
    brings the place form into view and puts the cursor in its town box (page.js)."""
    shown = esc(text)
    if ASK_LINK in text:
        shown = shown.replace(esc(ASK_LINK), f'<a href="#ak-where" class="ak-to-place">{esc(ASK_LINK)}</a>', 1)
    return f'<p class="ak-advice">{shown}</p>'


def empty_card() -> str:
    return _card("empty", "Your verdict appears here",
                 '<p class="ak-advice">Upload a daytime photo with plenty of open sky, or pick one of the '
                 "example photos under the upload box.</p>")


def pending_card() -> str:
    return _card("pending", "Reading the air\N{HORIZONTAL ELLIPSIS}")


def error_card(message: str) -> str:
    """A file the page cannot use (broken, too big, not an image), in the app's words."""
    return _card("error", ERROR_HEADLINE, f'<p class="ak-advice">{esc(message)}</p>')


def no_photo_card() -> str:
    """"Read the air" pressed with no photo: a prompt, not an error."""
    return _card("empty", "No photo yet", f'<p class="ak-advice">{esc(NO_PHOTO)}</p>')


def verdict_card(v: Verdict) -> str:
    """The card of a Verdict: reading, unsure or refused, every word the Verdict's own."""
    said = _list([w.says for w in v.witnesses], "ak-witnesses")
    meta = f'<p class="ak-meta">Read in {v.timings_ms["total"]:.0f} ms</p>' if "total" in v.timings_ms else ""
    notes = _list([w for w in v.warnings if w != v.unsure_reason], "ak-warn", "Take this with care:")
    if v.refused:
        return _card("refused", v.headline, f'<p class="ak-advice">{esc(v.advice)}</p>{said}{notes}{meta}',
                     label="none")
    if v.unsure:
        reason = f'<p class="ak-reason">{esc(v.unsure_reason)}</p>'
        return _card("unsure", v.headline, f"{_advice(v.advice)}{said}{reason}{notes}{meta}", label=v.label,
                     colour=v.colour)
    sure = f" &middot; confidence {percent(v.confidence)}" if v.confidence is not None else ""
    band = f'<p class="ak-band">{esc(v.pm25_range)}{sure}</p>'
    return _card("reading", v.headline, f"{band}{_advice(v.advice)}{said}{notes}{meta}", label=v.label,
                 colour=v.colour)


def rule_words(rule: VerdictRule) -> str:
    """The unsure rule, for the "How sure" panel: what "confidence" means and where the line is."""
    if not rule.reliability:
        line = rule.line("prior")
        return (f"Airken calls a verdict unsure when its top band gets less than {percent(line)}." if line > 0
                else "This model has no unsure line: every verdict is shown as it comes.")
    alone = rule.line("prior")
    alone = ("never from the photo alone" if alone > 1 else f"from {percent(alone)} from the photo alone")
    return (f"Confidence is how often verdicts as sure as this one were right {WHERE_MEASURED['air_model']}. "
            f"Airken calls a verdict from {percent(rule.line('air_model'))} confidence with the air model, "
            f"{alone}; below that it shows the band the answer leans to, in grey.")


def probabilities_html(v: Verdict, rule: VerdictRule) -> str:
    """Each band's share of the combined verdict, as text and a bar, and the unsure rule."""
    probs = v.probabilities or {}
    rows = []
    for c in CLASSES:
        share = float(probs.get(c.name, 0.0))
        rows.append(
            f'<li><span class="ak-prob-name">{esc(c.word.capitalize())}</span>'
            f'<span class="ak-prob-bar" aria-hidden="true"><span style="width:{share * 100:.1f}%"></span></span>'
            f'<span class="ak-prob-value">{percent(share)}</span></li>')
    return (f'<h2 class="ak-h">How sure</h2><ul class="ak-probs">{"".join(rows)}</ul>'
            f'<p class="ak-note">{esc(rule_words(rule))}</p>')


def plan_html(v: Verdict) -> str:
    """The plan for the day, as the Verdict words it (the gentle one when unsure)."""
    if v.refused or not v.plan:
        return ""
    items = "".join(f'<li class="ak-item"><strong class="ak-act">{esc(activity.capitalize())}</strong>'
                    f'<span class="ak-do">{esc(todo)}</span></li>' for activity, todo in v.plan.items())
    return f'<h2 class="ak-h">Plan your day</h2><ul class="ak-plan" style="--ak:{v.colour}">{items}</ul>'


def status(message: str) -> str:
    """A one-line message that a screen reader announces (batch limits, a shared photo)."""
    return f'<p class="ak-status" role="status">{esc(message)}</p>' if message else ""


NUMBER_COLUMNS = {"confidence", "air model PM2.5", *(c.word for c in CLASSES)}
LONG_COLUMNS = {"why unsure", "notes"}


def _heading(column: str) -> str:
    """"PM2.5 band", not str.capitalize()'s "Pm2.5 band"."""
    return column[:1].upper() + column[1:]


def _td(column: str, value: Any) -> str:
    kind = " ak-num" if column in NUMBER_COLUMNS else " ak-long" if column in LONG_COLUMNS else ""
    attrs = f' class="{kind.strip()}"' if kind else ""
    return f'<td{attrs} data-col="{esc(_heading(column))}">{esc(cell(column, value))}</td>'


def table_html(rows: Sequence[dict[str, Any]]) -> str:
    """An HTML table that becomes one card per photo on a narrow screen (page.css)."""
    head = "".join(f'<th scope="col">{esc(_heading(c))}</th>' for c in COLUMNS)
    body = []
    for row in rows:
        cells = [f'<th scope="row" data-col="File">{esc(row["file"])}</th>']
        cells += [_td(c, row[c]) for c in COLUMNS[1:]]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="ak-batch"><caption>Results, one row per photo</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
