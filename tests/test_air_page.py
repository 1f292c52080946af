"""The air model on the page: what the card says of it, the line under the place form, the chart
and its words, the best times, the calendar file, and the `air` and `predict` API endpoints
against a fake Open-Meteo."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from gradio_client import Client, handle_file
from icalendar import Calendar

from airken.airmodel.openmeteo import NO_LIVE_DATA, AirSettings, OpenMeteo
from airken.airmodel.report import air_block
from airken.core import words
from airken.core.verdict import Where
from airken.web import forecast, outlook
from bench.fixtures.exif_photos import photo_with_exif

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
AIR_KEYS = {"lat", "lon", "time", "pm25", "label", "source", "hourly", "best"}


@pytest.fixture
def server(air_server):
    """The page runs in this process: it looks the air up on the fake server."""
    return air_server


@pytest.fixture
def block(server):
    return air_block(45.46, 9.19, client=OpenMeteo(AirSettings(air_url=server.air_url)))


def _said(block: dict, where: Where | None, **facts) -> list[str]:
    """What the card's witnesses say for a photo read with this air model report."""
    base = dict(probabilities=None, refusal=None, confidence=None, unsure_below=0.0, measured=False, unreliable=None,
                basis="air_model", lean=0, where=where, air_model=block, prior=None, profile=None, warnings=())
    return [w.says for w in words.witnesses(words.Facts(**(base | facts)))]


def test_what_the_card_and_the_place_line_say_of_the_air_model(block):
    here = Where(45.5, 9.2, None, "photo", block["time"], "photo")
    said, = _said(block, here)
    assert said.startswith("Air model where the photo was taken at") and "\N{MICRO SIGN}g/m" in said
    assert f"{block['pm25']:.0f} \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}" in said
    named = Where(45.5, 9.2, "Milan, Lombardy, Italy", "given", block["time"], "given")
    assert _said(block, named)[0].startswith("Air model for Milan, Lombardy, Italy at")
    assert _said(block, Where(45.5, 9.2, None, "given"))[0].startswith("Air model for 45.5, 9.2 at")
    line = forecast.place_line(block, "Milan, Lombardy, Italy")
    assert "Air model in Milan, Lombardy, Italy at" in line and line.count("<p") == 1
    assert "at your location" in forecast.place_line(block, forecast.MY_LOCATION)
    hazy = np.array([0.1, 0.2, 0.7])
    assert _said(block, here, probabilities=hazy, lean=1)[-1] == "Your photo looks hazier than that."
    assert _said(block, here, probabilities=hazy[::-1], lean=-1)[-1] == "Your photo looks cleaner than that."


def test_no_place_and_no_data_say_so_in_one_line():
    assert forecast.place_line(None, None) == ""
    line = forecast.place_line({"error": NO_LIVE_DATA}, None)
    assert NO_LIVE_DATA in line and line.count("<p") == 1
    state, chart, best, activity, ics = outlook.outlook({"error": NO_LIVE_DATA}, None)
    assert state is None and chart == "" and best == "" and activity["visible"] is False
    said, = _said({"error": NO_LIVE_DATA}, Where(45.5, 9.2, None, "given"), basis="prior", prior=(0.6, 0.25, 0.15))
    assert said.startswith(NO_LIVE_DATA) and "60% healthy, 25% moderate, 15% unhealthy" in said
    nowhere, = _said(None, None, basis="prior", prior=(0.6, 0.25, 0.15))
    assert nowhere.startswith("No place and hour known.")


def test_chart_has_a_text_alternative_a_now_marker_and_a_table(block):
    chart = forecast.air_chart(block["hourly"])
    assert 'role="img"' in chart and "<desc" in chart and "<title" in chart
    assert chart.count("<rect") == sum(h["pm25"] is not None for h in block["hourly"])
    assert chart.count("<tr>") == len(block["hourly"]) + 1
    assert ">now</text>" in chart  # the current hour is marked
    summary = forecast.chart_summary(block["hourly"])
    assert re.fullmatch(r"Now \d+ \S+ \((healthy|moderate|unhealthy)\) .+\. Lowest \d+ .+\. Highest \d+ .+\.", summary)
    assert summary.count("\N{MICRO SIGN}g/m") == 1  # the unit once
    assert f"Now {block['hourly'][0]['pm25']:.0f} " in summary and html.escape(summary) in chart
    assert "Open-Meteo.com (CC BY 4.0)" in chart and "Copernicus" in chart
    runs = forecast.chart_runs(block["hourly"])  # the class runs, in the hour-by-hour details
    assert runs in chart and runs.count("<li>") >= 1
    assert re.search(r"(Healthy|Moderate|Unhealthy): \w+ \d\d:00 to", runs)


