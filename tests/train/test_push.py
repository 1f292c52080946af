"""Hub repository folder, model card and upload calls, on a fake run directory."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("huggingface_hub")

from airken.core.classes import LABELS  # noqa: E402
from airken.core.manifest import read_manifest, sha256_file, write_manifest  # noqa: E402
from train import push as push_mod  # noqa: E402
from train.lopo_summary import with_places  # noqa: E402
from train.push import build_repo_folder, main, push  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REPO_ID = "someone/airken-test"


def _system(acc: float, bal: float, f1: float) -> dict:
    return {"n": 40, "accuracy": acc, "balanced_accuracy": bal, "macro_f1": f1,
            "per_class_recall": {"healthy": 0.9, "moderate": 0.55, "danger": None},
            "confusion_matrix": [[27, 3, 0], [4, 6, 0], [0, 0, 0]], "labels": list(LABELS)}


def _section(n: int, model: tuple[float, float, float], png: str | None) -> dict:
    sec = {"n": n,
           "test_data": {"frames": n, "groups": 5, "classes": {
               "healthy": {"frames": 30, "groups": 4, "places": ["milan"]},
               "moderate": {"frames": 10, "groups": 2, "places": ["milan"]},
               "danger": {"frames": 0, "groups": 0, "places": []}}},
           "systems": {"model": _system(*model), "linear_probe": _system(0.7, 0.61, 0.6),
                       "colour": _system(0.66, 0.52, 0.5), "majority": _system(0.75, 0.5, 0.43)}}
    if png:
        sec["confusion_png"] = png
    return sec


@pytest.fixture
def run_dir(tmp_path) -> Path:
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    (run / "export" / "airken-float16.tflite").write_bytes(b"TFL3-float16" * 100)
    (run / "export" / "airken-int8.tflite").write_bytes(b"TFL3-int8" * 50)
    (run / "confusion_all.png").write_bytes(b"\x89PNG fake")
    (run / "confusion_daylight.png").write_bytes(b"\x89PNG fake")
    (run / "report.md").write_text("# Airken evaluation\n")
    (run / "quarantine").mkdir()
    (run / "quarantine" / "20250101-0959.jpg").write_bytes(b"\xff\xd8 a data photo")
    (run / "model.keras").write_bytes(b"keras")
    metrics = {  # made-up numbers in the layout train.train writes
        "config": {"data": ["/data/milan"], "backbone": "lite0", "daylight_only": True,
                   "unfreeze": 100, "patience": 3},
        "data": {"folders": {"milan": {"rows": 425, "usable": 368}},
                 "quarantined": [{"file": str(run / "quarantine" / "20250101-0959.jpg"),
                                  "reason": "truncated"}]},
        "training": {"device": {"kind": "cpu", "count": 1, "strategy_name": "default"}},
        "evaluation": {"labels": list(LABELS),
                       "all": _section(52, (0.8076923076923077, 0.6842105263157895, 0.7012),
                                       str(run / "confusion_all.png")),
                       "daylight": _section(40, (0.825, 0.7, 0.7123456789),
                                            str(run / "confusion_daylight.png")),
                       "night": {"n": 0, "note": "no night frames in the test split", "systems": {}}},
        "kfold": {"k": 5, "n": 240, "groups": 25, "systems": {
            "majority": {"balanced_accuracy": {"mean": 0.5, "std": 0.0, "folds": []},
                         "macro_f1": {"mean": 0.4, "std": 0.02, "folds": []},
                         "accuracy": {"mean": 0.7, "std": 0.1, "folds": []}}}},
        "export": {"int8": {"file": "airken-int8.tflite", "bytes": 450, "top1_agreement": 0.98,
                            "max_abs_prob_diff": 0.03, "n": 52}},
    }
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    head, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_folder_holds_models_labels_config_metrics_card(run_dir, tmp_path):
    folder = build_repo_folder(run_dir, tmp_path / "hub", REPO_ID)
    names = {p.name for p in folder.iterdir()}
    assert names == {"README.md", "LICENSE.md", "airken-float16.tflite", "airken-int8.tflite",
                     "labels.json", "preprocessing.json", "metrics.json", "confusion_all.png",
                     "confusion_daylight.png", "report.md"}
    assert (folder / "airken-int8.tflite").read_bytes() == (run_dir / "export" / "airken-int8.tflite").read_bytes()
    assert not list(folder.rglob("*.jpg")) and not list(folder.rglob("*.keras"))

    labels = json.loads((folder / "labels.json").read_text())
    assert labels["labels"] == list(LABELS)
    assert [c["pm25_band"] for c in labels["classes"]][0] == "PM2.5 < 30 \N{MICRO SIGN}g/m\N{SUPERSCRIPT THREE}"
    prep = json.loads((folder / "preprocessing.json").read_text())
    assert prep["input_size"] == 224 and prep["pixel_range"] == [0, 255]
    assert "uint8" in prep["inputs"]["airken-int8.tflite"]

    public = (folder / "metrics.json").read_text()
    assert str(tmp_path) not in public  # local paths reduced to file names
    assert json.loads(public)["evaluation"]["all"]["confusion_png"] == "confusion_all.png"


def test_model_index_holds_the_measured_numbers(run_dir, tmp_path):
    folder = build_repo_folder(run_dir, tmp_path / "hub", REPO_ID)
    card = (folder / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["license"] == "other" and meta["license_link"] == "LICENSE.md"
    assert meta["library_name"] == "tflite"
    assert meta["pipeline_tag"] == "image-classification"
    evaluation = json.loads((run_dir / "metrics.json").read_text())["evaluation"]

    [entry] = meta["model-index"]
    assert entry["name"] == "airken-test"
    seen = set()
    keys = {"accuracy": "accuracy", "balanced_accuracy": "balanced_accuracy", "f1": "macro_f1"}
    for result in entry["results"]:
        section = result["dataset"]["config"]
        for metric in result["metrics"]:
            expected = evaluation[section]["systems"]["model"][keys[metric["type"]]]
            assert metric["value"] == expected
            seen.add((section, metric["type"]))
    assert seen == {(s, k) for s in ("all", "daylight") for k in keys}  # night: no frames


def test_card_says_what_it_is_for_and_credits_the_data(run_dir, tmp_path):
    card = (build_repo_folder(run_dir, tmp_path / "hub", REPO_ID) / "README.md").read_text()
    for text in ("## Intended use", "## Evaluation", "## Limitations", "## Data credit",
                 "Non-commercial", "2025-02-06", "season", "One fixed camera",
                 "CC BY 4.0", "AQpictures", "0.808", "always the commonest band", "confusion_all.png"):
        assert text in card, text
    assert "doi:10.34740/KAGGLE/DS/3152196" not in card  # only the data sets this run used
    assert "CC BY 4.0" in (tmp_path / "hub" / "LICENSE.md").read_text()


def _lopo_dir(root: Path, network: tuple[float, float]) -> Path:
    """A train.lopo output folder (its metrics.json layout) with two places."""
    def res(a: float, b: float) -> dict:
        return {"per_place": {"alpha": {"balanced_accuracy": a, "support": {"healthy": 5, "moderate": 3, "danger": 0}},
                              "beta": {"balanced_accuracy": b, "support": {"healthy": 0, "moderate": 2, "danger": 9}}},
                "pooled": {"balanced_accuracy": (a + b) / 2, "macro_f1": 0.4,
                           "balanced_accuracy_95ci": {"low": 0.3, "high": 0.6}},
                "spread": {"balanced_accuracy": {"min": min(a, b), "max": max(a, b)}}}
    lopo = {"folds": {"alpha": {"test": 8}, "beta": {"test": 11}},
            "train_settings": {"epoch_frames": 384, "head_epochs": 40, "finetune_epochs": 5, "patience": 2,
                               "batch_size": 32, "unfreeze": 100},
            "lopo": {"network": res(*network), "colour": res(0.45, 0.5), "linear_probe": res(0.4, 0.42),
                     "majority": res(0.333, 0.333), "network_fused": res(0.9, 0.9)}}
    folder = root / "lopo"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(lopo))
    return folder


def _bundled(run_dir: Path, tmp_path: Path, network: tuple[float, float]) -> Path:
    """metrics.json as train.bundle writes it for this run's int8 file: with the per-place table."""
    from airken.core.manifest import sha256_file

    metrics = with_places(json.loads((run_dir / "metrics.json").read_text()), _lopo_dir(tmp_path, network))
    metrics["model_sha256"] = sha256_file(run_dir / "export" / "airken-int8.tflite")
    path = tmp_path / "models" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps(metrics))
    return path


