"""What the page draws, without a browser: the verdict card in each state, the unsure card,
one vocabulary and number format, and the API's description of a Prediction."""
from __future__ import annotations

import dataclasses
import re

import pytest

from airken.core.classes import CLASSES, NEUTRAL_COLOUR, UNSURE_HEADLINE, UNSURE_PLAN, UNSURE_WARNING
from airken.core.predictor import Prediction
from airken.web import render
from airken.web.api import prediction_schema


def _pred(label: str = "danger", uncertain: bool = False, confidence: float = 0.9) -> Prediction:
    c = next(c for c in CLASSES if c.name == label)
    probs = {k.name: (confidence if k.name == label else (1 - confidence) / 2) for k in CLASSES}
    warnings = [UNSURE_WARNING] if uncertain else []
    return Prediction(label=label, probabilities=probs, pm25_range=c.band, colour=c.colour, headline=c.headline,
                      advice=c.advice, plan=dict(c.plan), warnings=warnings, model={}, confidence=confidence,
                      uncertain=uncertain, timings_ms={"total": 41.0})


def _contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        rgb = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("colour", [c.colour for c in CLASSES] + [NEUTRAL_COLOUR])
def test_card_text_meets_wcag_aa_contrast(colour):
    assert _contrast(colour, render.text_colour(colour)) >= 4.5


def test_a_sure_reading_has_its_class_colour_and_plan():
    card = render.verdict_card(_pred("danger"))
    assert 'data-state="reading"' in card and CLASSES[2].colour in card and "Unhealthy air" in card
    assert "confidence 90%" in card
    assert "N95" in render.plan_html(_pred("danger"))


def test_an_unsure_reading_is_neutral_and_does_not_alarm():
    pred = _pred("danger", uncertain=True, confidence=0.46)
    card = render.verdict_card(pred)
    assert 'data-state="unsure"' in card and html_escaped(UNSURE_HEADLINE) in card
    assert NEUTRAL_COLOUR in card and CLASSES[2].colour not in card and CLASSES[1].colour not in card
    assert "unhealthy" in card and "46%" in card  # what it leans to, still said
    assert UNSURE_WARNING not in card  # said by the headline, not repeated
    plan = render.plan_html(pred)
    assert "mask" not in plan.lower() and "indoors" not in plan.lower() and "station" in plan
    assert all(html_escaped(v) in plan for v in UNSURE_PLAN.values())
    probs = render.probabilities_html(pred, render.Threshold(0.74, 0.81))
    assert probs.count("%") >= 3 and "74%" in probs and "81%" in probs and "validation days" in probs
    new_places = render.threshold_of(0.83, {"calibration": {"uncertain_rule": "held-out places"},
                                            "places": {"verdicts": {"unsure": {"accuracy_kept": 0.38}}}})
    assert "places it never saw" in new_places.explain() and "38%" in new_places.explain()
    assert set(pred.to_dict()) == set(_pred().to_dict())  # the JSON keeps its shape


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_error_and_pending_cards_are_no_verdicts():
    for card in (render.error_card("The file is empty <b>"), render.pending_card(), render.empty_card()):
        assert "data-label" not in card
    assert "&lt;b&gt;" in render.error_card("The file is empty <b>")


def test_one_word_and_one_number_format_everywhere():
    assert render.percent(0.283) == "28%" and render.percent(0.999) == "over 99%" and render.percent(0) == "under 1%"
    row = render.batch_row("a.jpg", _pred("danger"))
    assert row[1] == "unhealthy" and all(re.fullmatch(r"\d+%|over 99%|under 1%", v) for v in row[2:5])
    assert render.batch_row("b.jpg", _pred("moderate", uncertain=True, confidence=0.5))[1] == "unsure (moderate?)"
    assert "unhealthy" in render.BATCH_HEADERS and "danger" not in render.BATCH_HEADERS
    table = render.batch_table([row])
    assert '<th scope="col">' in table and 'data-col="Unhealthy"' in table


def test_the_api_schema_lists_every_serialised_field():
    schema = prediction_schema(Prediction)
    assert list(schema["properties"]) == Prediction.serialised_fields() == list(_pred().to_dict())
    assert "photo" not in schema["properties"]
    assert schema["properties"]["air"]["anyOf"][1] == {"type": "null"}  # the modelled PM2.5, or null
    assert schema["properties"]["uncertain"] == {"type": "boolean"}
    assert schema["properties"]["probabilities"]["anyOf"][1] == {"type": "null"}


def test_a_new_prediction_field_reaches_the_json_and_the_schema():
    @dataclasses.dataclass
    class Extended(Prediction):
        station: dict | None = None

    fields = {f.name: getattr(_pred(), f.name) for f in dataclasses.fields(Prediction)}
    extended = Extended(**fields, station={"pm25": 4})
    assert extended.to_dict()["station"] == {"pm25": 4}
    assert "station" in prediction_schema(Extended)["properties"]
