"""train.bundle writes the unsure threshold the leave-one-place-out verdicts chose; train.push
publishes it as bundled. The run here is the shipped model file with the shipped numbers."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from airken.core.manifest import PACKAGE_MODELS_DIR
from train.bundle import bundle
from train.push import build_repo_folder, published_metrics

SHIP = 0.77  # the threshold the made-up verdicts chose


@pytest.fixture
def run_dir(tmp_path) -> Path:
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    shutil.copyfile(PACKAGE_MODELS_DIR / "airken.tflite", run / "export" / "airken-int8.tflite")
    metrics = json.loads((PACKAGE_MODELS_DIR / "metrics.json").read_text())
    for key in ("examples", "places", "model_sha256", "model_variant"):
        metrics.pop(key)
    metrics["calibration"] = {"temperature": 1.0, "uncertain_below": 0.5}  # chosen on validation days
    metrics["export"] = {"int8": {**metrics["export"]["int8"], "top1_agreement": 0.99}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def _lopo_dir(root: Path) -> Path:
    """A train.lopo folder: its metrics.json and the verdicts of the fused network."""
    row = {"per_place": {"alpha": {"balanced_accuracy": 0.5, "support": {"healthy": 5, "moderate": 3, "danger": 1}}},
           "pooled": {"balanced_accuracy": 0.5, "macro_f1": 0.4, "balanced_accuracy_95ci": {"low": 0.3, "high": 0.6}},
           "spread": {"balanced_accuracy": {"min": 0.5, "max": 0.5}}}
    lopo = {"folds": {"alpha": {"test": 9}}, "train_settings": {"epoch_frames": 384},
            "lopo": {s: row for s in ("network_fused", "colour", "linear_probe", "majority")}}
    kept = {"coverage": 0.4, "accuracy_kept": 0.7, "accuracy_all": 0.5}
    verdicts = {"network_fused": {
        "priors": {"world": {"pooled": {"balanced_accuracy": 0.5, "ece": 0.1, "accuracy": 0.6}}},
        "selective": {"world": {"unsure_threshold": {"ship": SHIP, "target_accuracy": 0.7, **kept},
                                "coverage_0.5": kept}},
        "few_shot": {"k3": {"k": 3, "places": ["alpha"], "pooled_ba_mean": 0.6, "pooled_ba_std": 0.1,
                            "zero_shot_same_frames": 0.5}}}}
    folder = root / "lopo"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(lopo))
    (folder / "verdicts.json").write_text(json.dumps(verdicts))
    return folder


def test_bundle_ships_the_threshold_chosen_on_held_out_places_and_push_keeps_it(run_dir, tmp_path):
    models = tmp_path / "models"
    bundle(run_dir, models_dir=models, lopo_dir=_lopo_dir(tmp_path))
    shipped = json.loads((models / "metrics.json").read_text())
    assert shipped["calibration"]["uncertain_below"] == SHIP
    assert shipped["calibration"]["uncertain_below_validation_days"] == 0.5
    assert shipped["places"]["verdicts"]["unsure"]["ship"] == SHIP
    rows = shipped["examples"]["rows"]  # read as shipped: unsure below the held-out places' threshold
    assert all(r["unsure"] for r in rows if r["label"] and r["confidence"] < SHIP)

    assert published_metrics(run_dir, models) == models / "metrics.json"
    hub = build_repo_folder(run_dir, tmp_path / "hub", "someone/airken-test", models / "metrics.json")
    assert json.loads((hub / "metrics.json").read_text())["calibration"] == shipped["calibration"]
