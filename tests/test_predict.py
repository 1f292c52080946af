"""The predictor over the bundled model: result object, refusals, thread safety."""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from airken.core.classes import LABELS, NEUTRAL_COLOUR, class_by_name
from airken.core.intake import ImageRejected
from airken.core.model import TFLiteModel
from airken.core.predictor import Predictor, get_predictor
from airken.core.rule import VerdictRule
from airken.core.witnesses import verdict_class
from airken.core.words import UNSURE_HEADLINE, UNSURE_PLAN, percent
from airken.examples import EXAMPLES_DIR as EXAMPLES


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return get_predictor()


def test_sky_photo_gets_a_full_verdict(predictor, monkeypatch):
    monkeypatch.setattr(predictor, "rule", VerdictRule())  # no unsure line: the class's own words
    result = predictor.predict(EXAMPLES / "clear-kite.jpg")
    assert result.label in LABELS and not result.unsure and result.unsure_reason is None
    assert set(result.probabilities) == set(LABELS)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.label == LABELS[verdict_class([result.probabilities[c] for c in LABELS], False)]  # likeliest
    cls = class_by_name(result.label)
    assert (result.pm25_range, result.colour, result.headline, result.advice) == (
        cls.band, cls.colour, cls.headline, cls.advice)
    assert dict(result.plan) == cls.plan
    assert result.confidence == pytest.approx(result.probabilities[result.label], abs=1e-3)  # no measured rule
    assert result.model["sha256"] == predictor.source.sha256
    assert result.timings_ms["total"] >= result.timings_ms["model"] >= 0
    assert {"decode", "air_model", "checks", "model", "total"} == set(result.timings_ms)


def test_night_photo_is_refused_with_the_scene_reason_alone(predictor):
    result = predictor.predict(EXAMPLES / "night-rocket-launch.jpg")
    assert result.label is None and result.probabilities is None and result.plan == {}
    assert "daylight" in result.advice and "take a daytime photo" not in result.advice.lower()
    assert result.colour == NEUTRAL_COLOUR and result.pm25_range is None and result.confidence is None
    assert result.to_dict()["label"] is None


def test_bytes_and_paths_give_the_same_result(predictor):
    path = EXAMPLES / "hazy-beijing-summer-palace.jpg"
    assert predictor.predict(path.read_bytes()).probabilities == predictor.predict(path).probabilities


def test_unreadable_file_raises_image_rejected(predictor):
    with pytest.raises(ImageRejected):
        predictor.predict(b"definitely not an image")


def test_concurrent_calls_match_sequential_ones(predictor):
    paths = sorted(EXAMPLES.glob("*.jpg"))
    sequential = [predictor.predict(p).probabilities for p in paths]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda p: predictor.predict(p).probabilities, paths * 3))
    assert concurrent == sequential * 3


def test_model_reads_quantisation_from_the_file(predictor):
    model = TFLiteModel(predictor.source.path, threads=1)
    assert model.input_size == 224 and model.n_classes == 3
    rng = np.random.default_rng(0)
    probs = model.predict_proba(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8))
    assert probs.dtype == np.float32 and probs.shape == (3,)
    assert probs.sum() == pytest.approx(1.0, abs=1e-5) and (probs >= 0).all()
    with pytest.raises(ValueError):
        model.predict_proba(np.zeros((100, 100, 3), np.uint8))


def test_about_carries_model_identity_and_metrics(predictor):
    about = predictor.about()
    assert about["model"]["source"] in ("local", "hub", "bundled")
    assert about["metrics"].get("model_sha256") == predictor.source.sha256


def test_generated_png_roundtrip(predictor):
    sky = np.zeros((300, 400, 3), np.uint8)
    sky[:200] = np.linspace([90, 140, 230], [160, 190, 240], 200)[:, None, :].astype(np.uint8)
    sky[200:] = np.random.default_rng(1).integers(20, 90, (100, 400, 3))
    buf = io.BytesIO()
    Image.fromarray(sky).save(buf, "PNG")
    result = predictor.predict(buf.getvalue())
    assert result.label in LABELS or result.label is None  # a valid verdict or a scene refusal
    assert result.headline


