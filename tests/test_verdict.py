"""The one predict path: the Verdict's JSON says exactly what the page shows, the place and
hour come from the photo's EXIF before the caller's, the air model sets the level (unless
switched off, failed or overruled by a prior), and a bad place or time is refused before the
photo is read. The air model here is a fake lookup (tests/verdicts.py)."""
from __future__ import annotations

import dataclasses
import html
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from verdicts import FakeLookup, clean_profile, neutral, report, with_lookup

from airken.airmodel.openmeteo import NO_LIVE_DATA, AirError
from airken.core.classes import CLASSES, LABELS, NEUTRAL_COLOUR
from airken.core.prior import WORLD_PRIOR, BadPrior
from airken.core.profiles import BadProfile
from airken.core.rule import VerdictRule
from airken.core.verdict import Verdict, Where
from airken.core.witnesses import air_model_shares
from airken.core.words import UNSURE_HEADLINE, UNSURE_PLAN
from airken.web import card, handlers
from bench.fixtures.exif_photos import photo_with_exif

SKY = Path(__file__).resolve().parents[1] / "assets" / "examples" / "clear-mountains-picos-de-europa.jpg"
MILAN = dict(latitude=45.46, longitude=9.19, place_name="Milan")
WORLD = dict(zip(LABELS, WORLD_PRIOR, strict=True))


def _page(predictor) -> handlers.ReadTab:
    """The read tab, its components named by themselves: what it shows is keyed by those names."""
    names = [f.name for f in dataclasses.fields(handlers.ReadTab) if f.name != "predictor"]
    return handlers.ReadTab(predictor, **{n: n for n in names})


def _json_says_what_the_page_shows(v: Verdict, predictor) -> dict:
    """Every word of the JSON is on the card or in the plan, escaped; the page's raw JSON is it."""
    data = v.to_dict()
    shown, plan = card.verdict_card(v), card.plan_html(v)
    said = [data["headline"], data["advice"], *(w["says"] for w in data["witnesses"])]
    for text in said + ([data["unsure_reason"]] if data["unsure"] else []):
        assert html.escape(text, quote=True) in shown, text
    for activity, todo in data["plan"].items():
        assert html.escape(activity.capitalize()) in plan and html.escape(todo, quote=True) in plan
    assert data["colour"] in shown and data["colour"] in plan
    assert _page(predictor).shown(v, None)["raw"] == data
    return data


def test_a_sure_verdicts_json_carries_the_words_its_card_shows(monkeypatch):
    p = with_lookup(FakeLookup(report(8)))
    neutral(p, monkeypatch)
    v = p.predict(SKY, **MILAN)
    assert not v.unsure and v.label == "healthy" and v.basis == "air_model"
    data = _json_says_what_the_page_shows(v, p)
    assert data["headline"] == CLASSES[0].headline and data["plan"] == CLASSES[0].plan
    assert data["unsure_reason"] is None and data["colour"] == CLASSES[0].colour
    assert json.loads(json.dumps(data)) == data  # JSON as it is


def test_an_unsure_verdicts_json_is_neutral_and_gentle(monkeypatch):
    p = with_lookup(FakeLookup(report(8)))
    neutral(p, monkeypatch)
    monkeypatch.setattr(p, "rule", VerdictRule.from_metrics({"calibration": {"uncertain_below": 1.0}}))
    v = p.predict(SKY, **MILAN)
    assert v.unsure and v.label == "healthy"  # it still leans to a band
    data = _json_says_what_the_page_shows(v, p)
    assert (data["headline"], data["colour"], data["plan"]) == (UNSURE_HEADLINE, NEUTRAL_COLOUR, UNSURE_PLAN)
    assert data["unsure_reason"].startswith("Its confidence (") and "under the unsure line" in data["unsure_reason"]
    assert "leans to healthy" in data["advice"]
    words = json.dumps(data, ensure_ascii=False) + card.verdict_card(v) + card.plan_html(v)
    assert "Healthy air" not in words and "No limits." not in words and CLASSES[0].colour not in words


def test_a_refused_photo_says_why_and_nothing_else():
    v = with_lookup(FakeLookup(report(8))).predict(SKY.with_name("night-rocket-launch.jpg"))
    data = v.to_dict()
    assert data["label"] is None and data["plan"] == {} and data["colour"] == NEUTRAL_COLOUR
    assert data["advice"] == "This looks like a night or twilight photo: take it in daylight."
    assert html.escape(data["advice"], quote=True) in card.verdict_card(v) and card.plan_html(v) == ""


