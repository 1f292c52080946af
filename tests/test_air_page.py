"""The page's air panel: the line beside the verdict, the chart and its words, the best times,
the calendar file, and the `air` and `predict` API endpoints against a fake Open-Meteo."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from gradio_client import Client, handle_file
from icalendar import Calendar

from airken.airmodel.openmeteo import NO_LIVE_DATA, AirSettings, OpenMeteo
from airken.airmodel.report import air_block
from airken.web import panel as air_panel
from airken.web import render
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


def test_the_line_beside_the_verdict(block):
    reading = {"label": "danger", "air": block}
    line = render.air_line(block, reading, None)
    assert "Modelled PM2.5 where the photo was taken at" in line and "g/m" in line
    if block["label"] != "danger":
        assert "hazier than the model" in line
    assert render.air_line(block, {"label": block["label"]}, None).count("ak-more") == 0
    named = render.air_line(block, None, {"lat": 45.5, "lon": 9.2, "name": "Milan, Lombardy, Italy"})
    assert "in Milan, Lombardy, Italy at" in named


def test_no_place_and_no_data_say_so_in_one_line():
    assert render.NO_PLACE in render.air_line(None, None, None)
    line = render.air_line({"error": NO_LIVE_DATA}, None, None)
    assert NO_LIVE_DATA in line and line.count("<p") == 1
    state, line, chart, best, activity, ics = air_panel._render({"error": NO_LIVE_DATA}, None, None)
    assert state is None and chart == "" and best == ""


def test_chart_has_a_text_alternative_and_a_table(block):
    chart = render.air_chart(block["hourly"])
    assert 'role="img"' in chart and "<desc" in chart and "<title" in chart
    assert chart.count("<rect") == sum(h["pm25"] is not None for h in block["hourly"])
    assert chart.count("<tr>") == len(block["hourly"]) + 1
    summary = render.chart_summary(block["hourly"])
    assert summary[0].isupper() and set(re.findall(r"(healthy|moderate|danger) from", summary.lower())) <= {
        "healthy", "moderate", "danger"}
    assert "Open-Meteo.com (CC BY 4.0)" in chart and "Copernicus" in chart


def test_best_times_in_words(block):
    text = render.best_times(block)
    for name, window in block["best"].items():
        assert name.capitalize() in text
        if window:
            assert window["advice"] in text


def test_calendar_file_holds_the_best_window(block, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    update = air_panel._calendar(block, "run", {"lat": 45.5, "lon": 9.2, "name": "Milan"})
    window = block["best"]["run"]
    if window is None:
        assert update["visible"] is False
        return
    (event,) = Calendar.from_ical(open(update["value"], "rb").read()).walk("VEVENT")
    assert event.decoded("dtstart") == datetime.fromisoformat(window["start"])
    assert event.decoded("dtend") == datetime.fromisoformat(window["end"])
    assert str(event["location"]) == "Milan" and "CC BY 4.0" in str(event["description"])
    mine = air_panel._calendar(block, "run", {"lat": 45.5, "lon": 9.2, "name": air_panel.MY_LOCATION})
    (event,) = Calendar.from_ical(open(mine["value"], "rb").read()).walk("VEVENT")
    assert str(event["location"]) == "45.5, 9.2"


def test_show_falls_back_to_the_sessions_place(server):
    place = {"lat": 45.5, "lon": 9.2, "name": "Milan"}
    state, line, chart, *_ = air_panel._show({"label": "healthy", "air": None}, place)
    assert set(state) == AIR_KEYS and "in Milan" in line and "<svg" in chart
    assert air_panel._show(None, None)[0] is None


def test_place_controls(server):
    here, town, state, line, *_ = air_panel._at_coordinates(27.7172, 85.324, None, None)
    assert (here["lat"], here["lon"]) == (27.7, 85.3) and "at your location" in line
    place, _, state, line, *_ = air_panel._at_coordinates(None, None, None, here)
    assert place == here and air_panel.NO_LOCATION in line
    found, name, state, line, *_ = air_panel._at_name("Milan", None, None)
    assert name == "Milan, Lombardy, Italy" and (found["lat"], found["lon"]) == (45.5, 9.2)
    kept, _, _, line, *_ = air_panel._at_name("Atlantis", None, found)
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
    assert plain["air"] is None
    when = (datetime.now(timezone.utc) - timedelta(days=3)).strftime("%Y-%m-%dT%H:00+00:00")
    located = client.predict(handle_file(str(sky)), latitude=45.46, longitude=9.19, time=when, api_name="/predict")
    assert set(located["air"]) == AIR_KEYS
    assert datetime.fromisoformat(located["air"]["time"]) == datetime.fromisoformat(when)
    assert located["label"] == plain["label"]  # the prior is off by default


@pytest.mark.parametrize("mode", ["hang", "error500", "bad_json", "empty_hourly"])
def test_api_faults_keep_the_verdict(server, client, tmp_path, mode):
    server.mode = mode
    sky = photo_with_exif(tmp_path / "sky.jpg")
    result = client.predict(handle_file(str(sky)), latitude=45.46, longitude=9.19, api_name="/predict")
    assert result["label"] is not None and set(result["air"]) == {"error"}
    assert "Traceback" not in result["air"]["error"]


def test_switched_off_says_so(monkeypatch):
    from airken.airmodel import openmeteo
    monkeypatch.setenv("AIRKEN_AIR", "0")
    monkeypatch.setattr(openmeteo, "_default", None)
    assert openmeteo.OFF in air_panel._render(None, None, None)[1]
    assert air_panel.air(latitude=45.46, longitude=9.19) == {"error": openmeteo.OFF}
