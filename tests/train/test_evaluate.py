"""Metrics, baselines, colour features, k-fold estimates and the report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from airken.core.classes import LABELS
from airken.core.haze_features import FEATURE_NAMES, colour_features, colour_features_batch
from tests.train.datasets import make_folder
from train.data import Sample, labels_of, load_arrays, read_folder, split_by_date
from train.evaluate import (
    caveats,
    classification_metrics,
    colour_baseline,
    evaluate_split,
    grouped_kfold_estimate,
    linear_probe,
    majority_baseline,
    plot_confusion,
    to_jsonable,
    write_report,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Clean synthetic folder: samples and their 224x224 model inputs."""
    info = make_folder(tmp_path_factory.mktemp("eval"), bad=False)
    samples, _ = read_folder(info.path)
    return samples, load_arrays(samples, workers=2)


def test_metrics_basic():
    m = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0])
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(0.6)
    assert m["per_class_recall"] == {"healthy": 0.5, "moderate": 1.0, "danger": 0.0}
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["support"] == {"healthy": 2, "moderate": 2, "danger": 1}
    assert m["per_class_precision"]["danger"] is None  # never predicted


def test_metrics_absent_classes_follow_sklearn():
    # danger is absent from y_true: recall None, left out of balanced accuracy
    m = classification_metrics([0, 0, 1, 1], [0, 2, 1, 1])
    assert m["per_class_recall"]["danger"] is None
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    # ... but it was predicted, so it counts in macro-F1 (with F1 0)
    f1_h, f1_m = 2 * 1 / (2 + 1), 1.0
    assert m["macro_f1"] == pytest.approx((f1_h + f1_m + 0.0) / 3)
    # a class neither true nor predicted is left out of macro-F1
    m2 = classification_metrics([0, 1], [0, 1])
    assert m2["macro_f1"] == 1.0 and m2["per_class_f1"]["danger"] is None
    # names work like indices
    assert classification_metrics(["healthy", "danger"], ["healthy", "healthy"])["accuracy"] == 0.5


def test_metrics_empty_and_json():
    m = classification_metrics([], [])
    assert m["n"] == 0 and m["accuracy"] is None and m["balanced_accuracy"] is None
    json.dumps(m)


def test_to_jsonable():
    obj = {"a": np.float32(0.5), "b": np.arange(3), "c": float("nan"), "d": Path("x/y"),
           1: (np.int64(2), {np.bool_(True)})}
    out = to_jsonable(obj)
    assert out == {"a": 0.5, "b": [0, 1, 2], "c": None, "d": "x/y", "1": [2, [True]]}
    json.dumps(out)


def test_majority_baseline():
    assert majority_baseline([0, 1, 1, 2], 3).tolist() == [1, 1, 1]
    assert majority_baseline([2, 0], 1).tolist() == [0]  # tie: lowest index


def test_colour_features():
    rng = np.random.default_rng(0)
    blue = np.zeros((224, 224, 3), np.uint8)
    blue[..., :] = (70, 130, 230)
    grey = np.full((224, 224, 3), 180, np.uint8)
    fb, fg = colour_features(blue), colour_features(grey)
    assert fb.shape == (len(FEATURE_NAMES),) and fb.dtype == np.float32
    names = list(FEATURE_NAMES)
    assert fb[names.index("sky_blue_red_ratio")] > 2 > fg[names.index("sky_blue_red_ratio")]
    assert fb[names.index("saturation_mean")] > fg[names.index("saturation_mean")]
    assert fg[names.index("dark_channel_mean")] > fb[names.index("dark_channel_mean")]
    assert fg[names.index("rms_contrast")] == pytest.approx(0.0, abs=1e-6)
    noisy = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    assert colour_features(noisy)[names.index("edge_density")] > 0.3
    assert np.all(np.isfinite(colour_features(np.zeros((40, 60, 3), np.uint8))))
    assert colour_features_batch(np.stack([blue, grey])).shape == (2, len(FEATURE_NAMES))
    assert colour_features_batch([]).shape == (0, len(FEATURE_NAMES))
    with pytest.raises(ValueError):
        colour_features(np.zeros((10, 10), np.uint8))


def test_colour_baseline_and_probe_learn_sky_colour(data):
    samples, x = data
    y = labels_of(samples)
    tr, _, te = split_by_date(samples, val_days=0, test_days=3, seed=0)
    pred = colour_baseline(x[tr], y[tr], x[te])
    assert classification_metrics(y[te], pred)["balanced_accuracy"] > 0.6
    feats = colour_features_batch(x)
    assert np.array_equal(colour_baseline(feats[tr], y[tr], feats[te]), pred)
    assert linear_probe(feats[tr], y[tr], feats[te]).shape == (len(te),)
    # a single training class cannot be separated: predict it
    assert set(linear_probe(feats[:3], [1, 1, 1], feats[3:6]).tolist()) == {1}


