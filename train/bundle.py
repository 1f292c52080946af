"""Put a trained run's model where the app loads it: airken/models/.

    python -m train.bundle --run runs/both [--lopo runs/lopo] [--variant auto|int8|float16]

Copies the chosen TFLite file as airken.tflite, its metrics.json (stamped with the file's
sha256 so the app shows the numbers of exactly this file; with --lopo, the per-place
table of a train.lopo run and the unsure threshold its verdicts chose on held-out places:
train.lopo_summary.with_places), the model card, and writes
manifest.json with the sha256 the app verifies before loading. The Hub pin in the manifest
names the repo and file the model is published to with `python -m train.push`, which
publishes the metrics.json written here as it is and then replaces the revision ("main"
until then) with the commit it pushed.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from airken.core.manifest import PACKAGE_MODELS_DIR, sha256_file, write_manifest
from train.as_shipped import choose_variant, read_examples
from train.lopo_summary import with_places
from train.push import public_metrics, run_model_card

log = logging.getLogger(__name__)

MODELS_DIR = PACKAGE_MODELS_DIR
DEFAULT_REPO = "airken/airken-sky-pm25"


def bundle(run_dir: Path, variant: str = "auto", models_dir: Path = MODELS_DIR, repo_id: str = DEFAULT_REPO,
           revision: str = "main", lopo_dir: Path | None = None, lopo_system: str | None = None) -> Path:
    """Put run_dir's model into models_dir with the metrics it ships (see the module's docstring)."""
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
    p = argparse.ArgumentParser(prog="python -m train.bundle", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, type=Path, help="run directory written by train.train")
    p.add_argument("--variant", choices=["auto", "int8", "float16"], default="auto")
    p.add_argument("--repo-id", default=DEFAULT_REPO, help="Hub repo the app may fetch newer weights from")
    p.add_argument("--revision", default="main", help="pinned Hub revision (a commit hash once published)")
    p.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    p.add_argument("--lopo", type=Path, default=None, help="train.lopo output folder: its per-place table "
                   "and the unsure threshold its verdicts chose go into the card and metrics.json")
    p.add_argument("--lopo-system", default=None, help="the LOPO row that is this model's recipe "
                   "(default: network_fused when the run fuses, else network)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    bundle(args.run, args.variant, args.models_dir, args.repo_id, args.revision, args.lopo, args.lopo_system)


if __name__ == "__main__":
    main()