# ---------------------------------------------------------------- the place and the hour


def test_a_photo_with_its_own_place_and_hour_uses_them(tmp_path):
    lookup = FakeLookup(report(20))
    photo = photo_with_exif(tmp_path / "own.jpg", when=datetime(2026, 3, 14, 12, 5), offset="+01:00",
                            lat=45.46, lon=9.19)
    v = with_lookup(lookup).predict(photo, latitude=27.7, longitude=85.3, place_name="Kathmandu",
                                    time="2026-01-01T09:00")
    taken = datetime(2026, 3, 14, 12, 5, tzinfo=timezone(timedelta(hours=1)))
    assert lookup.calls == [(45.5, 9.2, taken)]
    assert v.where == Where(45.5, 9.2, None, "photo", "2026-03-14T12:05+01:00", "photo")
    assert v.witnesses[0].says.startswith("Air model where the photo was taken at 12:05")


def test_a_photo_without_them_uses_the_callers_or_now(tmp_path):
    lookup = FakeLookup(report(20))
    reader = with_lookup(lookup)
    plain = photo_with_exif(tmp_path / "plain.jpg")
    given = reader.predict(plain, latitude=27.71, longitude=85.32, place_name="Kathmandu",
                           time="2026-01-01T09:00+05:45")
    assert given.where == Where(27.7, 85.3, "Kathmandu", "given", "2026-01-01T09:00+05:45", "given")
    assert given.witnesses[0].says.startswith("Air model for Kathmandu at 09:00")
    before = datetime.now(timezone.utc)
    now = reader.predict(plain, latitude=27.71, longitude=85.32)
    (lat, lon, hour) = lookup.calls[-1]
    assert (now.where.place_from, now.where.time_from, now.where.name) == ("given", "now", None)
    assert (lat, lon) == (27.7, 85.3) and before <= hour <= datetime.now(timezone.utc)
    assert "for 27.7, 85.3 at" in now.witnesses[0].says
    timed = photo_with_exif(tmp_path / "timed.jpg", when=datetime(2026, 3, 14, 12, 5), offset="+01:00")
    mixed = reader.predict(timed, latitude=27.71, longitude=85.32, time="2026-01-01T09:00")
    assert (mixed.where.place_from, mixed.where.time_from) == ("given", "photo")  # each fact from its best witness
    located = photo_with_exif(tmp_path / "located.jpg", lat=45.46, lon=9.19)
    assert reader.predict(located, time="2026-01-01T09:00").where.time_from == "given"
    assert reader.predict(plain).where is None and len(lookup.calls) == 4  # nowhere: nothing asked


def test_the_air_model_sets_the_level(monkeypatch):
    p = with_lookup(FakeLookup(report(80)))
    neutral(p, monkeypatch)  # the photo says nothing: the verdict is the level
    level = air_model_shares(80, p.air_model_sigma())
    assert level[2] > 0.7
    v = p.predict(SKY, **MILAN)
    assert v.basis == "air_model" and v.label == "danger" and v.prior is None
    assert [v.probabilities[c] for c in LABELS] == pytest.approx(level, abs=1e-3)
    assert [(w.name, w.label) for w in v.witnesses] == [("air_model", "danger"), ("photo", "danger")]
    assert "80 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE} (unhealthy)" in v.witnesses[0].says
    assert v.witnesses[1].says == "Your photo shows nothing that changes it."


def test_switched_off_the_air_model_is_shown_but_the_prior_sets_the_level(monkeypatch):
    monkeypatch.setenv("AIRKEN_AIR_PRIOR", "0")
    p = with_lookup(FakeLookup(report(80)))
    neutral(p, monkeypatch)
    v = p.predict(SKY, **MILAN)
    assert v.basis == "prior" and v.prior == pytest.approx(WORLD) and v.label == "healthy"
    assert [w.name for w in v.witnesses] == ["air_model", "prior", "photo"]
    assert "80 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}" in v.witnesses[0].says and v.air_model["pm25"] == 80


