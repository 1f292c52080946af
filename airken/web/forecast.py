"""The air model on the page: the modelled PM2.5 of a place, the next 48 hours as a chart
coloured by class (with a "now" marker, the same in a few words and as a table) and the best
daylight times. Everything here reads the report's JSON (airken.airmodel.report.AirReport.to_dict()),
the same object the API and the CLI return.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airken.airmodel.openmeteo import CREDIT
from airken.core.classes import CLASSES, DANGER_ABOVE, HEALTHY_BELOW, NEUTRAL_COLOUR, WORDS, class_by_name
from airken.core.words import hour_words
from airken.web.card import esc

UNIT = "\N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"
MY_LOCATION = "your location"  # the name of a place the browser gave


def place_line(report: dict | None, name: str | None) -> str:
    """One line under the place form: the air model for the chosen place now, or why there is none."""
    if not report:
        return ""
    if "error" in report:
        return _line(esc(report["error"]))
    cls = class_by_name(report["label"])
    value = f"{float(report['pm25']):.0f} {UNIT} ({cls.word})"
    where = "at your location" if name in (None, MY_LOCATION) else f"in {name}"
    return _line(f"Air model {esc(where)} at {esc(hour_words(report['time']))}: <strong>{esc(value)}</strong>.",
                 cls.colour)


def _line(text_html: str, colour: str | None = None) -> str:
    style = f' style="--ak:{colour}"' if colour else ""
    return f'<p class="ak-air" role="status"{style}>{text_html}</p>'


def _hm(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M")


def _day(iso: str, today: str) -> str:
    """"today", "tomorrow" or "Thu 3 Dec", relative to the local date `today`."""
    t = datetime.fromisoformat(iso)
    days = (t.date() - datetime.fromisoformat(today).date()).days
    return {0: "today", 1: "tomorrow", -1: "yesterday"}.get(days, f"{t:%a} {t.day} {t:%b}")


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
    """The chart in a few words: now, the lowest and the highest hour."""
    known = [h for h in hourly if h["pm25"] is not None]
    if not known:
        return "No hourly values."
    today = hourly[0]["time"]

    def at(h: dict) -> str:
        return f"{float(h['pm25']):.0f} ({WORDS[h['label']]}) {_day(h['time'], today)} {_hm(h['time'])}"

    low, high = min(known, key=lambda h: h["pm25"]), max(known, key=lambda h: h["pm25"])
    now = at(known[0]).replace(" (", f" {UNIT} (", 1)  # the unit once, on the first value
    return f"Now {now}. Lowest {at(low)}. Highest {at(high)}."


def chart_runs(hourly: list[dict]) -> str:
    """The chart's class runs, one short line each, for the hour-by-hour details."""
    today = hourly[0]["time"] if hourly else ""
    items = "".join(f"<li>{esc(WORDS[label].capitalize())}: {esc(_day(start, today))} {_hm(start)} to "
                    f"{esc(_day(end, today))} {_hm(end)}</li>" for label, start, end in _segments(hourly))
    return f'<ul class="ak-runs">{items}</ul>' if items else ""


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
    marks.append(_now(_LEFT))  # the series starts at the current hour
    summary = esc(chart_summary(hourly))
    title = esc(f"Modelled PM2.5 ({UNIT}) for the next {len(hourly)} hours, by hour")
    svg = (f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="ak-chart-title ak-chart-desc">'
           f'<title id="ak-chart-title">{title}</title><desc id="ak-chart-desc">{summary}</desc>'
           f'{"".join(marks)}</svg>')
    return (f'<div class="ak-chart"><h2 class="ak-h">The next {len(hourly)} hours here</h2>{svg}{_legend()}'
            f'<p class="ak-chart-words">{summary}</p>{_hour_table(hourly)}<p class="ak-credit">{esc(CREDIT)}</p></div>')