def test_card_and_metrics_carry_the_per_place_table(run_dir, tmp_path):
    folder = build_repo_folder(run_dir, tmp_path / "hub", REPO_ID, _bundled(run_dir, tmp_path, (0.40, 0.44)))
    card = (folder / "README.md").read_text()
    assert card.index("## On places it has never seen") < card.index("## Evaluation")
    assert "| alpha | 8 | 0.40 | 0.45 | 0.40 | 0.33 |" in card
    assert "**0.42** (0.30-0.60)" in card
    assert "not better than the colour/haze baseline (0.47)" in card  # the honest verdict, computed
    places = json.loads((folder / "metrics.json").read_text())["places"]
    assert places["system"] == "network" and set(places["per_place"]) == {"alpha", "beta"}
    assert "network_fused" not in places["pooled"]  # only this model's row and the baselines


def test_the_bundled_metrics_are_published_as_they_are(run_dir, tmp_path):
    bundled = _bundled(run_dir, tmp_path, (0.40, 0.44))
    shipped = json.loads(bundled.read_text())
    shipped["calibration"] = {"temperature": 1.3, "uncertain_below": 0.61}  # as bundle chose it
    bundled.write_text(json.dumps(shipped))
    assert push_mod.published_metrics(run_dir, bundled.parent) == bundled
    folder = build_repo_folder(run_dir, tmp_path / "hub", REPO_ID, bundled)
    assert json.loads((folder / "metrics.json").read_text())["calibration"] == shipped["calibration"]