def test_no_live_data_reads_the_photo_against_the_world_prior(monkeypatch):
    p = with_lookup(FakeLookup({"error": NO_LIVE_DATA}))
    neutral(p, monkeypatch)
    v = p.predict(SKY, **MILAN)
    assert v.basis == "prior" and v.air_model == {"error": NO_LIVE_DATA} and v.prior == pytest.approx(WORLD)
    assert [v.probabilities[c] for c in LABELS] == pytest.approx(WORLD_PRIOR, abs=1e-3)
    said = v.witnesses[0]
    assert said.name == "prior" and said.says.startswith(NO_LIVE_DATA)
    assert "against a prior of 60% healthy, 25% moderate, 15% unhealthy" in said.says
    assert v.where.place_from == "given" and v.where.time_from == "now"


def test_an_explicit_prior_wins_over_the_air_model(monkeypatch):
    p = with_lookup(FakeLookup(report(80)))
    neutral(p, monkeypatch)
    clean = p.predict(SKY, prior=(0.9, 0.05, 0.05), **MILAN)
    assert clean.basis == "prior" and clean.label == "healthy" and clean.prior == pytest.approx(
        {"healthy": 0.9, "moderate": 0.05, "danger": 0.05})
    assert [w.name for w in clean.witnesses] == ["air_model", "prior", "photo"]  # the air model, still shown
    world = p.predict(SKY, prior="world", **MILAN)
    assert world.prior == pytest.approx(WORLD)
    alone = p.predict(SKY, prior="train", **MILAN)  # the photo model's own shares, no level
    assert alone.basis == "prior" and alone.prior is None
    assert [alone.probabilities[c] for c in LABELS] == pytest.approx(p.train_prior, abs=1e-3)


def test_a_calibration_profile_reads_the_photo_as_that_camera(monkeypatch):
    p = with_lookup(FakeLookup(report(80)))
    neutral(p, monkeypatch)
    clean = clean_profile()
    v = p.predict(SKY, profile=clean, **MILAN)
    assert v.basis == "profile" and v.profile == "rooftop" and v.label == "healthy" and v.prior is None
    assert [w.name for w in v.witnesses] == ["air_model", "profile", "photo"]  # the air model still sets the level
    assert "'rooftop' (5 readings" in v.witnesses[1].says
    monkeypatch.setenv("AIRKEN_PROFILE", clean.to_json())  # the app's default profile
    assert p.predict(SKY).profile == "rooftop"
    assert p.predict(SKY, profile="").profile is None  # "": not even the default


# ---------------------------------------------------------------- refused before reading


@pytest.mark.parametrize("where, words", [
    (dict(latitude=123, longitude=9), "Latitude must be between -90 and 90."),
    (dict(latitude=45, longitude=200), "Longitude must be between"),
    (dict(latitude=45, longitude=None), "must be numbers"),
    (dict(latitude="north", longitude=9), "must be numbers"),
    (dict(time="yesterday"), "ISO 8601"),
    (dict(latitude=45, longitude=9, time="14h"), "ISO 8601"),
])
def test_a_bad_place_or_time_is_refused_before_the_photo_is_read(monkeypatch, where, words):
    import airken.core.predictor

    read: list[object] = []
    monkeypatch.setattr(airken.core.predictor, "read_photo", lambda *a, **k: read.append(a))
    lookup = FakeLookup(report(10))
    with pytest.raises(AirError, match=words):
        with_lookup(lookup).predict(b"not even a photo", **where)
    assert read == [] and lookup.calls == []


def test_a_bad_prior_or_profile_is_refused_before_the_photo_is_read(monkeypatch, tmp_path):
    import airken.core.predictor

    monkeypatch.setenv("AIRKEN_PROFILES_DIR", str(tmp_path))
    read: list[object] = []
    monkeypatch.setattr(airken.core.predictor, "read_photo", lambda *a, **k: read.append(a))
    p = with_lookup(FakeLookup(report(10)))
    with pytest.raises(BadPrior):
        p.predict(b"x", prior="1,2")
    with pytest.raises(BadProfile, match="nowhere"):
        p.predict(b"x", profile="nowhere")
    assert read == []


def test_the_verdict_is_immutable():
    v = with_lookup(FakeLookup(report(8))).predict(SKY, **MILAN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.label = "danger"  # type: ignore[misc]
    with pytest.raises(TypeError):
        v.probabilities["healthy"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        v.air_model["pm25"] = 1.0  # type: ignore[index]
    data = v.to_dict()
    data["plan"]["run"] = "changed"
    assert v.plan["run"] != "changed"  # a caller's copy, not the verdict's own
