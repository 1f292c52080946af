"""The air model: Open-Meteo's JSON (against a fake server on 127.0.0.1), rounding, the cache,
every fault as one plain line, old photos, the level it sets for a photo's verdict and the plan."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from airken.airmodel.openmeteo import BUSY, NO_LIVE_DATA, OFF, AirError, AirSettings, OpenMeteo, round_place
from airken.airmodel.planner import ACTIVITIES, best_windows, sun_elevation
from airken.airmodel.report import AirReport, air_block, air_report, parse_time
from airken.core.classes import LABELS, class_for_pm25
from airken.core.predictor import Predictor, get_predictor
from airken.core.prior import WORLD_PRIOR
from airken.core.witnesses import air_model_shares, combine
from bench.fixtures.exif_photos import photo_with_exif
from bench.fixtures.openmeteo_server import FakeOpenMeteo, daily_cycle

REPORT_KEYS = {"lat", "lon", "time", "pm25", "label", "source", "hourly", "best"}
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
def server(air_server):
    return air_server


def client_for(server: FakeOpenMeteo, clock=None, **settings) -> OpenMeteo:
    settings = {"air_url": server.air_url, "geocode_url": server.geocode_url, "read_timeout_s": 0.3,
                "connect_timeout_s": 0.3, **settings}
    return OpenMeteo(AirSettings(**settings), **({"clock": clock} if clock else {}))


def reading_with(client: OpenMeteo) -> Predictor:
    """The bundled model whose air model is asked through ``client``."""
    base = get_predictor()
    return Predictor(base.model, base.source, base.limits, base.metrics,
                     lookup=lambda lat, lon, hour: air_block(lat, lon, hour, client=client))


def test_report_has_the_documented_shape_and_asks_for_the_rounded_place(server):
    block = air_block(45.4642, 9.1895, client=client_for(server))
    assert set(block) == REPORT_KEYS
    assert (block["lat"], block["lon"]) == (45.5, 9.2)
    assert block["label"] == class_for_pm25(block["pm25"]).name
    assert len(block["hourly"]) == 48
    assert all(set(h) == {"time", "pm25", "label"} for h in block["hourly"])
    assert set(block["best"]) == {a.name for a in ACTIVITIES}
    (path, query), = server.requests
    assert path == "/v1/air-quality"
    assert (query["latitude"], query["longitude"]) == ("45.5", "9.2")
    assert query["hourly"] == "pm2_5" and query["timezone"] == "auto" and query["domains"] == "auto"


def test_the_value_is_the_models_for_that_hour(server):
    when = datetime.now(timezone.utc).replace(minute=20, second=0, microsecond=0)
    report = air_report(45.46, 9.19, when, client=client_for(server))
    assert report.time == when.replace(minute=0).astimezone(ROME)
    assert report.pm25 == daily_cycle(when.replace(minute=0), 45.5, 9.2)


def test_cache_per_rounded_place_and_hour(server):
    now = [1_800_000_000.0]
    client = client_for(server, clock=lambda: now[0])
    air_report(45.46, 9.19, client=client)
    air_report(45.54, 9.24, client=client)  # the same 0.1° cell
    assert len(server.requests) == 1
    air_report(45.66, 9.19, client=client)  # the next cell north
    assert len(server.requests) == 2
    now[0] += 3600  # the next hour: fresh data
    air_report(45.46, 9.19, client=client)
    assert len(server.requests) == 3


@pytest.mark.parametrize("mode", ["hang", "error500", "bad_json", "empty_hourly"])
def test_every_fault_is_one_plain_line(server, mode):
    server.mode = mode
    block = air_block(45.46, 9.19, client=client_for(server))
    assert set(block) == {"error"}
    message = block["error"]
    assert message and "\n" not in message and "Traceback" not in message and len(message) < 200


def test_a_hanging_service_is_left_alone_for_a_while(server):
    server.mode = "hang"
    client = client_for(server)
    first = air_block(45.46, 9.19, client=client)
    assert "did not answer" in first["error"]
    assert air_block(45.46, 9.19, client=client) == {"error": NO_LIVE_DATA}
    assert len(server.requests) == 1  # the second answer came without asking


def test_a_busy_service_is_no_live_data_and_left_alone_for_a_while(server, tmp_path):
    """HTTP 429 (the free tier's daily limit): no live data, and nothing asked for the retry period."""
    now = [1_800_000_000.0]
    client = client_for(server, clock=lambda: now[0], retry_after_s=60.0)
    server.mode = "busy"
    assert air_block(45.46, 9.19, client=client) == {"error": BUSY} and BUSY.startswith("No live air data")
    server.mode = "normal"
    now[0] += 59
    assert air_block(45.46, 9.19, client=client)["error"].startswith("No live air data")
    assert len(server.requests) == 1  # left alone: the second answer came without asking
    now[0] += 2
    assert "pm25" in air_block(45.46, 9.19, client=client) and len(server.requests) == 2
    server.mode = "busy"
    photo = photo_with_exif(tmp_path / "sky.jpg", when=datetime(2025, 3, 14, 12), lat=45.2, lon=9.6)
    v = reading_with(client_for(server)).predict(photo)
    assert v.label in LABELS and v.air_model == {"error": BUSY} and v.basis == "prior"
    assert v.witnesses[0].says.startswith(BUSY)


def test_no_network_means_no_live_data_at_once():
    client = OpenMeteo(AirSettings(air_url="http://127.0.0.1:9/v1/air-quality", connect_timeout_s=0.3))
    assert air_block(45.46, 9.19, client=client) == {"error": NO_LIVE_DATA}


def test_refused_request_says_the_services_reason(server):
    block = air_block(45.46, 9.19, "2010-06-01T12:00", client=client_for(server))
    assert block["error"].startswith("The air-quality service refused the request: Parameter 'start_date'")


def test_switched_off_asks_nothing(server, tmp_path, monkeypatch):
    client = client_for(server, enabled=False)
    assert air_block(45.46, 9.19, client=client) == {"error": OFF}
    photo = photo_with_exif(tmp_path / "sky.jpg", when=datetime(2025, 3, 14, 12), lat=45.46, lon=9.19)
    monkeypatch.setenv("AIRKEN_AIR", "0")
    v = get_predictor().predict(photo)
    assert v.air_model == {"error": OFF} and v.basis == "prior" and v.where.place_from == "photo"
    assert server.requests == []


def test_photo_taken_three_days_ago(server):
    local = (datetime.now(ROME) - timedelta(days=3)).replace(hour=14, minute=5, second=0, microsecond=0)
    report = air_report(45.46, 9.19, local.replace(tzinfo=None), client=client_for(server))
    assert report.time == local.replace(minute=0)
    assert report.pm25 == daily_cycle(local.replace(minute=0).astimezone(timezone.utc), 45.5, 9.2)
    assert int(server.requests[0][1]["past_days"]) >= 4
    assert len(report.hourly) == 48 and report.hourly[0][0] > local  # the plan is still the next two days


def test_old_photo_comes_from_the_archive(server):
    when = datetime(2024, 2, 10, 11, 0, tzinfo=timezone.utc)
    report = air_report(45.46, 9.19, when, client=client_for(server))
    assert report.time == when.astimezone(ROME)
    archive = [q for _, q in server.requests if "start_date" in q]
    assert len(archive) == 1 and (archive[0]["start_date"], archive[0]["end_date"]) == ("2024-02-09", "2024-02-11")


def test_aware_time_is_converted_to_the_places_clock(server):
    when = (datetime.now(timezone.utc) - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    report = air_report(45.46, 9.19, when, client=client_for(server))
    assert report.time == when and report.time.tzinfo == ROME


def test_places_are_never_logged(server, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(server)
    air_report(45.4642, 9.1895, client=client)
    client.geocode("Milan")
    server.mode = "hang"
    air_block(12.3456, 65.4321, client=client_for(server))
    for number in ("45.4", "45.5", "9.18", "9.2", "12.3", "65.4"):
        assert number not in caplog.text


def test_geocoding(server):
    client = client_for(server)
    place = client.geocode("  Milan ")
    assert (place.name, place.lat, place.lon) == ("Milan, Lombardy, Italy", 45.5, 9.2)
    with pytest.raises(AirError, match="No place called"):
        client.geocode("Atlantis")
    with pytest.raises(AirError, match="Type the name"):
        client.geocode("   ")
    assert server.requests[0][1]["name"] == "Milan"


@pytest.mark.parametrize("lat, lon, words", [("abc", 9, "numbers"), (91, 9, "Latitude"), (45, -181, "Longitude"),
                                             (float("nan"), 9, "Latitude")])
def test_bad_coordinates(lat, lon, words):
    with pytest.raises(AirError, match=words):
        round_place(lat, lon)


def test_rounding_never_gives_minus_zero():
    assert round_place(-0.04, -0.04) == (0.0, 0.0)
    assert str(round_place(-0.04, 12.349)) == "(0.0, 12.3)"


def test_parse_time():
    assert parse_time("2025-05-01T14:00") == datetime(2025, 5, 1, 14)
    assert parse_time("2025-05-01T14:00Z") == datetime(2025, 5, 1, 14, tzinfo=timezone.utc)
    assert parse_time("2025-05-01T14:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_time("") is None and parse_time(None) is None
    with pytest.raises(AirError, match="ISO 8601"):
        parse_time("yesterday")


def test_class_shares_follow_the_modelled_value():
    for pm25 in (3, 10, 29, 30, 42, 54, 80, 300):
        shares = air_model_shares(pm25, 0.6)
        assert shares.sum() == pytest.approx(1.0) and shares.min() >= 0.019
        assert LABELS[int(shares.argmax())] == class_for_pm25(pm25).name or pm25 in (29, 30, 54)
    assert air_model_shares(10, 0.6)[0] > air_model_shares(25, 0.6)[0] > air_model_shares(40, 0.6)[0]
    assert air_model_shares(42, 0.3)[1] > air_model_shares(42, 0.9)[1]  # a sharper model, a sharper level


def test_sun_elevation():
    noon = datetime(2025, 6, 21, 11, 15, tzinfo=timezone.utc)  # solar noon in Milan
    assert sun_elevation(45.46, 9.19, noon) == pytest.approx(90 - 45.46 + 23.44, abs=1.0)
    assert sun_elevation(45.46, 9.19, noon + timedelta(hours=12)) < -15


def _series(start: datetime, values: list[float]) -> list[tuple[datetime, float | None]]:
    return [(start + timedelta(hours=h), v) for h, v in enumerate(values)]


def test_best_windows_are_in_daylight_and_in_the_lowest_class():
    start = datetime(2025, 6, 21, 0, 0, tzinfo=ROME)
    values = [5.0] * 5 + [60.0] * 12 + [40.0, 20.0, 20.0] + [60.0] * 4  # clean at night, clean at 18-19
    best = best_windows(_series(start, values), 45.46, 9.19)
    run = best["run"]
    assert run.start.hour == 18 and run.label == "healthy" and run.advice == class_for_pm25(20).plan["run"]
    children = best["children playing outside"]
    assert (children.start.hour, children.end.hour) == (18, 20)


def test_soonest_window_among_nearly_equal_ones():
    start = datetime(2025, 6, 21, 0, 0, tzinfo=ROME)
    best = best_windows(_series(start, [12.0] * 10 + [11.0] * 14), 45.46, 9.19)
    assert best["run"].start.hour == 6  # the first daylight hour (sunrise 05:35): 11 at 10:00 is not worth the wait


def test_no_window_in_polar_night():
    start = datetime(2025, 12, 21, 0, 0, tzinfo=timezone.utc)
    assert all(w is None for w in best_windows(_series(start, [10.0] * 48), 78.2, 15.6).values())


def test_predict_reads_the_photo_once_and_adds_the_air_model(server, tmp_path, monkeypatch):
    import airken.core.predictor

    calls = []
    real = airken.core.predictor.read_photo
    monkeypatch.setattr(airken.core.predictor, "read_photo", lambda *a, **k: calls.append(1) or real(*a, **k))
    when = datetime.now(ROME).replace(minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(hours=2)
    photo = photo_with_exif(tmp_path / "sky.heic", when=when, lat=45.4642, lon=9.1895)
    v = reading_with(client_for(server)).predict(photo)
    assert len(calls) == 1
    assert set(v.air_model) == REPORT_KEYS and v.air_model["time"].startswith(when.isoformat(timespec="minutes"))
    assert v.label in LABELS and v.basis == "air_model" and v.to_dict()["air_model"]["pm25"] == v.air_model["pm25"]
    assert (v.where.lat, v.where.lon, v.where.place_from, v.where.time_from) == (45.5, 9.2, "photo", "photo")
    assert v.where.time == v.air_model["time"]  # the hour the air model answered for
    assert set(v.timings_ms) == {"decode", "air_model", "checks", "model", "total"}


def test_predict_without_a_place_asks_nothing(server, tmp_path):
    reader = reading_with(client_for(server))
    plain = photo_with_exif(tmp_path / "plain.jpg")
    v = reader.predict(plain)
    assert v.air_model is None and v.where is None and v.basis == "prior" and server.requests == []
    given = reader.predict(plain, latitude="27.7", longitude="85.32", place_name="Kathmandu")
    assert (given.air_model["lat"], given.air_model["lon"]) == (27.7, 85.3)
    assert (given.where.name, given.where.place_from, given.where.time_from) == ("Kathmandu", "given", "now")
    assert "for Kathmandu at" in given.witnesses[0].says


def test_a_bad_place_is_refused_before_anything_is_asked(server, tmp_path):
    photo = photo_with_exif(tmp_path / "sky.jpg")
    with pytest.raises(AirError, match="Latitude must be between -90 and 90."):
        reading_with(client_for(server)).predict(photo, latitude=123, longitude=9)
    assert server.requests == []


def test_the_modelled_value_sets_the_level_unless_switched_off(server, tmp_path, monkeypatch):
    when = datetime.now(timezone.utc) - timedelta(hours=1)
    photo = photo_with_exif(tmp_path / "sky.jpg", when=when.replace(tzinfo=None), offset="+00:00",
                            lat=45.46, lon=9.19)
    reader = reading_with(client_for(server))
    on, alone = reader.predict(photo), reader.predict(photo, prior="train")  # alone: the photo model's own shares
    evidence = np.array([alone.probabilities[c] for c in LABELS])

    def combined(sigma: float) -> np.ndarray:
        level = air_model_shares(on.air_model["pm25"], sigma)
        return combine(level, evidence, reader.train_prior, reader.rule.weight("air_model"))

    assert on.basis == "air_model" and on.prior is None
    assert [on.probabilities[c] for c in LABELS] == pytest.approx(combined(reader.air_model_sigma()), abs=2e-3)
    monkeypatch.setenv("AIRKEN_AIR_PRIOR_SIGMA", "0.3")
    sharp = reader.predict(photo)
    assert [sharp.probabilities[c] for c in LABELS] == pytest.approx(combined(0.3), abs=2e-3)
    monkeypatch.setenv("AIRKEN_AIR_PRIOR", "0")
    off = reader.predict(photo)
    assert off.basis == "prior" and off.prior == pytest.approx(dict(zip(LABELS, WORLD_PRIOR, strict=True)))
    assert off.air_model == on.air_model and off.witnesses[0].name == "air_model"


def test_report_round_trips_through_json(server):
    report = air_report(45.46, 9.19, client=client_for(server))
    assert isinstance(report, AirReport)
    best = report.to_dict()["best"]["run"]
    assert best is None or (datetime.fromisoformat(best["start"]) < datetime.fromisoformat(best["end"]))


def test_a_failing_lookup_never_costs_the_reading(server, tmp_path, monkeypatch, caplog):
    """A bug in the lookup (not a network fault) is logged with its traceback; the photo's
    verdict comes back with one plain line in its air block."""
    import airken.airmodel.report

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(airken.airmodel.report, "air_report", broken)
    photo = photo_with_exif(tmp_path / "sky.jpg", when=datetime(2025, 3, 14, 12), lat=45.46, lon=9.19)
    with caplog.at_level(logging.ERROR, logger="airken.airmodel.report"):
        v = get_predictor().predict(photo)
    assert v.label in LABELS and v.air_model == {"error": airken.airmodel.report.LOOKUP_FAILED}
    assert v.basis == "prior" and v.witnesses[0].says.startswith(airken.airmodel.report.LOOKUP_FAILED)
    assert "internal detail" in caplog.text and "internal detail" not in str(v.to_dict())