def test_metrics_of_another_model_are_not_published(run_dir, tmp_path):
    bundled = _bundled(run_dir, tmp_path, (0.40, 0.44))
    (run_dir / "export" / "airken-int8.tflite").write_bytes(b"TFL3-retrained")
    assert push_mod.published_metrics(run_dir, bundled.parent) == run_dir / "metrics.json"
    with pytest.raises(ValueError, match="another model"):
        build_repo_folder(run_dir, tmp_path / "hub", REPO_ID, bundled)
    assert main(["--run", str(run_dir), "--repo-id", REPO_ID, "--dry-run", "--metrics", str(bundled)]) == 2


def test_per_place_verdict_follows_the_numbers(run_dir, tmp_path):
    from airken.card.measurements import verdict

    good = with_places({}, _lopo_dir(tmp_path, (0.7, 0.8)))["places"]
    assert verdict(good).startswith("Pooled over the places, it scores 0.75 against 0.47")
    assert "inside the noise" in verdict(good) and "from 0.70 to 0.80" in verdict(good)
    with pytest.raises(ValueError, match="nope"):
        with_places({}, tmp_path / "lopo", system="nope")


def test_unknown_data_folders_credit_both_data_sets(run_dir, tmp_path):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["config"]["data"], metrics["data"]["folders"] = ["/somewhere/photos"], {}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    card = (build_repo_folder(run_dir, tmp_path / "hub", REPO_ID) / "README.md").read_text()
    assert "doi:10.34740/KAGGLE/DS/3152196" in card and "AQpictures" in card
    assert "CC BY-NC-SA 3.0 IGO" in card


class RecordingApi:
    def __init__(self):
        self.calls: list[tuple[str, tuple, dict]] = []

    def create_repo(self, *args, **kwargs):
        self.calls.append(("create_repo", args, kwargs))

    def create_branch(self, *args, **kwargs):
        self.calls.append(("create_branch", args, kwargs))

    def upload_folder(self, *args, **kwargs):
        self.calls.append(("upload_folder", args, kwargs))
        return SimpleNamespace(commit_url=f"https://hub.example/{kwargs['repo_id']}/commit/abc123",
                               oid="abc123")


def test_push_creates_the_repo_then_uploads(run_dir, tmp_path):
    folder = build_repo_folder(run_dir, tmp_path / "hub", REPO_ID)
    api = RecordingApi()
    pushed = push(folder, REPO_ID, private=True, api=api)
    assert pushed.url.endswith("/commit/abc123") and pushed.commit == "abc123"
    (name1, args1, kw1), (name2, args2, kw2) = api.calls
    assert name1 == "create_repo" and args1 == (REPO_ID,)
    assert kw1 == {"repo_type": "model", "exist_ok": True, "private": True}
    assert name2 == "upload_folder" and not args2
    assert kw2["repo_id"] == REPO_ID and kw2["repo_type"] == "model"
    assert Path(kw2["folder_path"]) == folder and kw2["revision"] is None


