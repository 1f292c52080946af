"""The whole training script on a tiny synthetic folder: 1 epoch per phase, real backbone,
export and evaluation included. Checks the run directory a maintainer relies on."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from datasets import make_folder

from train import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    folder = make_folder(root, day_labels=(0, 1, 0, 1, 0, 1, 0, 1, 2, 0, 1, 2), bad=True)
    phones = make_folder(root, name="phones", day_labels=(2, 2, 1, 0, 2, 1), bad=False, place="alpha", seed=3)
    out = root / "run"
    metrics = train.main([
        "--data", str(folder.path), str(phones.path), "--out", str(out), "--head-epochs", "1",
        "--finetune-epochs", "1", "--val-days", "2", "--test-days", "3", "--kfold", "2", "--batch-size", "8",
        "--unfreeze", "20", "--epoch-frames", "40",
    ])
    return out, metrics, folder


def test_run_directory_has_everything_a_maintainer_needs(run):
    out, _, _ = run
    for name in ("config.json", "history_head.csv", "history_finetune.csv", "train.log", "model.keras",
                 "metrics.json", "report.md", "confusion_all.png", "export/airken-float16.tflite",
                 "export/airken-int8.tflite"):
        assert (out / name).is_file(), name
    with open(out / "history_head.csv") as f:
        assert len(list(csv.DictReader(f))) == 1  # one epoch, logged


def test_bad_files_are_quarantined_not_deleted(run):
    out, metrics, folder = run
    quarantined = {r["file"].rsplit("/", 1)[-1] for r in metrics["data"]["quarantined"]}
    assert quarantined == set(folder.undecodable)
    for name in folder.undecodable:
        assert (folder.path / "images" / name).exists()  # the user's file is untouched
    assert {p["file"] for p in metrics["data"]["problems"]} == set(folder.problems)


def test_split_holds_out_whole_days(run):
    _, metrics, _ = run
    split = metrics["data"]["split"]
    train_days, test_days = set(split["train"]["dates"]), set(split["test"]["dates"])
    assert test_days and not (train_days & test_days)
    assert not (set(split["val"]["dates"]) & (train_days | test_days))
    # test days from the first folder only; validation days from every folder
    assert {d.split()[0] for d in test_days} == {"synth"}
    assert {d.split()[0] for d in split["val"]["dates"]} == {"synth", "alpha"}
    assert set(metrics["data"]["folders"]) == {"synth", "phones"}


def test_epochs_draw_balanced_frames(run):
    _, metrics, _ = run
    assert metrics["training"]["train_frames_per_epoch"] == 40
    assert metrics["training"]["balance"] == "source"


def test_metrics_hold_model_baselines_and_parity(run):
    out, metrics, _ = run
    saved = json.loads((out / "metrics.json").read_text())
    day = saved["evaluation"]["daylight"]["systems"]
    assert {"model", "majority", "colour", "linear_probe"} <= set(day)
    assert 0.0 <= day["model"]["balanced_accuracy"] <= 1.0
    for kind in ("float16", "int8"):
        assert 0.0 <= saved["export"][kind]["top1_agreement"] <= 1.0
    # float16 weights barely change the outputs of a float32 network
    assert saved["export"]["float16"]["top1_agreement"] >= 0.9
    assert saved["training"]["head"]["images_per_s"] > 0
    cal = saved["calibration"]
    assert cal["temperature"] >= 1.0 and 0.0 <= cal["uncertain_below"] <= 1.0  # T never sharpens
    assert 0.0 <= cal["test_daylight"]["ece_after"] <= 1.0
    assert (out / "reliability.png").is_file()
    assert np.isfinite(saved["training"]["total_seconds"])


def test_run_records_its_prior_what_its_features_carry_and_the_example_photos(run):
    out, metrics, _ = run
    assert metrics["class_prior"]["train"] == pytest.approx([1 / 3] * 3)
    assert sum(metrics["class_prior"]["world"]) == pytest.approx(1.0)
    probe = metrics["probe"]
    assert set(probe) == {"colour/haze", "frozen backbone", "fine-tuned network"}
    assert all(0.0 <= row["place"] <= 1.0 for row in probe.values())
    rows = metrics["examples"]["rows"]
    assert len(rows) == 12 and {r["photo"] for r in rows} >= {"clear-kite", "no-sky-coffee"}
    assert next(r for r in rows if r["photo"] == "night-rocket-launch")["label"] is None  # refused, not guessed
    report = (out / "report.md").read_text()
    assert "What the features tell apart" in report and "Blue sky with a kite" in report


def test_run_ships_the_haze_model_it_was_evaluated_with(run):
    from airken.core.fusion import Fusion

    out, metrics, _ = run
    saved = json.loads((out / "metrics.json").read_text())
    fusion = Fusion.from_metrics(saved)
    assert fusion is not None and fusion.weight == 0.5
    assert set(fusion.haze.classes) <= {0, 1, 2}


def test_every_generalisation_option_trains_exports_and_runs_in_litert(tmp_path):
    """Haze and within-place ranking, the log-PM2.5 head, the sky crop and source balance in
    one tiny run: the exported file still takes pixels and gives three probabilities."""
    from airken.core.model import TFLiteModel

    folder = make_folder(tmp_path, day_labels=(0, 1, 2, 0, 1, 2, 0, 1), bad=False)
    phones = make_folder(tmp_path, name="phones", day_labels=(2, 1, 0, 2), bad=False, place="alpha", seed=3)
    out = tmp_path / "run"
    metrics = train.main([
        "--data", str(folder.path), str(phones.path), "--out", str(out), "--head-epochs", "1",
        "--finetune-epochs", "1", "--val-days", "2", "--test-days", "2", "--kfold", "2", "--batch-size", "8",
        "--unfreeze", "10", "--epoch-frames", "24", "--haze-rank", "0.5", "--place-rank", "0.5",
        "--target", "logpm", "--crop-top", "0.7", "--balance", "source",
    ])
    objectives = metrics["training"]["objectives"]
    assert objectives == {"target": "logpm", "haze_rank": 0.5, "place_rank": 0.5, "crop_top": 0.7}
    assert metrics["training"]["finetune"]["epochs_run"] == 1
    model = TFLiteModel(out / "export" / "airken-int8.tflite")
    probs = model.predict_proba(np.full((model.input_size, model.input_size, 3), 128, np.uint8))
    assert probs.shape == (3,) and abs(float(probs.sum()) - 1.0) < 1e-3
