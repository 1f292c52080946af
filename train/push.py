"""Publish a training run as a Hugging Face model repository.

    python -m train.push --run runs/both --repo-id OWNER/airken-sky-pm25 [--metrics FILE] [--revision main]
                         [--private] [--dry-run] [--out FOLDER] [--models-dir airken/models] [--no-pin]

Publishes the numbers as they ship: the metrics.json ``python -m train.bundle`` wrote (with the
per-place table and the unsure threshold chosen on held-out places) when it is of this run's
model, else the run's own; ``--metrics`` names another. Nothing here changes them. Reads the
run directory that ``python -m train.train`` writes:

    RUN/metrics.json                   measured numbers (required)
    RUN/export/airken-float16.tflite   float16 weights, float32 input (at least one of the two)
    RUN/export/airken-int8.tflite      full-integer, uint8 input
    RUN/confusion_*.png                confusion matrices (optional)
    RUN/report.md                      evaluation report (optional)

and builds the repository folder (default RUN/hub): the .tflite files, labels.json,
preprocessing.json, metrics.json, the confusion PNGs, report.md, LICENSE.md and README.md, a
model card whose ``model-index`` holds the measured held-out metrics from metrics.json. No
data photo is ever copied. ``--dry-run`` stops after building the folder; otherwise it is
uploaded with huggingface_hub (token: --token, else HF_TOKEN, else the saved login; endpoint:
HF_ENDPOINT), and the app's manifest (``--models-dir``, default airken/models, where
``train.bundle`` put this run's model) is pinned to the commit just made: its Hub file, that
commit's id and the sha256, so that every running app asks the Hub for exactly this file.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airken.card.datasets import datasets_used
from airken.core.classes import CLASSES, LABELS
from airken.core.manifest import PACKAGE_MODELS_DIR, read_manifest, sha256_file, write_manifest
from airken.core.preprocess import MODEL_INPUT_SIZE
from train.model_card import MODEL_FILES, license_text, model_card

log = logging.getLogger(__name__)

# --- the folder ----------------------------------------------------------------------------

def build_repo_folder(run_dir: str | Path, out_dir: str | Path, repo_id: str,
                      metrics_file: str | Path | None = None) -> Path:
    """Write the model repository folder for run_dir into out_dir (replaced if present), with
    the numbers of ``metrics_file`` (default: published_metrics) as they are."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    models = _exported_models(run_dir)
    metrics = _read_metrics(run_dir, Path(metrics_file) if metrics_file else published_metrics(run_dir))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for path in models:
        shutil.copyfile(path, out_dir / path.name)
    pngs = _confusion_pngs(run_dir)
    for path in pngs:
        shutil.copyfile(path, out_dir / path.name)
    if (run_dir / "report.md").is_file():
        shutil.copyfile(run_dir / "report.md", out_dir / "report.md")
    _write_json(out_dir / "labels.json", labels_json())
    _write_json(out_dir / "preprocessing.json", preprocessing_json([p.name for p in models]))
    _write_json(out_dir / "metrics.json", public_metrics(metrics))
    (out_dir / "LICENSE.md").write_text(license_text(datasets_used(metrics)), encoding="utf-8")
    (out_dir / "README.md").write_text(run_model_card(run_dir, repo_id, metrics), encoding="utf-8")
    log.info("built %s for %s: %s", out_dir, repo_id, ", ".join(sorted(p.name for p in out_dir.iterdir())))
    return out_dir


def published_metrics(run_dir: Path, models_dir: Path = PACKAGE_MODELS_DIR) -> Path:
    """train.bundle's metrics.json when it is of one of run_dir's exported files, else the run's own."""
    bundled = models_dir / "metrics.json"
    if bundled.is_file():
        shipped = json.loads(bundled.read_text(encoding="utf-8")).get("model_sha256")
        if shipped in {sha256_file(p) for p in _exported_models(run_dir)}:
            return bundled
    log.warning("%s is not of this run's model: publishing %s without the per-place table and the unsure "
                "threshold chosen on held-out places (run python -m train.bundle --run %s --lopo LOPO first)",
                bundled, run_dir / "metrics.json", run_dir)
    return run_dir / "metrics.json"