def test_best_times_in_words(block):
    text = forecast.best_times(block)
    for name, window in block["best"].items():
        assert name.capitalize() in text
        if window:
            assert html.escape(window["advice"]) in text


def test_calendar_file_holds_the_best_window(block, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    update = outlook.calendar(block, "run", {"lat": 45.5, "lon": 9.2, "name": "Milan"})
    window = block["best"]["run"]
    if window is None:
        assert update["visible"] is False
        return
    (event,) = Calendar.from_ical(open(update["value"], "rb").read()).walk("VEVENT")
    assert event.decoded("dtstart") == datetime.fromisoformat(window["start"])
    assert event.decoded("dtend") == datetime.fromisoformat(window["end"])
    assert str(event["location"]) == "Milan" and "CC BY 4.0" in str(event["description"])
    mine = outlook.calendar(block, "run", {"lat": 45.5, "lon": 9.2, "name": forecast.MY_LOCATION})
    (event,) = Calendar.from_ical(open(mine["value"], "rb").read()).walk("VEVENT")
    assert str(event["location"]) == "45.5, 9.2"


def test_the_outlook_falls_back_to_the_sessions_place(server, block):
    place = {"lat": 45.5, "lon": 9.2, "name": "Milan"}
    server.requests.clear()
    state, chart, *_ = outlook.outlook(None, place)
    assert set(state) == AIR_KEYS and "<svg" in chart and len(server.requests) == 1
    assert outlook.outlook(None, None)[0] is None
    assert outlook.outlook(block, None)[0] == block  # a verdict's own report first


def test_place_controls(server):
    here, line = outlook.at_coordinates(27.7172, 85.324, None)
    assert (here["lat"], here["lon"]) == (27.7, 85.3) and "at your location" in line
    place, line = outlook.at_coordinates(None, None, here)
    assert place == here and outlook.NO_LOCATION in line
    found, line = outlook.at_name("Milan", None)
    assert found["name"] == "Milan, Lombardy, Italy" and (found["lat"], found["lon"]) == (45.5, 9.2)
    assert "in Milan, Lombardy, Italy at" in line
    kept, line = outlook.at_name("Atlantis", found)
    assert kept == found and "No place called" in line


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_api_air_endpoint(server, client):
    result = client.predict(latitude=45.46, longitude=9.19, api_name="/air")
    assert set(result) == AIR_KEYS and (result["lat"], result["lon"]) == (45.5, 9.2)
    named = client.predict(where="Kathmandu", api_name="/air")
    assert (named["lat"], named["lon"]) == (27.7, 85.3)
    assert set(client.predict(where="Atlantis", api_name="/air")) == {"error"}
    assert set(client.predict(api_name="/air")) == {"error"}


def test_api_predict_with_place_and_time(server, client, tmp_path):
    sky = photo_with_exif(tmp_path / "sky.jpg")  # no EXIF time or place
    plain = client.predict(handle_file(str(sky)), api_name="/predict")
    assert plain["air_model"] is None and plain["where"] is None and plain["basis"] == "prior"
    when = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%dT%H:00+00:00")
    located = client.predict(handle_file(str(sky)), latitude=45.46, longitude=9.19, time=when, api_name="/predict")
    assert set(located["air_model"]) == AIR_KEYS and located["basis"] == "air_model"  # the air model sets the level
    assert datetime.fromisoformat(located["air_model"]["time"]) == datetime.fromisoformat(when)
    assert located["where"] | {"time": None} == {"lat": 45.5, "lon": 9.2, "name": None, "place_from": "given",
                                                 "time": None, "time_from": "given"}
    assert [w["name"] for w in located["witnesses"]] == ["air_model", "photo"]


@pytest.mark.parametrize("mode", ["hang", "error500", "bad_json", "empty_hourly"])
def test_api_faults_keep_the_verdict(server, client, tmp_path, mode):
    server.mode = mode
    sky = photo_with_exif(tmp_path / "sky.jpg")
    result = client.predict(handle_file(str(sky)), latitude=45.46, longitude=9.19, api_name="/predict")
    assert result["label"] is not None and set(result["air_model"]) == {"error"} and result["basis"] == "prior"
    assert "Traceback" not in result["air_model"]["error"]


def test_switched_off_says_so(monkeypatch):
    from airken.airmodel import openmeteo
    monkeypatch.setenv("AIRKEN_AIR", "0")
    monkeypatch.setattr(openmeteo, "_default", None)
    place, line = outlook.at_coordinates(45.46, 9.19, None)
    assert openmeteo.OFF in line and outlook.outlook(None, place)[0] is None
    assert outlook.air(latitude=45.46, longitude=9.19) == {"error": openmeteo.OFF}
