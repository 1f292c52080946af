"""airken.core.rule: the verdict rule read from a model's metrics.json ("verdict_rule"), an
older model's calibration threshold without one, a malformed block falling back with a
warning, and reliability maps (top share -> how often such verdicts were right)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from verdicts import FakeLookup, made, neutral, report

from airken.core.predictor import Predictor, get_predictor
from airken.core.rule import DEFAULT_AIR_MODEL_SIGMA, Reliability, VerdictRule
from airken.core.verdict import Where
from airken.core.witnesses import air_model_shares

SKY = Path(__file__).resolve().parents[1] / "assets" / "examples" / "clear-kite.jpg"
OLD = {"calibration": {"uncertain_below": 0.83}}
BLOCK = {
    "photo_weight": {"air_model": 0.6, "prior": 1.0}, "air_model_sigma": 0.45,
    "unsure_below": {"air_model": 0.7, "prior": 0.8}, "target": 0.8,
    "reliability": {"air_model": {"x": [0.34, 0.6, 0.9], "y": [0.4, 0.7, 0.95]},
                    "prior": {"x": [0.34, 1.0], "y": [0.35, 0.8]}},
    "measured_on": "12 places never seen in training",
}


def test_a_models_verdict_rule_is_read_from_its_metrics():
    rule = VerdictRule.from_metrics({"verdict_rule": BLOCK, **OLD})
    assert (rule.weight("air_model"), rule.weight("prior"), rule.weight("profile")) == (0.6, 1.0, 1.0)
    assert (rule.air_model_sigma, rule.target, rule.measured_on) == (0.45, 0.8, "12 places never seen in training")
    assert rule.air_model_noise_sd == 0.45  # all of the error, where the study did not split it
    assert (rule.line("air_model"), rule.line("prior")) == (0.7, 0.8)
    assert rule.line("profile") == 0.7  # a calibrated view is held to the air model's line
    assert rule.confidence("air_model", 0.6) == pytest.approx(0.7)
    assert rule.confidence("air_model", 0.75) == pytest.approx(0.825)
    assert rule.confidence("prior", 0.67) == pytest.approx(0.575)
    assert rule.confidence("profile", 0.66) == 0.66  # nothing measured for it: its share itself


def test_an_older_model_keeps_its_calibration_threshold():
    rule = VerdictRule.from_metrics(OLD)
    assert (dict(rule.photo_weight), rule.air_model_sigma, dict(rule.reliability)) == ({}, DEFAULT_AIR_MODEL_SIGMA, {})
    assert rule.weight("air_model") == rule.weight("prior") == 1.0  # the photo at full weight
    assert rule.line("prior") == rule.line("air_model") == rule.line("profile") == 0.83
    assert rule.confidence("air_model", 0.61) == 0.61
    assert VerdictRule.from_metrics({}).line("prior") == 0.0  # no line at all: every verdict as it comes
    bundled = get_predictor()
    if "verdict_rule" not in bundled.metrics:
        assert bundled.rule.line("prior") == pytest.approx(bundled.metrics["calibration"]["uncertain_below"])


@pytest.mark.parametrize("broken", [
    {**BLOCK, "photo_weight": "heavy"},
    {**BLOCK, "photo_weight": {"air_model": "heavy"}},
    {k: v for k, v in BLOCK.items() if k != "target"},
    {**BLOCK, "unsure_below": "high"},
    {**BLOCK, "reliability": {"prior": {"x": [0.9, 0.5], "y": [0.5, 0.9]}}},  # x must increase
    {**BLOCK, "reliability": {"prior": {"x": [0.3, 0.9], "y": [0.5]}}},
    {**BLOCK, "reliability": {"prior": {"x": [0.3, 1.2], "y": [0.5, 0.9]}}},  # shares are 0-1
    ["not", "a", "block"],
])
def test_a_malformed_rule_falls_back_with_a_warning(caplog, broken):
    with caplog.at_level(logging.WARNING, logger="airken.core.rule"):
        rule = VerdictRule.from_metrics({"verdict_rule": broken, **OLD})
    assert rule == VerdictRule.from_metrics(OLD)
    assert "ignoring malformed verdict_rule" in caplog.text


def test_reliability_interpolates_monotonely_between_its_points():
    r = Reliability.from_dict({"x": [0.34, 0.6, 0.9], "y": [0.4, 0.7, 0.95]})
    assert r(0.6) == 0.7 and r(0.45) == pytest.approx(0.4 + 0.3 * 0.11 / 0.26)
    assert r(0.1) == 0.4 and r(1.0) == 0.95  # held at the ends: never a number the data did not back
    values = [r(t) for t in np.linspace(0, 1, 201)]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert Reliability.from_dict(r.to_dict()) == r


def test_the_predictor_follows_its_models_rule(monkeypatch):
    base = get_predictor()
    p = Predictor(base.model, base.source, base.limits, {**base.metrics, "verdict_rule": BLOCK},
                  lookup=FakeLookup(report(80)))
    neutral(p, monkeypatch)
    v = p.predict(SKY, latitude=45.46, longitude=9.19)
    level = air_model_shares(80, 0.45)  # the rule's sigma
    assert p.air_model_sigma() == 0.45 and v.probabilities["danger"] == pytest.approx(level[2], abs=1e-3)
    assert v.confidence == pytest.approx(p.rule.confidence("air_model", level.max()), abs=1e-3)
    assert v.unsure == (v.confidence < 0.7)
    monkeypatch.setenv("AIRKEN_AIR_PRIOR_SIGMA", "0.9")  # the setting overrides the rule
    assert p.air_model_sigma() == 0.9


def test_a_measured_confidence_is_explained_where_it_was_measured():
    v = made("danger", confidence=0.6, unsure_below=0.7, measured=True, basis="air_model", air_model=report(80),
             where=Where(45.5, 9.2, None, "photo", "2026-03-14T12:00+01:00", "photo"), prior=None)
    assert v.unsure and v.unsure_reason == (
        "Verdicts this sure were right 60% of the time on places the model never saw, with the air model's "
        "usual errors simulated; Airken calls a verdict from 70%.")
    photo_alone = made("danger", confidence=0.6, unsure_below=0.8, measured=True, basis="prior")
    assert "from the photo alone" in photo_alone.unsure_reason and "80%" in photo_alone.unsure_reason
    assert made("danger", confidence=0.75, unsure_below=0.7, measured=True).unsure_reason is None
