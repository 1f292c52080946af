"""What the page shows for a Prediction: the verdict card, the probabilities, the plan for
the day, the modelled PM2.5 beside them (its line, the 48-hour chart, the best times) and the
batch table, as HTML, in one vocabulary (airken.core.classes WORDS) and one number format (whole
percentages). Plain functions of their inputs, no Gradio.

A card is always one of: empty (before a photo), reading, unsure, refused (the scene checks
said no), error (the file cannot be used) or pending (a photo is being read).
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airken.airmodel.openmeteo import CREDIT, OFF
from airken.core.classes import (
    CLASSES,
    DANGER_ABOVE,
    HEALTHY_BELOW,
    LABELS,
    NEUTRAL_COLOUR,
    UNSURE_ADVICE,
    UNSURE_HEADLINE,
    UNSURE_PLAN,
    UNSURE_WARNING,
    WORDS,
    class_by_name,
)

if TYPE_CHECKING:
    from airken.core.predictor import Prediction

ERROR_HEADLINE = "Can't use this file"
NO_PLACE = ("No modelled PM2.5 yet: the photo carries no GPS position and time. Use your location or "
            "type a town to see it, and the best hours of the next two days.")
MY_LOCATION = "your location"  # the name of a place the browser gave


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
    """The "unsure" line of the model (airken.core.calibration), in words for the page."""

    below: float  # confidence under which a reading is unsure
    accuracy_above: float | None = None  # accuracy of the readings at or above it, where it was chosen
    on_new_places: bool = False  # chosen on places the model never saw (train.verdicts), not on validation days

    def explain(self) -> str:
        if self.below <= 0:
            return "This model has no unsure threshold: every reading is shown as it comes."
        text = f"Airken calls a reading unsure when its top band gets less than {percent(self.below)}"
        if self.on_new_places:
            right = f" were right only {percent(self.accuracy_above)} of the time" if self.accuracy_above else ""
            return (f"{text}, a bar set on places it never saw in training: there even its surest readings"
                    f"{right}, so most readings of a new place are shown as unsure.")
        if self.accuracy_above:
            return (f"{text}: on validation days, which it was not trained on, readings at or above that "
                    f"were right {percent(self.accuracy_above)} of the time.")
        return text + "."


def threshold_of(below: float, metrics: dict) -> Threshold:
    """The unsure line as the model's metrics.json describes where it was chosen."""
    cal = metrics.get("calibration") or {}
    if cal.get("uncertain_rule"):  # chosen on the leave-one-place-out held-out places
        unsure = (((metrics.get("places") or {}).get("verdicts") or {}).get("unsure")) or {}
        return Threshold(below, unsure.get("accuracy_kept"), on_new_places=True)
    return Threshold(below, (cal.get("threshold") or {}).get("accuracy_above"))


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


def status(message: str) -> str:
    """A one-line message that a screen reader announces (batch limits, a shared photo)."""
    return f'<p class="ak-status" role="status">{_esc(message)}</p>' if message else ""


# ---------------------------------------------------------------- the modelled PM2.5 (airken.web.panel)
# Everything below reads the "air" block of the JSON (airken.airmodel.report.AirReport.to_dict()).