def test_plot_confusion(tmp_path):
    path = plot_confusion([[5, 1, 0], [2, 3, 0], [0, 0, 0]], LABELS, tmp_path / "cm.png", "t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_split_sections_and_report(data, tmp_path):
    samples, x = data
    y = labels_of(samples)
    tr, _, te = split_by_date(samples, val_days=0, test_days=4, seed=0)
    test = [samples[i] for i in te]
    probs = np.eye(3)[y[te]] * 0.9 + 0.03  # a model that is always right
    feats = colour_features_batch(x)
    m = evaluate_split(probs, test, y[tr], colour_train=feats[tr], colour_test=feats[te],
                       probe_train=feats[tr], probe_test=feats[te], all_samples=samples,
                       plot_dir=tmp_path)
    json.dumps(m)
    assert set(m) >= {"all", "daylight", "night", "data", "train_support"}
    assert m["all"]["n"] == len(te) == m["daylight"]["n"] + m["night"]["n"]
    assert m["night"]["n"] > 0
    systems = m["all"]["systems"]
    assert set(systems) == {"model", "linear_probe", "colour", "majority"}
    assert systems["model"]["accuracy"] == 1.0
    assert Path(m["all"]["confusion_png"]).is_file()
    # danger lives on a single date: the caveats say it cannot be measured
    notes = caveats(m)
    assert any("danger appears on a single date only" in n for n in notes)

    kf = grouped_kfold_estimate(samples, feats, k=3, seed=0,
                                models=lambda tr_i, te_i: np.eye(3)[y[te_i]])
    assert set(kf["systems"]) == {"majority", "colour", "model"}
    ba = kf["systems"]["model"]["balanced_accuracy"]
    assert ba["mean"] == 1.0 and ba["std"] == 0.0 and len(ba["folds"]) == 3
    json.dumps(kf)

    report = write_report({**m, "kfold": kf}, tmp_path / "report.md", title="Synthetic")
    text = report.read_text()
    assert text.startswith("# Synthetic")
    for part in ("## Test split: all frames", "## Test split: night frames", "always the commonest band",
                 "colour/haze baseline", "recall danger", "## Grouped k-fold estimate",
                 "## Caveats", "danger appears on a single date only",
                 "](confusion_all.png)"):
        assert part in text, part


def test_evaluate_split_without_night(data):
    samples, x = data
    y = labels_of(samples)
    day = [s for s in samples if s.daylight]
    probs = np.full((len(day), 3), 1 / 3)
    m = evaluate_split(probs, day, y)
    assert m["night"]["n"] == 0 and "no night frames" in m["night"]["note"]
    assert set(m["all"]["systems"]) == {"model", "majority"}
    assert any("No night frames" in n for n in caveats(m))
    with pytest.raises(ValueError, match="probs"):
        evaluate_split(probs[:2], day, y)


def test_caveat_for_thin_test_class():
    def s(date, label):
        return Sample(Path("x.jpg"), label, None, date, 12, "p", "s", True)

    test = [s("2025-01-01", 0)] * 20 + [s("2025-01-02", 1)] * 3
    probs = np.eye(3)[labels_of(test)]
    m = evaluate_split(probs, test, [0, 1, 1])
    notes = caveats(m)
    assert any("only 3 moderate test frames from 1 date" in n for n in notes)
    assert any("No danger frames in the test split" in n for n in notes)


def test_haze_model_reproduces_sklearn_and_runs_without_it():
    from sklearn.linear_model import LogisticRegression

    from airken.core.fusion import HazeModel
    from train.evaluate import fit_haze_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, len(FEATURE_NAMES))) * 3 + 1
    y = np.repeat([0, 1, 2], 30)
    x[:, 0] += y * 2
    model = fit_haze_model(x, y)
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    ref = LogisticRegression(C=1.0, max_iter=3000, tol=1e-4).fit(z, y).predict_proba(z)
    np.testing.assert_allclose(model.proba_features(x), ref, atol=1e-6)
    again = HazeModel.from_dict(json.loads(json.dumps(model.to_dict())))  # as metrics.json carries it
    np.testing.assert_allclose(again.proba_features(x), ref, atol=1e-6)
    two = fit_haze_model(x[30:], y[30:])  # a class missing from training gets probability 0
    p = two.proba_features(x)
    assert np.all(p[:, 0] == 0) and np.allclose(p.sum(axis=1), 1)
    one = fit_haze_model(x[:30], y[:30])
    assert np.all(one.proba_features(x)[:, 0] == 1)


def test_readability_probe_names_sources_and_places():
    from train.data import Sample
    from train.evaluate import readability_probe

    rng = np.random.default_rng(0)
    samples, rows = [], []
    for p, place in enumerate(("milan", "a", "b", "c")):
        for r in range(6):
            samples.append(Sample(Path(f"{place}{r}.jpg"), r % 3, None, f"2025-01-0{r + 1}", 12, place,
                                  "milan" if place == "milan" else "india", True))
            rows.append(rng.normal(size=4) + 3 * np.eye(4)[p])
    out = readability_probe({"telling": np.array(rows), "noise": rng.normal(size=(24, 4))}, samples, k=3)
    assert out["telling"]["place"] > 0.9 and out["telling"]["source"] > 0.9
    assert out["noise"]["place"] < 0.6 and out["telling"]["chance_place"] == 0.25