def _now(x: float) -> str:
    """A solid line and the word "now" at the current hour."""
    return (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_BOTTOM}" stroke="currentColor" stroke-width="2"/>'
            f'<text x="{x + 3:.1f}" y="{_TOP + 11}" font-size="12" font-weight="700" fill="currentColor">now</text>')


def _bar(x: float, step: float, hour: dict, y) -> str:
    t = datetime.fromisoformat(hour["time"])
    name = f"{t:%a}" if t.hour == 0 else f"{t:%H}"  # the day at midnight, else the hour
    middle = x + step / 2
    at = f'x="{middle:.1f}" y="{_BOTTOM + 14}" text-anchor="middle"'
    fits = _LEFT + 12 <= middle <= _W - 16  # a label cut at the chart's edge, or on the "now" line, is left out
    tick = f'<text {at} font-size="12" fill="currentColor">{name}</text>' if fits and not t.hour % 6 else ""
    if hour["pm25"] is None:
        return tick
    cls = class_by_name(hour["label"])
    top = y(float(hour["pm25"]))
    tip = esc(f"{t:%H:%M}: {float(hour['pm25']):.0f} {UNIT}, {cls.word}")
    return (f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(step - 1, 1):.1f}" height="{_BOTTOM - top:.1f}" '
            f'fill="{cls.colour}" stroke="currentColor" stroke-width="0.5"><title>{tip}</title></rect>{tick}')


def _limit(value: float, y: float) -> str:
    """A class boundary as a dashed line, labelled on the left."""
    return (f'<line x1="{_LEFT}" x2="{_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-width="0.7" '
            f'stroke-dasharray="3 3"/><text x="2" y="{y + 3:.1f}" font-size="12" fill="currentColor">{value:g}</text>')


def _legend() -> str:
    keys = "".join(f'<li><span class="ak-key" style="background:{c.colour}" aria-hidden="true"></span>'
                   f'{esc(c.word.capitalize())} ({esc(c.band)})</li>' for c in CLASSES)
    return f'<ul class="ak-legend" aria-label="Colours of the chart">{keys}</ul>'


def _whole(value: float | None) -> str:
    return "" if value is None else f"{float(value):.0f}"


def _hour_table(hourly: list[dict]) -> str:
    today = hourly[0]["time"]
    rows = "".join(f"<tr><td>{esc(_day(h['time'], today))} {_hm(h['time'])}</td><td>{_whole(h['pm25'])}</td>"
                   f"<td>{esc(WORDS[h['label']]) if h['label'] else 'no value'}</td></tr>" for h in hourly)
    head = (f'<tr><th scope="col">Hour</th><th scope="col">PM2.5 ({UNIT})</th>'
            '<th scope="col">Air</th></tr>')
    return (f'<details><summary>Hour by hour</summary>{chart_runs(hourly)}<table class="ak-hours">'
            f"<thead>{head}</thead><tbody>{rows}</tbody></table></details>")


def best_times(air: dict) -> str:
    """The best daylight window per activity, in plain words."""
    today = air["hourly"][0]["time"] if air["hourly"] else air["time"]
    items = []
    for name, w in air["best"].items():
        if w is None:
            items.append(f'<li class="ak-item" style="--ak:{NEUTRAL_COLOUR}">'
                         f'<strong class="ak-act">{esc(name.capitalize())}</strong>'
                         '<span class="ak-do">No daylight hours with data in the next two days.</span></li>')
            continue
        span = f"{_hm(w['start'])}-{_hm(w['end'])} {_day(w['start'], today)}"
        value = f"up to {float(w['pm25']):.0f} {UNIT} ({WORDS[w['label']]})"
        items.append(f'<li class="ak-item" style="--ak:{class_by_name(w["label"]).colour}">'
                     f'<strong class="ak-act">{esc(name.capitalize())}: {esc(span)}</strong>'
                     f'<span class="ak-do">{esc(value)}. {esc(w["advice"])}</span></li>')
    return f'<h2 class="ak-h">Best daylight times</h2><ul class="ak-plan">{"".join(items)}</ul>'