def _hm(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M")


def _day(iso: str, today: str) -> str:
    """"today", "tomorrow" or "Thu 3 Dec", relative to the local date `today`."""
    t = datetime.fromisoformat(iso)
    days = (t.date() - datetime.fromisoformat(today).date()).days
    return {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days, f"{t:%a} {t.day} {t:%b}")


def _air_p(text_html: str, colour: str | None = None) -> str:
    style = f' style="--ak:{colour}"' if colour else ""
    return f'<p class="ak-air" role="status"{style}>{text_html}</p>'


def air_line(air: dict | None, reading: dict | None = None, place: dict | None = None, *,
             enabled: bool = True, prior: bool = False) -> str:
    """One plain line beside the verdict: the modelled PM2.5 for the photo's place and hour
    (`reading` is the photo's JSON) or for the visitor's `place`, a sentence when the photo
    disagrees, or why there is none. `prior`: the value was the verdict's class prior."""
    if air is None:
        return _air_p(_esc(NO_PLACE if enabled else OFF))
    if "error" in air:
        return _air_p(_esc(f"{air['error']} The photo's reading does not depend on it."))
    cls = class_by_name(air["label"])
    here = "where the photo was taken" if reading and not place else _at((place or {}).get("name"))
    today = air["hourly"][0]["time"] if air["hourly"] else air["time"]
    day = _day(air["time"], today)
    when = _hm(air["time"]) + ("" if day == "today" else f" {day}")
    value = f"{float(air['pm25']):.0f} {units('ug/m3')} ({cls.word})"
    text = f"Modelled PM2.5 {_esc(here)} at {_esc(when)}: <strong>{_esc(value)}</strong>."
    more = _disagreement(reading, cls.name)
    if prior and reading:
        more += " This modelled value was the photo verdict's prior."
    extra = f'<span class="ak-more">{_esc(more.strip())}</span>' if more.strip() else ""
    return _air_p(text + extra, cls.colour)


def _at(name: str | None) -> str:
    return "at your location" if name in (None, MY_LOCATION) else f"in {name}"


def _disagreement(reading: dict | None, modelled: str) -> str:
    """A sentence when the photo's class differs from the modelled one (none for an unsure
    reading: the card already says the photo cannot tell)."""
    photo = (reading or {}).get("label")
    if photo not in LABELS or photo == modelled or (reading or {}).get("uncertain"):
        return ""
    if LABELS.index(photo) < LABELS.index(modelled):
        return ("The photo looks cleaner than the model of the area expects: fine particles can be invisible "
                "in a photo, and the model averages over 11-45 km. Sensitive people should go by the higher one.")
    return ("The photo looks hazier than the model of the area expects: fog, cloud, dust or smoke nearby can "
            "do that, and a model of 11-45 km cells can miss a local source.")


def _segments(hourly: list[dict]) -> list[tuple[str, str, str]]:
    """Runs of hours in the same class: (label, first hour, end of the last hour)."""
    runs: list[list[str]] = []
    for h in hourly:
        if h["label"] is None:
            continue
        end = (datetime.fromisoformat(h["time"]) + timedelta(hours=1)).isoformat(timespec="minutes")
        if runs and runs[-1][0] == h["label"]:
            runs[-1][2] = end
        else:
            runs.append([h["label"], h["time"], end])
    return [(label, start, end) for label, start, end in runs]


def chart_summary(hourly: list[dict]) -> str:
    """The chart in words: "Healthy from today 14:00 to today 19:00; moderate from ..."."""
    if not hourly:
        return "No hourly values."
    today = hourly[0]["time"]
    parts = [f"{WORDS[label]} from {_day(start, today)} {_hm(start)} to {_day(end, today)} {_hm(end)}"
             for label, start, end in _segments(hourly)]
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


_W, _H, _LEFT, _TOP, _BOTTOM = 480, 170, 30, 8, 132  # the chart's drawing box, in SVG units


def air_chart(hourly: list[dict]) -> str:
    """Bars of the next hours coloured by class, with a legend, the chart in words (its text
    alternative, also shown) and the values in a table; "" without a single value."""
    values = [h["pm25"] for h in hourly if h["pm25"] is not None]
    if not values:
        return ""
    scale = max(80.0, max(values) * 1.1)

    def y(v: float) -> float:
        return _BOTTOM - (_BOTTOM - _TOP) * min(v, scale) / scale

    step = (_W - _LEFT) / len(hourly)
    marks = [_bar(_LEFT + i * step, step, h, y) for i, h in enumerate(hourly)]
    marks += [_limit(v, y(v)) for v in (HEALTHY_BELOW, DANGER_ABOVE)]
    summary = _esc(chart_summary(hourly))
    title = _esc(f"Modelled PM2.5 ({units('ug/m3')}) for the next {len(hourly)} hours, by hour")
    svg = (f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="ak-chart-title ak-chart-desc">'
           f'<title id="ak-chart-title">{title}</title><desc id="ak-chart-desc">{summary}</desc>'
           f'{"".join(marks)}</svg>')
    return (f'<div class="ak-chart"><h2 class="ak-h">The next {len(hourly)} hours here</h2>{svg}{_legend()}'
            f'<p>{summary}</p>{_hour_table(hourly)}<p class="ak-credit">{_esc(CREDIT)}</p></div>')


def _bar(x: float, step: float, hour: dict, y) -> str:
    t = datetime.fromisoformat(hour["time"])
    name = f"{t:%a}" if t.hour == 0 else f"{t:%H}"  # the day at midnight, else the hour
    at = f'x="{x:.1f}" y="{_BOTTOM + 14}"'
    tick = "" if t.hour % 6 else f'<text {at} font-size="12" fill="currentColor">{name}</text>'
    if hour["pm25"] is None:
        return tick
    cls = class_by_name(hour["label"])
    top = y(float(hour["pm25"]))
    tip = _esc(f"{t:%H:%M}: {float(hour['pm25']):.0f} {units('ug/m3')}, {cls.word}")
    return (f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(step - 1, 1):.1f}" height="{_BOTTOM - top:.1f}" '
            f'fill="{cls.colour}" stroke="currentColor" stroke-width="0.5"><title>{tip}</title></rect>{tick}')


