"""Put a trained run's model where the app loads it: airken/models/.

    python -m train.bundle --run runs/both [--lopo runs/lopo] [--variant auto|int8|float16]

Copies the chosen TFLite file as airken.tflite, its metrics.json (stamped with the file's
sha256 so the app shows the numbers of exactly this file; with --lopo, the per-place
table of a train.lopo run), the model card, and writes
manifest.json with the sha256 the app verifies before loading. The Hub pin in the manifest
names the repo and file the model is published to with `python -m train.push`, which then
replaces the revision ("main" until then) with the commit it pushed.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from airken.core.weights import sha256_file, write_manifest

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent.parent / "airken" / "models"
DEFAULT_REPO = "airken/airken-sky-pm25"
INT8_MIN_AGREEMENT = 0.97  # below this the int8 file is not trusted to stand in for Keras


def choose_variant(metrics: dict, variant: str = "auto") -> str:
    """int8 when its held-out agreement with Keras is high enough (smaller, faster), else float16."""
    if variant != "auto":
        return variant
    int8 = metrics.get("export", {}).get("int8", {})
    return "int8" if int8.get("top1_agreement", 0.0) >= INT8_MIN_AGREEMENT else "float16"


def read_examples(run_dir: Path, metrics: dict) -> dict:
    """The app's example photos, read by the exported file this run would ship, with these
    metrics (fusion, calibration, prior): a sanity table, never used for fitting."""
    from airken.core.model import TFLiteModel
    from airken.core.predictor import Predictor
    from airken.core.weights import ModelSource
    from airken.examples import markdown, read_examples, summary

    path = run_dir / "export" / metrics["export"][choose_variant(metrics)]["file"]
    source = ModelSource(path, "local", None, None, sha256_file(path), path.name)
    rows = read_examples(Predictor(TFLiteModel(path), source, metrics=metrics))
    return {"rows": rows, "summary": summary(rows), "markdown": markdown(rows)}


def bundle(run_dir: Path, variant: str = "auto", models_dir: Path = MODELS_DIR, repo_id: str = DEFAULT_REPO,
           revision: str = "main", lopo_dir: Path | None = None, lopo_system: str | None = None) -> Path:
    from train.push import public_metrics, run_model_card, with_places

    metrics = public_metrics(with_places(json.loads((run_dir / "metrics.json").read_text()), lopo_dir, lopo_system))
    chosen = choose_variant(metrics, variant)
    metrics["examples"] = read_examples(run_dir, metrics)  # as shipped: with the LOPO unsure threshold
    source = run_dir / "export" / f"airken-{chosen}.tflite"
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / "airken.tflite"
    shutil.copyfile(source, target)
    digest = sha256_file(target)
    metrics["model_sha256"] = digest
    metrics["model_variant"] = chosen
    (models_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (models_dir / "MODEL_CARD.md").write_text(run_model_card(run_dir, repo_id, metrics), encoding="utf-8")
    # The Hub repo holds the file under its export name; train.push pins the commit it makes.
    write_manifest(models_dir, target.name, repo_id=repo_id, revision=revision, hub_filename=source.name,
                   extra={"variant": chosen, "source_file": source.name})
    log.info("bundled %s (%s, sha256 %s) into %s", source, chosen, digest, models_dir)
    return target


def main(argv: list[str] | None = None) -> None:
    from train.push import add_lopo_args

    p = argparse.ArgumentParser(prog="python -m train.bundle", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="run directory written by train.train")
    p.add_argument("--variant", choices=["auto", "int8", "float16"], default="auto")
    p.add_argument("--repo-id", default=DEFAULT_REPO, help="Hub repo the app may fetch newer weights from")
    p.add_argument("--revision", default="main", help="pinned Hub revision (a commit hash once published)")
    p.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    add_lopo_args(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    bundle(args.run, args.variant, args.models_dir, args.repo_id, args.revision, args.lopo, args.lopo_system)


if __name__ == "__main__":
    main()
