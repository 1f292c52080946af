"""What the page draws, without a browser: the verdict card in each state, the unsure card,
one vocabulary and number format, and the API's description of a Verdict."""
from __future__ import annotations

import dataclasses
import html
import re

import pytest
from verdicts import made

from airken.core.classes import CLASSES, NEUTRAL_COLOUR
from airken.core.rule import VerdictRule
from airken.core.verdict import Verdict
from airken.core.words import UNSURE_HEADLINE, UNSURE_PLAN, percent
from airken.table import COLUMNS, cell, record
from airken.web import card
from airken.web.api import json_schema


def _contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        rgb = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def html_escaped(text: str) -> str:
    return html.escape(text, quote=True)


@pytest.mark.parametrize("colour", [c.colour for c in CLASSES] + [NEUTRAL_COLOUR])
def test_card_text_meets_wcag_aa_contrast(colour):
    assert _contrast(colour, card.text_colour(colour)) >= 4.5


def test_a_sure_reading_has_its_class_colour_and_plan():
    shown = card.verdict_card(made("danger"))
    assert 'data-state="reading"' in shown and CLASSES[2].colour in shown and "Unhealthy air" in shown
    assert "confidence 90%" in shown
    assert "N95" in card.plan_html(made("danger"))


def test_an_unsure_reading_is_neutral_and_does_not_alarm():
    v = made("danger", confidence=0.46, unsure_below=0.74)
    shown = card.verdict_card(v)
    assert 'data-state="unsure"' in shown and html_escaped(UNSURE_HEADLINE) in shown
    assert NEUTRAL_COLOUR in shown and CLASSES[2].colour not in shown and CLASSES[1].colour not in shown
    assert "unhealthy" in shown and "46%" in shown and "74%" in shown  # what it leans to, and why unsure
    assert shown.count(html_escaped(v.unsure_reason)) == 1  # said once, not again as a warning
    plan = card.plan_html(v)
    assert "mask" not in plan.lower() and "indoors" not in plan.lower() and "station" in plan
    assert all(html_escaped(todo) in plan for todo in UNSURE_PLAN.values())
    probs = card.probabilities_html(v, VerdictRule.from_metrics({"calibration": {"uncertain_below": 0.74}}))
    assert probs.count("%") >= 3 and "74%" in probs and "unsure" in probs
    assert set(v.to_dict()) == set(made().to_dict())  # the JSON keeps its shape


def test_the_request_for_a_place_is_a_link_to_the_form_in_the_verdicts_own_words():
    from airken.core.verdict import Where

    v = made("danger", confidence=0.46, unsure_below=0.74)  # unsure, no place: it asks for one
    shown = card.verdict_card(v)
    assert shown.count('<a href="#ak-where" class="ak-to-place">') == 1
    assert html.unescape(re.sub(r"<[^>]+>", "", shown)).count(v.advice) == 1  # the words as the Verdict has them
    placed = made("danger", confidence=0.46, unsure_below=0.74, where=Where(45.5, 9.2, "Milan", "given"))
    assert "ak-to-place" not in card.verdict_card(placed) and "ak-to-place" not in card.verdict_card(made())


def test_error_and_pending_cards_are_no_verdicts():
    for shown in (card.error_card("The file is empty <b>"), card.pending_card(), card.empty_card(),
                  card.no_photo_card()):
        assert "data-label" not in shown
    assert "&lt;b&gt;" in card.error_card("The file is empty <b>")


def test_one_word_and_one_number_format_everywhere():
    assert percent(0.283) == "28%" and percent(0.999) == "over 99%" and percent(0) == "under 1%"
    row = record("a.jpg", made("danger"))
    assert row["leans to"] == "unhealthy" and row["verdict"] == "Unhealthy air" and row["unsure"] is False
    shares = [cell(c.word, row[c.word]) for c in CLASSES] + [cell("confidence", row["confidence"])]
    assert all(re.fullmatch(r"\d+%|over 99%|under 1%", v) for v in shares)
    unsure = record("b.jpg", made("moderate", confidence=0.5))
    assert (unsure["verdict"], unsure["leans to"], cell("unsure", unsure["unsure"])) == (
        UNSURE_HEADLINE, "moderate", "yes")
    assert "unhealthy" in COLUMNS and "danger" not in COLUMNS
    table = card.table_html([row, unsure])
    assert '<th scope="col">' in table and 'data-col="Unhealthy"' in table and html_escaped(UNSURE_HEADLINE) in table


def test_the_api_schema_lists_every_serialised_field():
    schema = json_schema(Verdict)
    assert list(schema["properties"]) == Verdict.serialised_fields() == list(made().to_dict())
    assert "photo" not in schema["properties"]
    assert schema["properties"]["air_model"]["anyOf"][1] == {"type": "null"}  # the modelled PM2.5, or null
    assert schema["properties"]["unsure"] == {"type": "boolean"}
    assert schema["properties"]["probabilities"]["anyOf"][1] == {"type": "null"}
    said = schema["properties"]["witnesses"]["items"]
    assert set(said["properties"]) == {"name", "says", "label"}
    assert set(schema["properties"]["where"]["anyOf"][0]["properties"]) == {
        "lat", "lon", "name", "place_from", "time", "time_from"}


def test_a_new_verdict_field_reaches_the_json_and_the_schema():
    @dataclasses.dataclass(frozen=True)
    class Extended(Verdict):
        station: dict | None = None

    fields = {f.name: getattr(made(), f.name) for f in dataclasses.fields(Verdict)}
    extended = Extended(**fields, station={"pm25": 4})
    assert extended.to_dict()["station"] == {"pm25": 4}
    assert "station" in json_schema(Extended)["properties"]