def _limit(value: float, y: float) -> str:
    """A class boundary as a dashed line, labelled on the left."""
    return (f'<line x1="{_LEFT}" x2="{_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-width="0.7" '
            f'stroke-dasharray="3 3"/><text x="2" y="{y + 3:.1f}" font-size="12" fill="currentColor">{value:g}</text>')


def _legend() -> str:
    keys = "".join(f'<li><span class="ak-key" style="background:{c.colour}" aria-hidden="true"></span>'
                   f'{_esc(c.word.capitalize())} ({_esc(units(c.band))})</li>' for c in CLASSES)
    return f'<ul class="ak-legend" aria-label="Colours of the chart">{keys}</ul>'


def _whole(value: float | None) -> str:
    return "" if value is None else f"{float(value):.0f}"


def _hour_table(hourly: list[dict]) -> str:
    today = hourly[0]["time"]
    rows = "".join(f"<tr><td>{_esc(_day(h['time'], today))} {_hm(h['time'])}</td><td>{_whole(h['pm25'])}</td>"
                   f"<td>{_esc(WORDS[h['label']]) if h['label'] else 'no value'}</td></tr>" for h in hourly)
    head = (f'<tr><th scope="col">Hour</th><th scope="col">PM2.5 ({units("ug/m3")})</th>'
            '<th scope="col">Air</th></tr>')
    return (f'<details><summary>Hour by hour</summary><table class="ak-hours"><thead>{head}</thead>'
            f"<tbody>{rows}</tbody></table></details>")


def best_times(air: dict) -> str:
    """The best daylight window per activity, in plain words."""
    today = air["hourly"][0]["time"] if air["hourly"] else air["time"]
    items = []
    for name, w in air["best"].items():
        if w is None:
            items.append(f'<li class="ak-item" style="--ak:{NEUTRAL_COLOUR}">'
                         f'<strong class="ak-act">{_esc(name.capitalize())}</strong>'
                         '<span class="ak-do">No daylight hours with data in the next two days.</span></li>')
            continue
        span = f"{_hm(w['start'])}-{_hm(w['end'])} {_day(w['start'], today)}"
        value = f"up to {float(w['pm25']):.0f} {units('ug/m3')} ({WORDS[w['label']]})"
        items.append(f'<li class="ak-item" style="--ak:{class_by_name(w["label"]).colour}">'
                     f'<strong class="ak-act">{_esc(name.capitalize())}: {_esc(span)}</strong>'
                     f'<span class="ak-do">{_esc(value)}. {_esc(w["advice"])}</span></li>')
    return f'<h2 class="ak-h">Best daylight times</h2><ul class="ak-plan">{"".join(items)}</ul>'


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
