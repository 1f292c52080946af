"""Every AIRKEN_* environment variable, parsed in one place with one rule for bad values.

A value that does not parse, or is out of range, is logged as a warning (once per value) and
the default is used: a typo in a setting never stops the app or hides a photo's answer. The
training pipeline's settings (train.devices) live here too, and `flag` reads another
program's yes/no variable (HF_HUB_OFFLINE) with the same rule.
Values are read when `current()` is called, not at import, so a test or a restarted process
sees the environment it has. What a value means is the business of the module that uses it
(airken.core.weights checks that a sha256 is one, for example); here it only gets its type.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Settings:
    """The defaults are the documented ones (docs/SETTINGS.md)."""

    # where the model comes from (airken.core.weights)
    model_path: Path | None = None  # AIRKEN_MODEL_PATH
    model_sha256: str | None = None  # AIRKEN_MODEL_SHA256
    hf_repo: str | None = None  # AIRKEN_HF_REPO (default: the manifest's pin)
    hf_revision: str | None = None  # AIRKEN_HF_REVISION
    hf_filename: str | None = None  # AIRKEN_HF_FILENAME
    hub: bool = True  # AIRKEN_HUB
    hub_timeout_s: float = 2.0  # AIRKEN_HUB_TIMEOUT
    hub_deadline_s: float = 30.0  # AIRKEN_HUB_DEADLINE
    bundled_dir: Path | None = None  # AIRKEN_BUNDLED_DIR (default: airken/models)
    # how it runs (airken.core.model, airken.core.predictor, airken.web.ui)
    threads: int | None = None  # AIRKEN_THREADS (default: the cores shared out among the interpreters)
    concurrency: int = 2  # AIRKEN_CONCURRENCY
    # what an upload may be (airken.core.intake)
    max_bytes: int = 30 * 1024 * 1024  # AIRKEN_MAX_BYTES
    max_pixels: int = 60_000_000  # AIRKEN_MAX_PIXELS
    min_side: int = 32  # AIRKEN_MIN_SIDE
    # the web app (airken.web.ui, airken.web.sweeper)
    temp_max_age_s: int = 900  # AIRKEN_TEMP_MAX_AGE_S
    upload_dir_max_bytes: int = 500 * 1024 * 1024  # AIRKEN_UPLOAD_DIR_MAX_BYTES (airken.web.upload_guard)
    sessions: int = 200  # AIRKEN_SESSIONS
    batch_max_files: int = 100  # AIRKEN_BATCH_MAX_FILES
    log_level: str = "INFO"  # AIRKEN_LOG_LEVEL (app.py)
    # what a verdict rests on besides the photo (airken.core.prior, airken.core.profiles)
    prior: str | None = None  # AIRKEN_PRIOR: "world", "uniform", "train" or three shares (airken.core.prior checks it)
    profile: str | None = None  # AIRKEN_PROFILE: a camera's calibration profile every reading uses
    profiles_dir: Path | None = None  # AIRKEN_PROFILES_DIR (default: ~/.config/airken/profiles)
    # the modelled PM2.5 beside the photo (airken.airmodel.openmeteo, airken.airmodel.report)
    air: bool = True  # AIRKEN_AIR
    air_url: str = "https://air-quality-api.open-meteo.com/v1/air-quality"  # AIRKEN_AIR_URL
    geocode_url: str = "https://geocoding-api.open-meteo.com/v1/search"  # AIRKEN_GEOCODE_URL
    air_domains: str = "auto"  # AIRKEN_AIR_DOMAINS: auto, cams_europe or cams_global
    air_connect_timeout_s: float = 2.0  # AIRKEN_AIR_CONNECT_TIMEOUT
    air_read_timeout_s: float = 4.0  # AIRKEN_AIR_READ_TIMEOUT
    air_retry_s: float = 60.0  # AIRKEN_AIR_RETRY_S: after a network failure, leave the host alone this long
    air_prior: bool = True  # AIRKEN_AIR_PRIOR: the modelled PM2.5 sets the level of the verdict (0: shown only)
    air_prior_sigma: float | None = None  # AIRKEN_AIR_PRIOR_SIGMA (default: the model's verdict rule, airken.core.rule)
    # opt-in photo donation (airken.airmodel.donate)
    donate_repo: str | None = None  # AIRKEN_DONATE_REPO: a Hub dataset repo
    donate_token: str | None = None  # AIRKEN_DONATE_TOKEN (airken.airmodel.donate falls back to HF_TOKEN)
    donate_dir: Path | None = None  # AIRKEN_DONATE_DIR (default: a fresh temporary folder)
    donate_every_min: float = 5.0  # AIRKEN_DONATE_EVERY_MIN
    donate_per_session: int = 5  # AIRKEN_DONATE_PER_SESSION
    # training on Gaudi cards (train.devices)
    hpus: int | None = None  # AIRKEN_HPUS: cards, one process each (default: the MPI world size)
    hpu_base_port: int = 7850  # AIRKEN_HPU_BASE_PORT: first port of the local TF_CONFIG under mpirun


DEFAULTS = Settings()
_last: tuple[tuple[tuple[str, str], ...], Settings] | None = None  # (the AIRKEN_* variables, their Settings)


def current() -> Settings:
    """The settings as the environment gives them now. Requests ask on every call: the
    variables are parsed again only when one of them changed."""
    global _last
    airken_env = tuple(item for item in os.environ.items() if item[0].startswith("AIRKEN_"))
    last = _last
    if last is not None and last[0] == airken_env:
        return last[1]
    parsed = Settings(**_app(DEFAULTS), **_services(DEFAULTS))
    _last = (airken_env, parsed)
    return parsed


def _app(d: Settings) -> dict:
    """The model, how it runs, what an upload may be, the page, what a verdict rests on."""
    return dict(
        model_path=_path("AIRKEN_MODEL_PATH"),
        model_sha256=_text("AIRKEN_MODEL_SHA256", lower=True),
        hf_repo=_text("AIRKEN_HF_REPO"),
        hf_revision=_text("AIRKEN_HF_REVISION"),
        hf_filename=_text("AIRKEN_HF_FILENAME"),
        hub=_flag("AIRKEN_HUB", d.hub),
        hub_timeout_s=_number("AIRKEN_HUB_TIMEOUT", d.hub_timeout_s, float),
        hub_deadline_s=_number("AIRKEN_HUB_DEADLINE", d.hub_deadline_s, float),
        bundled_dir=_path("AIRKEN_BUNDLED_DIR"),
        threads=_number("AIRKEN_THREADS", d.threads, int),
        concurrency=_number("AIRKEN_CONCURRENCY", d.concurrency, int),
        max_bytes=_number("AIRKEN_MAX_BYTES", d.max_bytes, int),
        max_pixels=_number("AIRKEN_MAX_PIXELS", d.max_pixels, int),
        min_side=_number("AIRKEN_MIN_SIDE", d.min_side, int),
        temp_max_age_s=_number("AIRKEN_TEMP_MAX_AGE_S", d.temp_max_age_s, int),
        upload_dir_max_bytes=_number("AIRKEN_UPLOAD_DIR_MAX_BYTES", d.upload_dir_max_bytes, int),
        sessions=_number("AIRKEN_SESSIONS", d.sessions, int),
        batch_max_files=_number("AIRKEN_BATCH_MAX_FILES", d.batch_max_files, int),
        log_level=_choice("AIRKEN_LOG_LEVEL", d.log_level, _LOG_LEVELS),
        prior=_text("AIRKEN_PRIOR"),
        profile=_text("AIRKEN_PROFILE"),
        profiles_dir=_path("AIRKEN_PROFILES_DIR"),
    )


def _services(d: Settings) -> dict:
    """The modelled PM2.5, photo donation, training on Gaudi cards."""
    return dict(
        air=_flag("AIRKEN_AIR", d.air),
        air_url=_text("AIRKEN_AIR_URL") or d.air_url,
        geocode_url=_text("AIRKEN_GEOCODE_URL") or d.geocode_url,
        air_domains=_text("AIRKEN_AIR_DOMAINS") or d.air_domains,
        air_connect_timeout_s=_number("AIRKEN_AIR_CONNECT_TIMEOUT", d.air_connect_timeout_s, float),
        air_read_timeout_s=_number("AIRKEN_AIR_READ_TIMEOUT", d.air_read_timeout_s, float),
        air_retry_s=_number("AIRKEN_AIR_RETRY_S", d.air_retry_s, float),
        air_prior=_flag("AIRKEN_AIR_PRIOR", d.air_prior),
        air_prior_sigma=_number("AIRKEN_AIR_PRIOR_SIGMA", d.air_prior_sigma, float),
        donate_repo=_text("AIRKEN_DONATE_REPO"),
        donate_token=_text("AIRKEN_DONATE_TOKEN"),
        donate_dir=_path("AIRKEN_DONATE_DIR"),
        donate_every_min=_number("AIRKEN_DONATE_EVERY_MIN", d.donate_every_min, float),
        donate_per_session=_number("AIRKEN_DONATE_PER_SESSION", d.donate_per_session, int),
        hpus=_number("AIRKEN_HPUS", d.hpus, int),
        hpu_base_port=_number("AIRKEN_HPU_BASE_PORT", d.hpu_base_port, int),
    )


def flag(name: str, default: bool = False) -> bool:
    """A yes/no variable of another program (HF_HUB_OFFLINE), read now with the rule above."""
    return _flag(name, default)


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _ignore(name: str, raw: str, why: str, default: object) -> None:
    if (name, raw) not in _warned:
        _warned.add((name, raw))
        log.warning("Ignoring %s=%r (%s); using %s", name, raw, why, "the default" if default is None else default)


def _text(name: str, lower: bool = False) -> str | None:
    raw = _raw(name)
    return raw.lower() if raw and lower else raw


def _path(name: str) -> Path | None:
    raw = _raw(name)
    return Path(raw).expanduser() if raw else None


def _number(name: str, default, kind: type):
    """A positive, finite int or float; "3e7" is accepted for an int."""
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = kind(float(raw)) if kind is int else kind(raw)
    except (ValueError, OverflowError):
        _ignore(name, raw, "not a number", default)
        return default
    if not (value > 0 and math.isfinite(value)):
        _ignore(name, raw, "must be a positive number", default)
        return default
    return value


def _flag(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE | _FALSE:
        return raw.lower() in _TRUE
    _ignore(name, raw, "expected 1/0, true/false, yes/no or on/off", default)
    return default


def _choice(name: str, default: str, allowed: set[str]) -> str:
    raw = _raw(name)
    if raw is None:
        return default
    if raw.upper() in allowed:
        return raw.upper()
    _ignore(name, raw, f"expected one of {', '.join(sorted(allowed))}", default)
    return default