def test_push_to_a_branch_creates_it(run_dir, tmp_path):
    folder = build_repo_folder(run_dir, tmp_path / "hub", REPO_ID)
    api = RecordingApi()
    push(folder, REPO_ID, api=api, revision="v2")
    assert [c[0] for c in api.calls] == ["create_repo", "create_branch", "upload_folder"]
    assert api.calls[1][2]["branch"] == "v2" and api.calls[2][2]["revision"] == "v2"


def test_push_builds_hfapi_from_env(run_dir, tmp_path, monkeypatch):
    made = {}

    class FakeHfApi(RecordingApi):
        def __init__(self, endpoint=None, token=None):
            super().__init__()
            made.update(endpoint=endpoint, token=token)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    push(build_repo_folder(run_dir, tmp_path / "hub", REPO_ID), REPO_ID, token="hf_x")
    assert made == {"endpoint": "http://127.0.0.1:9", "token": "hf_x"}


def _bundled_model(run_dir: Path, models: Path, name: str = "airken-int8.tflite") -> Path:
    """What train.bundle leaves in the app's models folder (by hand: its example check needs a real model)."""
    models.mkdir()
    shutil.copyfile(run_dir / "export" / name, models / "airken.tflite")
    write_manifest(models, "airken.tflite", repo_id=REPO_ID, revision="main", hub_filename=name,
                   extra={"variant": "int8"})
    return models


_RESOLVE = "import json, sys, pathlib; from airken.core.weights import resolve_model; " \
           "print(json.dumps(resolve_model(bundled_dir=pathlib.Path(sys.argv[1])).to_dict()))"


def _resolve_in_an_app(models: Path, hub, hf_home: Path) -> dict:
    """What a running app picks, in a fresh interpreter that may reach the fake Hub."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "AIRKEN_"))}
    env |= {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", _RESOLVE, str(models)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_publishing_pins_the_app_to_the_commit_it_pushed(run_dir, tmp_path, online_hub):
    models = _bundled_model(run_dir, tmp_path / "models")
    assert main(["--run", str(run_dir), "--repo-id", REPO_ID, "--token", "hf_x", "--models-dir", str(models)]) == 0
    commit = online_hub.repos[REPO_ID].refs["main"]
    sha = sha256_file(run_dir / "export" / "airken-int8.tflite")
    manifest = read_manifest(models)
    assert manifest["hub"] == {"repo_id": REPO_ID, "revision": commit, "filename": "airken-int8.tflite",
                               "sha256": sha}
    assert (manifest["sha256"], manifest["variant"]) == (sha, "int8")
    online_hub.add_commit(REPO_ID, {"airken-int8.tflite": b"TFL3 a later model"}, ref="main")  # main moves on
    app = _resolve_in_an_app(models, online_hub, tmp_path / "hf")
    assert (app["source"], app["revision"], app["sha256"]) == ("hub", commit, sha)


def test_publishing_another_runs_model_is_refused_before_the_upload(run_dir, tmp_path, online_hub):
    models = tmp_path / "models"
    models.mkdir()
    (models / "airken.tflite").write_bytes(b"TFL3 another run")
    write_manifest(models, "airken.tflite", repo_id=REPO_ID)
    assert main(["--run", str(run_dir), "--repo-id", REPO_ID, "--token", "hf_x", "--models-dir", str(models)]) == 2
    assert online_hub.commit_log == [] and read_manifest(models)["hub"]["revision"] == "main"


def test_cli_dry_run(run_dir, tmp_path):
    out = tmp_path / "folder"
    assert main(["--run", str(run_dir), "--repo-id", REPO_ID, "--dry-run", "--out", str(out)]) == 0
    assert (out / "README.md").is_file()
    assert main(["--run", str(tmp_path / "nope"), "--repo-id", REPO_ID, "--dry-run"]) == 2


def test_cli_dry_run_as_a_program(run_dir):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "train.push", "--run", str(run_dir),
                           "--repo-id", REPO_ID, "--dry-run"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "dry run" in proc.stdout and "airken-int8.tflite" in proc.stdout
    assert (run_dir / "hub" / "README.md").is_file()


def test_module_names_match_the_export(run_dir):
    export = pytest.importorskip("train.export")
    assert {export.FLOAT16_NAME, export.INT8_NAME} == set(push_mod.MODEL_FILES)