def labels_json() -> dict:
    return {
        "labels": list(LABELS),
        "id2label": {str(c.index): c.name for c in CLASSES},
        "classes": [{"index": c.index, "name": c.name, "pm25_band": c.band, "colour": c.colour,
                     "headline": c.headline} for c in CLASSES],
    }


def preprocessing_json(files: list[str]) -> dict:
    return {
        "input_size": MODEL_INPUT_SIZE,
        "input_shape": [1, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 3],
        "layout": "NHWC",
        "colour": "RGB",
        "orientation": "apply the EXIF orientation first",
        "resize": (f"whole frame to {MODEL_INPUT_SIZE}x{MODEL_INPUT_SIZE}, bilinear "
                   "(PIL Image.BILINEAR), no crop, aspect ratio not kept"),
        "pixel_range": [0, 255],
        "normalisation": "inside the model: (x - 127) / 128; feed plain pixels",
        "inputs": {name: MODEL_FILES[name] for name in files},
        "output": "softmax probabilities over labels.json 'labels', in that order",
        "reference_code": "airken/core/preprocess.py: to_model_input()",
    }


def run_model_card(run_dir: Path, repo_id: str, metrics: dict | None = None) -> str:
    """The model card of a run, as build_repo_folder writes it (README.md of the Hub repo)."""
    metrics = metrics if metrics is not None else _read_metrics(run_dir)
    files = [p.name for p in _exported_models(run_dir)]
    pngs = [p.name for p in _confusion_pngs(run_dir)]
    return model_card(metrics, repo_id, files, pngs, datasets_used(metrics), _measured_caveats(metrics))


def _measured_caveats(metrics: dict) -> list[str]:
    """The evaluation's own count-based caveats (train.evaluate), when it can be imported."""
    try:
        from train.evaluate import caveats
    except ImportError:
        return []
    try:
        notes = caveats(metrics.get("evaluation", {}))
    except (KeyError, TypeError, ValueError):
        log.debug("no caveats from metrics.json", exc_info=True)
        return []
    return [n for n in notes if not n.startswith("Labels are hourly PM2.5")]


def _exported_models(run_dir: Path) -> list[Path]:
    models = [run_dir / "export" / name for name in MODEL_FILES if (run_dir / "export" / name).is_file()]
    if not models:
        raise FileNotFoundError(f"no .tflite files in {run_dir / 'export'}: expected "
                                f"{' or '.join(MODEL_FILES)} (run train.train with export on)")
    return models


def _confusion_pngs(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("confusion_*.png"))


# --- upload --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pushed:
    url: str  # the commit's page
    commit: str  # its 40-hex id: the revision the app's manifest pins


def push(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False,
         api: Any = None, revision: str | None = None, commit_message: str | None = None) -> Pushed:
    """Create the model repo if needed and upload folder; returns the commit it made."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(endpoint=os.environ.get("HF_ENDPOINT"), token=token)
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    if revision and revision != "main":
        api.create_branch(repo_id, repo_type="model", branch=revision, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id, repo_type="model", folder_path=str(folder), revision=revision,
        commit_message=commit_message or "Upload Airken model, labels, preprocessing and metrics",
    )
    pushed = Pushed(url=str(info.commit_url), commit=str(info.oid))  # huggingface_hub's CommitInfo
    log.info("uploaded %s to %s: %s", folder, repo_id, pushed.url)
    return pushed


def bundled_file_in(folder: str | Path, models_dir: str | Path) -> str | None:
    """The name of the file in the repo folder that is the app's bundled model (same sha256),
    or None when train.bundle shipped another run's model."""
    bundled = read_manifest(models_dir).get("sha256")
    return next((p.name for p in sorted(Path(folder).glob("*.tflite")) if sha256_file(p) == bundled), None)


