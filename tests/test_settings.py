"""airken.settings: every AIRKEN_* variable parsed in one place, with one rule for bad values."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from airken import settings
from airken.core.intake import IntakeLimits
from airken.core.model import default_threads


@pytest.fixture(autouse=True)
def no_airken_env(monkeypatch):
    """Other test modules set AIRKEN_HUB=0 and more at import: start from none."""
    for name in [n for n in os.environ if n.startswith("AIRKEN_")]:
        monkeypatch.delenv(name)


def test_defaults_without_the_environment():
    assert settings.current() == settings.DEFAULTS


def test_values_are_parsed_to_their_types(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRKEN_MAX_BYTES", "5e6")
    monkeypatch.setenv("AIRKEN_HUB", "off")
    monkeypatch.setenv("AIRKEN_HUB_TIMEOUT", "0.5")
    monkeypatch.setenv("AIRKEN_MODEL_PATH", str(tmp_path / "m.tflite"))
    monkeypatch.setenv("AIRKEN_THREADS", "3")
    monkeypatch.setenv("AIRKEN_LOG_LEVEL", "debug")
    s = settings.current()
    assert s.max_bytes == 5_000_000 and s.hub is False and s.hub_timeout_s == 0.5
    assert s.model_path == Path(tmp_path / "m.tflite") and s.log_level == "DEBUG"
    assert IntakeLimits.from_env().max_bytes == 5_000_000 and default_threads() == 3


def test_air_and_donation_settings_live_here_too(monkeypatch, tmp_path):
    from airken.airmodel.donate import DonateSettings
    from airken.airmodel.openmeteo import AirSettings

    monkeypatch.setenv("AIRKEN_AIR", "off")
    monkeypatch.setenv("AIRKEN_AIR_URL", "http://127.0.0.1:1/v1/air-quality")
    monkeypatch.setenv("AIRKEN_AIR_READ_TIMEOUT", "0.5")
    monkeypatch.setenv("AIRKEN_AIR_PRIOR", "no")
    monkeypatch.setenv("AIRKEN_AIR_PRIOR_SIGMA", "0.4")
    monkeypatch.setenv("AIRKEN_PROFILE", "balcony")
    monkeypatch.setenv("AIRKEN_DONATE_REPO", "me/photos")
    monkeypatch.setenv("AIRKEN_DONATE_DIR", str(tmp_path))
    monkeypatch.setenv("AIRKEN_DONATE_PER_SESSION", "3")
    s = settings.current()
    assert s.air is False and s.air_read_timeout_s == 0.5 and s.donate_per_session == 3
    assert (s.air_prior, s.air_prior_sigma, s.profile) == (False, 0.4, "balcony")
    # By default the air model sets the level, with the error the model's verdict rule gives it.
    assert (settings.DEFAULTS.air_prior, settings.DEFAULTS.air_prior_sigma) == (True, None)
    air = AirSettings.from_env()
    assert (air.enabled, air.air_url, air.read_timeout_s) == (False, "http://127.0.0.1:1/v1/air-quality", 0.5)
    assert air.geocode_url == settings.DEFAULTS.geocode_url and air.connect_timeout_s == 2.0
    donate = DonateSettings.from_env()
    assert (donate.repo, donate.folder, donate.per_session, donate.every_min) == ("me/photos", tmp_path, 3, 5.0)


@pytest.mark.parametrize("name,raw", [("AIRKEN_MAX_BYTES", "lots"), ("AIRKEN_CONCURRENCY", "-2"),
                                      ("AIRKEN_HUB", "maybe"), ("AIRKEN_HUB_DEADLINE", "0"),
                                      ("AIRKEN_TEMP_MAX_AGE_S", "soon"), ("AIRKEN_LOG_LEVEL", "LOUD"),
                                      ("AIRKEN_THREADS", "two"), ("AIRKEN_AIR", "maybe"),
                                      ("AIRKEN_AIR_READ_TIMEOUT", "inf"), ("AIRKEN_AIR_PRIOR_SIGMA", "-1"),
                                      ("AIRKEN_DONATE_PER_SESSION", "0"), ("AIRKEN_DONATE_EVERY_MIN", "soon"),
                                      ("AIRKEN_HPUS", "eight"), ("AIRKEN_HPUS", "-1"),
                                      ("AIRKEN_HPU_BASE_PORT", "port")])
def test_a_bad_value_is_logged_and_the_default_used(monkeypatch, caplog, name, raw):
    monkeypatch.setenv(name, raw)
    with caplog.at_level(logging.WARNING, logger="airken.settings"):
        assert settings.current() == settings.DEFAULTS
        settings.current()  # the second time says nothing new
    assert sum(name in r.getMessage() for r in caplog.records) <= 1
    settings._warned.discard((name, raw))
    monkeypatch.setattr(settings, "_last", None)  # parsed again, as in a fresh process
    with caplog.at_level(logging.WARNING, logger="airken.settings"):
        caplog.clear()
        settings.current()
    assert any(name in r.getMessage() and raw in r.getMessage() for r in caplog.records)


def test_the_training_settings_live_here_too(monkeypatch):
    monkeypatch.setenv("AIRKEN_HPUS", "8")
    monkeypatch.setenv("AIRKEN_HPU_BASE_PORT", "9000")
    s = settings.current()
    assert (s.hpus, s.hpu_base_port) == (8, 9000)
    assert (settings.DEFAULTS.hpus, settings.DEFAULTS.hpu_base_port) == (None, 7850)


@pytest.mark.parametrize("raw,expected", [("1", True), ("YES", True), ("off", False), ("", False), ("2", False)])
def test_another_programs_flag_is_read_with_the_same_rule(monkeypatch, caplog, raw, expected):
    monkeypatch.setenv("HF_HUB_OFFLINE", raw)
    with caplog.at_level(logging.WARNING, logger="airken.settings"):
        assert settings.flag("HF_HUB_OFFLINE") is expected
    assert any("HF_HUB_OFFLINE" in r.getMessage() for r in caplog.records) == (raw == "2")
    settings._warned.discard(("HF_HUB_OFFLINE", raw))


def test_a_changed_variable_is_seen_at_once_and_an_unchanged_one_not_parsed_again(monkeypatch):
    assert settings.current() is settings.current()
    monkeypatch.setenv("AIRKEN_MAX_BYTES", "1000")
    assert settings.current().max_bytes == 1000
    monkeypatch.delenv("AIRKEN_MAX_BYTES")
    assert settings.current() == settings.DEFAULTS
