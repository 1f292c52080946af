"""Leave-one-place-out of the real network (train.train's two phases) on tiny synthetic
folders: one fold, one epoch per phase."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.train.datasets import make_folder
from train import lopo
from train.lopo_summary import summary, with_places


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    from train.backbone import build_backbone

    root = tmp_path_factory.mktemp("lopo")
    folders = [make_folder(root, name="milan", day_labels=(0, 1, 2, 0, 1, 2), bad=False),
               make_folder(root, name="asia", day_labels=(2, 1, 0, 2, 1, 0), bad=False, place="alpha", seed=1),
               make_folder(root, name="beta", day_labels=(2, 0, 1, 2, 0, 1), bad=False, place="beta", seed=2)]
    backbone = build_backbone("lite0")  # the Keras backbone itself: no LiteRT conversion in a test
    out = root / "out"
    argv = ["--data", *[str(f.path) for f in folders], "--out", str(out), "--places", "alpha",
            "--head-epochs", "2", "--finetune-epochs", "1", "--epoch-frames", "24", "--unfreeze", "10",
            "--batch-size", "8", "--inner-val", "0.3"]
    metrics = lopo.run(lopo.parse_args(argv), extractor=lambda x: backbone.predict(x.astype(np.float32), verbose=0))
    return out, metrics


def test_network_and_baselines_are_scored_on_the_same_heldout_place(result):
    out, metrics = result
    assert set(metrics["folds"]) == {"alpha"}
    names = {"majority", "colour", "linear_probe", "network_head", "network", "network_head_fused", "network_fused"}
    assert set(metrics["lopo"]) == names and set(metrics["ranking"]) == names
    n_test = metrics["folds"]["alpha"]["test"]
    for res in metrics["lopo"].values():
        assert set(res["per_place"]) == {"alpha"}
        assert int(np.sum(res["pooled"]["confusion_matrix"])) == n_test
        assert 0.0 <= res["pooled"]["balanced_accuracy"] <= 1.0
    ranked = [metrics["lopo"][n]["pooled"]["balanced_accuracy"] for n in metrics["ranking"]]
    assert ranked == sorted(ranked, reverse=True)
    cal = metrics["lopo"]["network"]["calibration"]
    assert cal["temperatures"]["min"] >= 1.0  # the shipped rule: never sharpen
    assert metrics["lopo"]["network"]["calibration_free_t"]["temperatures"]["median"] > 0
    with np.load(out / "probs.npz") as z:  # the numbers can be recomputed without training
        assert z["alpha/network_fused/test"].shape == (n_test, 3)
        assert len(z["alpha/test_index"]) == n_test and len(z["y"]) > n_test


def test_fold_runs_train_train_with_its_settings_and_writes_a_report(result):
    out, metrics = result
    phases = json.loads((out / "folds" / "alpha" / "phases.json").read_text())
    assert phases["train_frames_per_epoch"] == 24 and phases["balance"] == "source"
    assert phases["finetune"]["epochs_run"] == 1
    assert metrics["train_settings"]["finetune_epochs"] == 1
    report = (out / "report.md").read_text()
    assert "| alpha |" in report and "network_fused" in report and "Ranking" in report
    assert json.loads((out / "metrics.json").read_text())["ranking"] == metrics["ranking"]


def test_summary_is_what_the_card_and_the_about_tab_show(result):
    from airken.card.measurements import places_markdown

    _, metrics = result
    block = summary(metrics, "network_fused")
    assert block["systems"] == ["network_fused", "colour", "linear_probe", "majority"]
    assert set(block["per_place"]) == {"alpha"}
    assert block["per_place"]["alpha"]["frames"] == metrics["folds"]["alpha"]["test"]
    table = places_markdown(block)
    assert "| alpha |" in table and "blind guess" in table
    with pytest.raises(ValueError, match="nope"):
        summary(metrics, "nope")


def test_verdicts_travel_with_the_model_and_set_its_unsure_threshold(result):
    out, _ = result
    found = json.loads((out / "verdicts.json").read_text())
    assert {"network", "network_fused", "network_head", "network_head_fused"} <= set(found)
    block = found["network_fused"]
    assert {"none", "world"} == set(block["priors"]) and "examples" in block
    assert len(block["examples"]) == 12 and block["examples"]["night-rocket-launch"]["refused"]
    shipped = with_places({"fusion": {"weight": 0.5}, "calibration": {"uncertain_below": 0.42}}, out)
    cal = shipped["calibration"]
    assert cal["uncertain_below"] == block["selective"]["world"]["unsure_threshold"]["ship"]
    assert cal["uncertain_below_validation_days"] == 0.42 and "held-out places" in cal["uncertain_rule"]
    assert set(shipped["places"]["verdicts"]) == {"prior", "unsure", "coverage", "few_shot"}
    assert (out / "verdicts.md").read_text().startswith("# Verdicts under leave-one-place-out")
