"""The evaluation protocol across places, on tiny synthetic folders with a cheap stand-in
backbone ("pixels"): no network training beyond logistic regressions and one tiny head."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.train.datasets import make_folder
from train.data import Sample
from train.places import features, folds, study, systems


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("places")
    milan = make_folder(root, name="milan", day_labels=(0, 0, 1, 0, 1, 0, 1, 2, 0, 1, 0, 1, 2, 0), bad=True)
    alpha = make_folder(root, name="asia", day_labels=(2, 1, 0, 2, 1, 2, 0), bad=False, place="alpha", seed=1)
    beta = make_folder(root, name="beta", day_labels=(2, 2, 1, 0, 1, 0, 2), bad=False, place="beta", seed=2)
    return root, [milan, alpha, beta]


@pytest.fixture(scope="module")
def protocol(folders):
    root, fs = folders
    out = root / "out"
    argv = ["--data", *[str(f.path) for f in fs], "--out", str(out), "--backbone", "pixels", "--quick",
            "--views", "whole", "--no-augment", "--no-head", "--val-days", "3", "--test-days", "4"]
    return out, study.main(argv), argv


def test_one_command_writes_metrics_report_and_plots(protocol):
    out, metrics, _ = protocol
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["recipe"]["describe"] == metrics["recipe"]["describe"]
    report = (out / "report.md").read_text()
    for heading in ("Leave one place out", "Generalisation choices", "Held-out days", "Calibration", "Timings"):
        assert heading in report
    for png in ("confusion_lopo_model.png", "reliability_lopo_model.png", "reliability_milan_all_folders_model.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert (out / "quarantine" / "quarantine.csv").is_file()


def test_lopo_covers_every_place_for_every_system(protocol):
    _, metrics, _ = protocol
    assert set(metrics["lopo_folds"]) == {"alpha", "beta", "milan"}
    assert {"majority", "colour", "linear_probe", "model"} <= set(metrics["lopo"])
    for res in metrics["lopo"].values():
        assert set(res["per_place"]) == {"alpha", "beta", "milan"}
        assert 0.0 <= res["pooled"]["balanced_accuracy"] <= 1.0
        assert np.sum(res["pooled"]["confusion_matrix"]) == sum(f["test"] for f in metrics["lopo_folds"].values())
        assert set(res["spread"]["balanced_accuracy"]) >= {"mean", "std", "min", "max"}
    # sky colour follows the class in the synthetic data: the frozen-feature model transfers
    assert metrics["lopo"]["model"]["pooled"]["balanced_accuracy"] > 0.8
    cal = metrics["lopo"]["model"]["calibration"]
    assert cal["pooled_ece_before"] is not None and cal["temperatures"]["median"] > 0


def test_held_out_days_match_train_split_and_include_the_date_hour_control(protocol):
    _, metrics, _ = protocol
    h = metrics["days"]
    days = {k: set(v["dates"]) for k, v in h["split"].items()}
    assert days["test"] and not (days["test"] & (days["train"] | days["val"]))
    place_only = h["training_sets"]["place_only"]["systems"]
    assert {"majority", "colour", "linear_probe", "model", "date_hour"} <= set(place_only)
    assert "date_hour" not in h["training_sets"]["all_folders"]["systems"]
    cal = h["training_sets"]["all_folders"]["systems"]["model"]["calibration"]
    assert cal["temperature"] > 0 and 0.0 <= cal["uncertain"]["threshold"] <= 1.0


def test_grouped_kfold_over_the_days_of_one_place(protocol):
    _, metrics, _ = protocol
    kf = metrics["days_kfold"]
    assert kf["k"] == 5 and len(kf["seeds"]) == 3
    for name in ("majority", "colour", "linear_probe", "model", "date_hour"):
        assert len(kf["balanced_accuracy"][name]["folds"]) == 15


def test_ablation_table_starts_at_the_probe_and_keeps_at_most_one_option_per_step(protocol):
    _, metrics, _ = protocol
    table = metrics["recipe"]["ablation"]
    assert table[0]["step"].startswith("start")
    for step in {r["step"] for r in table[1:]}:
        assert sum(r["kept"] for r in table if r["step"] == step) <= 1


def test_features_are_cached_per_file(protocol):
    out, metrics, argv = protocol
    assert metrics["timings"]["features"]["images_computed"] > 0
    assert (out / "features" / "pixels-whole.npz").is_file()
    again = study.main(argv)
    assert again["timings"]["features"]["images_computed"] == 0
    assert again["lopo"]["model"]["pooled"] == metrics["lopo"]["model"]["pooled"]


# ---------------------------------------------------------------------------------- units


def _sample(place: str, date: str, hour: int, label: int) -> Sample:
    from pathlib import Path
    return Sample(Path(f"{place}-{date}-{hour}.jpg"), label, None, date, hour, place, place, True)


def test_place_weights_balance_classes_then_places_then_readings():
    rows = ([_sample("delhi", "2023-01-01", 9, 2)] * 20 + [_sample("mumbai", "2023-01-02", 9, 2)] * 2
            + [_sample("mumbai", "2023-01-03", 10, 2)] * 6
            + [_sample("milan", "2025-03-01", h, 0) for h in range(8, 18)]
            + [_sample("milan", "2025-03-02", 12, 1)])
    ctx = systems.Context.build(rows, {}, seed=0)
    idx = np.arange(len(rows))
    w = systems.sample_weights(ctx, idx, "place")
    assert w.mean() == pytest.approx(1.0)
    by_class = [w[ctx.y == c].sum() for c in range(3)]
    assert np.allclose(by_class, by_class[0])  # classes weigh the same
    danger = ctx.y == 2
    assert w[danger & (ctx.place == "delhi")].sum() == pytest.approx(w[danger & (ctx.place == "mumbai")].sum())
    mumbai = ctx.place == "mumbai"
    g = ctx.hour_group
    assert w[mumbai & (g == g[20])].sum() == pytest.approx(w[mumbai & (g == g[22])].sum())  # readings equal
    wc = systems.sample_weights(ctx, idx, "class")
    assert np.allclose([wc[ctx.y == c].sum() for c in range(3)], wc[ctx.y == 0].sum())


def test_thin_keeps_few_frames_per_hourly_reading():
    rows = [_sample("delhi", "2023-01-01", 9, 2)] * 10 + [_sample("delhi", "2023-01-01", 10, 2)] * 3
    kept = features.thin(rows, 2)
    assert len(kept) == 4


def test_views_keep_the_input_size_and_the_sky_crop_follows_the_horizon():
    x = np.zeros((224, 224, 3), np.uint8)
    x[:112] = np.linspace(200, 150, 112)[:, None, None] * np.array([0.5, 0.7, 1.0])  # smooth blue sky
    rng = np.random.default_rng(0)
    x[112:] = rng.integers(0, 120, size=(112, 224, 3))  # textured ground
    for view in features.VIEWS:
        assert features.view_image(x, view).shape == x.shape
    np.testing.assert_array_equal(features.view_image(x, "whole"), x)
    rows = features.sky_rows(x)
    assert 100 <= rows <= 130
    ground = rng.integers(0, 120, size=(224, 224, 3)).astype(np.uint8)
    assert features.sky_rows(ground) == round(224 * features.TOP_CROP)  # no sky: fall back to the top crop
    with pytest.raises(ValueError):
        features.view_image(x, "fisheye")


def test_augmentation_is_deterministic_per_file_and_keeps_colours():
    img = np.asarray(Image.new("RGB", (224, 224), (70, 130, 230)))
    a1 = features.augment_image(img, "milan/a.jpg")
    assert np.array_equal(a1, features.augment_image(img, "milan/a.jpg"))
    np.testing.assert_allclose(a1.reshape(-1, 3).mean(0), (70, 130, 230), atol=1)


def test_date_hour_features_are_on_the_circle():
    f = systems.date_hour_features([_sample("milan", "2025-01-01", 0, 0), _sample("milan", "2025-07-02", 12, 0)])
    np.testing.assert_allclose(f[:, 0] ** 2 + f[:, 1] ** 2, 1.0)
    assert f[0, 3] == pytest.approx(1.0) and f[1, 3] == pytest.approx(-1.0)  # cos(hour) at 0 h and 12 h


def test_ordinal_model_gives_probabilities():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4))
    y = np.repeat([0, 1, 2], 30)
    x[:, 0] += y * 2.0
    p = systems._ordinal(x, y, np.ones(90), 1.0)(x)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert (p >= 0).all() and np.mean(p.argmax(1) == y) > 0.8


def test_lopo_folds_hold_whole_places_and_groups_out():
    rows = [_sample(p, f"2023-01-{d:02d}", h, (d + i) % 3) for i, p in enumerate(("a", "b", "c"))
            for d in range(1, 9) for h in (9, 12)]
    ctx = systems.Context.build(rows, {}, seed=0)
    lopo = folds.lopo_folds(ctx, np.arange(len(rows)), 0.2, 0)
    assert [f.place for f in lopo] == ["a", "b", "c"]
    for f in lopo:
        assert set(ctx.place[f.test]) == {f.place}
        assert f.place not in set(ctx.place[f.train]) | set(ctx.place[f.val])
        assert len(f.val) and not ({rows[i].group for i in f.val} & {rows[i].group for i in f.train})


def test_phase_one_head_trains_on_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 100)
    feats = rng.normal(size=(300, 16)).astype(np.float32)
    feats[np.arange(300), y] += 3.0  # one feature per class
    rows = [_sample("a" if i % 2 else "b", f"2023-01-{i % 10 + 1:02d}", 9, int(c)) for i, c in enumerate(y)]
    ctx = systems.Context.build(rows, {("whole", False): features.FeatureSet(feats, feats[:, :3])}, seed=0)
    idx = np.arange(300)
    head = systems.make_head(None, systems.HeadSettings(epochs=20, lr=0.01))(ctx, idx[::2], idx[1::2])
    p = head(idx[1::2])
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert np.mean(p.argmax(1) == y[1::2]) > 0.7


def test_bootstrap_interval_brackets_the_pooled_balanced_accuracy():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), 5)
    y = np.repeat(rng.integers(0, 3, 60), 5)
    assert folds.bootstrap_ba(y, y, groups)["low"] == 1.0
    pred = np.where(rng.random(300) < 0.6, y, (y + 1) % 3)
    ci = folds.bootstrap_ba(y, pred, groups, n=300)
    from sklearn.metrics import balanced_accuracy_score
    assert ci["low"] < balanced_accuracy_score(y, pred) < ci["high"] and ci["groups"] == 60
    assert folds.bootstrap_ba(y[:5], y[:5], groups[:5]) is None  # one group: no interval


def test_late_fusion_recipe_averages_probabilities():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    feats = rng.normal(size=(90, 8)).astype(np.float32)
    feats[np.arange(90), y] += 3.0
    rows = [_sample("a" if i % 2 else "b", f"2023-01-{i % 9 + 1:02d}", 9, int(c)) for i, c in enumerate(y)]
    ctx = systems.Context.build(rows, {("whole", False): features.FeatureSet(feats, feats[:, :4])}, seed=0)
    idx = np.arange(90)
    p = systems.fit_recipe(ctx, systems.Recipe(fusion=0.5), idx)(idx)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert "fused" in systems.Recipe(fusion=0.5).describe()