def pin_manifest(models_dir: str | Path, folder: str | Path, repo_id: str, commit: str) -> Path:
    """Point the app's manifest at the commit just pushed: the Hub file that is the bundled
    model, at that revision, checked against the same sha256."""
    manifest = read_manifest(models_dir)
    name = bundled_file_in(folder, models_dir)
    if name is None:
        raise ValueError(f"the model bundled in {models_dir} is not among the files of {folder}")
    extra = {k: v for k, v in manifest.items() if k not in ("format", "filename", "sha256", "size", "hub")}
    return write_manifest(models_dir, manifest["filename"], repo_id=repo_id, revision=commit,
                          hub_filename=name, extra=extra)


# --- helpers -------------------------------------------------------------------------------


def _read_metrics(run_dir: Path, path: Path | None = None) -> dict:
    """The metrics at ``path`` (default: the run's); ones stamped with a model's sha256 must be
    of one of the run's exported files."""
    path = path or run_dir / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a finished train.train run?")
    metrics = json.loads(path.read_text(encoding="utf-8"))
    stamped = metrics.get("model_sha256")
    if stamped and stamped not in {sha256_file(p) for p in _exported_models(run_dir)}:
        raise ValueError(f"{path} is the metrics of another model (sha256 {stamped}), not of {run_dir}")
    return metrics


def public_metrics(obj: Any) -> Any:
    """metrics.json without local paths: absolute paths become their file names."""
    if isinstance(obj, dict):
        return {k: public_metrics(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [public_metrics(v) for v in obj]
    if isinstance(obj, str) and os.path.isabs(obj):
        return Path(obj).name
    return obj


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.push", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="run directory written by train.train")
    p.add_argument("--repo-id", required=True, help="Hub model repo, OWNER/NAME")
    p.add_argument("--revision", default=None, help="branch to upload to (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or saved login)")
    p.add_argument("--dry-run", action="store_true", help="build the folder, upload nothing")
    p.add_argument("--out", type=Path, default=None, help="folder to build (default: RUN/hub)")
    p.add_argument("--metrics", type=Path, default=None, help="metrics.json to publish (default: the one "
                   "train.bundle wrote when it is of this run's model, else RUN/metrics.json)")
    p.add_argument("--models-dir", type=Path, default=PACKAGE_MODELS_DIR,
                   help="the app's models folder (train.bundle's): its manifest is pinned to the pushed commit")
    p.add_argument("--no-pin", action="store_true", help="publish without pinning the app's manifest")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        folder = build_repo_folder(args.run, args.out or args.run / "hub", args.repo_id, args.metrics)
    except (FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    if args.dry_run:
        print(f"dry run: {folder} is ready for {args.repo_id}; nothing uploaded")
        for path in sorted(folder.iterdir()):
            print(f"  {path.name:28s} {path.stat().st_size:>10d} bytes")
        return 0
    if not args.no_pin and bundled_file_in(folder, args.models_dir) is None:  # said before anything is uploaded
        log.error("the model in %s is not one of this run's files: run python -m train.bundle --run %s first "
                  "(or publish with --no-pin)", args.models_dir, args.run)
        return 2
    try:
        pushed = push(folder, args.repo_id, token=args.token, private=args.private, revision=args.revision)
    except Exception as exc:  # network, auth, permissions: say what to check, keep the trace in debug
        log.debug("upload failed", exc_info=True)
        log.error("upload to %s failed: %s. Check HF_TOKEN (or `hf auth login` / `huggingface-cli "
                  "login`), write access to the repo, and that HF_HUB_OFFLINE is not set.", args.repo_id, exc)
        return 1
    print(pushed.url)
    if not args.no_pin:
        print(f"pinned {pin_manifest(args.models_dir, folder, args.repo_id, pushed.commit)} to "
              f"{args.repo_id}@{pushed.commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