def test_calibration_softens_without_changing_the_class():
    from airken.core.calibration import Calibration

    probs = np.array([0.9, 0.08, 0.02], np.float32)
    soft = Calibration(temperature=2.0).apply(probs)
    assert soft.argmax() == 0 and soft.max() < probs.max()
    assert soft.sum() == pytest.approx(1.0, abs=1e-6)
    assert Calibration.from_metrics({"calibration": {"temperature": "bad"}}) == Calibration()
    assert Calibration.from_metrics({}).apply(probs) is probs


def test_low_confidence_is_shown_unsure(predictor, monkeypatch):
    strict = VerdictRule.from_metrics({"calibration": {"uncertain_below": 1.0}})
    monkeypatch.setattr(predictor, "rule", strict)
    result = predictor.predict(EXAMPLES / "clear-kite.jpg")
    assert result.unsure and result.label in LABELS  # still a leaning, flagged
    assert result.headline == UNSURE_HEADLINE and result.colour == NEUTRAL_COLOUR and dict(result.plan) == UNSURE_PLAN
    assert result.unsure_reason.startswith(f"Its confidence ({percent(result.confidence)})")
    assert "under the unsure line (over 99%)" in result.unsure_reason
    assert class_by_name(result.label).word in result.advice  # what it leans to
    monkeypatch.setattr(predictor, "rule", VerdictRule())
    assert not predictor.predict(EXAMPLES / "clear-kite.jpg").unsure


def _haze_block(weight: float, favour: int) -> dict:
    """A fusion block whose haze model always prefers class ``favour`` (intercepts only)."""
    from airken.core.haze_features import FEATURE_NAMES

    f = len(FEATURE_NAMES)
    intercept = [-5.0, -5.0, -5.0]
    intercept[favour] = 5.0
    return {"weight": weight, "haze_model": {"features": list(FEATURE_NAMES), "mean": [0.0] * f, "std": [1.0] * f,
                                             "coef": [[0.0] * f] * 3, "intercept": intercept, "classes": [0, 1, 2]}}


def test_fusion_averages_the_network_with_the_haze_model(predictor, monkeypatch):
    from airken.core.calibration import Calibration
    from airken.core.fusion import Fusion

    monkeypatch.setattr(predictor, "calibration", Calibration())
    monkeypatch.setattr(predictor, "fusion", None)
    alone = predictor.predict(EXAMPLES / "clear-kite.jpg", prior="train").probabilities
    for favour in range(3):
        monkeypatch.setattr(predictor, "fusion", Fusion.from_metrics({"fusion": _haze_block(0.5, favour)}))
        fused = predictor.predict(EXAMPLES / "clear-kite.jpg", prior="train").probabilities
        for i, name in enumerate(LABELS):
            haze = 1.0 if i == favour else 0.0
            assert fused[name] == pytest.approx(0.5 * alone[name] + 0.5 * haze, abs=1e-3)


def test_fusion_block_is_checked():
    from airken.core.fusion import Fusion
    from airken.core.predictor import _fusion

    assert Fusion.from_metrics({}) is None
    with pytest.raises(ValueError, match="outside"):
        Fusion.from_metrics({"fusion": _haze_block(1.5, 0)})
    bad = _haze_block(0.5, 0)
    bad["haze_model"]["features"] = ["something", "else"]
    with pytest.raises(ValueError, match="other features"):
        Fusion.from_metrics({"fusion": bad})
    assert _fusion({"fusion": bad}) is None  # the app warns and lets the network answer alone
    assert _fusion({"fusion": {"weight": 0.5}}) is None


def test_bundled_model_carries_its_fusion_and_calibration(predictor):
    fusion = predictor.metrics.get("fusion")
    if fusion is None:
        pytest.skip("the bundled model answers with the network alone")
    assert predictor.fusion is not None and predictor.fusion.weight == fusion["weight"]


def test_the_runner_reads_a_batch_as_it_reads_one(predictor):
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (3, predictor.model.input_size, predictor.model.input_size, 3), dtype=np.uint8)
    batch = predictor.model.run_batch(xs)
    assert batch.shape == (3, len(LABELS)) and batch.dtype == np.float32
    for x, row in zip(xs, batch, strict=True):
        np.testing.assert_allclose(predictor.model.predict_proba(x), row / row.sum(), atol=1e-6)
    with pytest.raises(ValueError):
        predictor.model.run_batch(xs[0])
