"""float32 vs float16 vs int8 TFLite: file size, LiteRT latency with 1 and 2 threads, and
agreement with the Keras model.

    python -m bench.model_variants [--run-dir runs/both] [--json OUT]

float32 is converted here from RUN_DIR/model.keras (no optimisations, into a temp dir);
float16 and int8 are the exported files in RUN_DIR/export/. Held-out agreement is copied
from RUN_DIR/metrics.json (["export"]) where the training run measured it; agreement with
Keras on the example photos in assets/examples/ is measured here for every variant.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from airken.examples import EXAMPLES_DIR as EXAMPLES
from bench import RUN_DIR, report, shown, summary, timed

log = logging.getLogger("bench.model_variants")

EXPORTED = {"float16": "airken-float16.tflite", "int8": "airken-int8.tflite"}


def convert_float32(keras_model, out_dir: Path) -> Path:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    path = out_dir / "airken-float32.tflite"
    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the whole exported signature
        path.write_bytes(converter.convert())
    return path


def example_inputs() -> tuple[list[str], np.ndarray]:
    """The example photos as model input (uint8, 224x224), decoded the way the app does."""
    from airken.core.intake import load_image
    from airken.core.preprocess import to_model_input

    paths = sorted(EXAMPLES.glob("*.jpg"))
    return [p.name for p in paths], np.stack([to_model_input(load_image(p)) for p in paths])


def latency(path: Path, threads: int, x: np.ndarray, reps: int) -> dict:
    from airken.core.model import TFLiteModel

    model = TFLiteModel(path, threads=threads, instances=1)
    return summary(timed(lambda: model.predict_proba(x), reps, warmup=3))


def probabilities(path: Path, xs: np.ndarray) -> np.ndarray:
    from airken.core.model import TFLiteModel

    model = TFLiteModel(path, threads=1)
    return np.stack([model.predict_proba(x) for x in xs])


def held_out_parity(run_dir: Path) -> dict:
    """The training run's TFLite-vs-Keras parity on held-out images, if it recorded it."""
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    export = metrics.get("export") or {}
    keep = ("top1_agreement", "max_abs_prob_diff", "n")
    return {kind: {k: v[k] for k in keep if k in v} for kind, v in export.items() if isinstance(v, dict)}


def run(run_dir: Path = RUN_DIR, reps: int = 50) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = run_dir / "model.keras"
    if not saved.is_file():
        return {"skipped": f"{saved} not found (train a model first)"}
    from tensorflow import keras

    keras_model = keras.models.load_model(saved, compile=False)
    names, xs = example_inputs()
    keras_probs = keras_model(xs.astype(np.float32), training=False).numpy()
    parity = held_out_parity(run_dir)
    with tempfile.TemporaryDirectory(prefix="airken-variants-") as tmp:
        files = {"float32": convert_float32(keras_model, Path(tmp))}
        files |= {k: run_dir / "export" / f for k, f in EXPORTED.items() if (run_dir / "export" / f).is_file()}
        rows = []
        for kind, path in files.items():
            probs = probabilities(path, xs)
            agree = float(np.mean(probs.argmax(1) == keras_probs.argmax(1)))
            rows.append({
                "variant": kind,
                "file": path.name,
                "size_mb": round(path.stat().st_size / 1e6, 2),
                "latency_1_thread": latency(path, 1, xs[0], reps),
                "latency_2_threads": latency(path, 2, xs[0], reps),
                "examples_top1_agreement_with_keras": round(agree, 3),
                "examples_max_abs_prob_diff": round(float(np.abs(probs - keras_probs).max()), 4),
                "held_out_parity": parity.get(kind),
            })
    return {
        "run_dir": shown(run_dir),
        "examples": {"n": len(names), "where": "assets/examples/*.jpg"},
        "held_out_parity_from": "metrics.json export section" if parity else None,
        "variants": rows,
    }


def table(result: dict) -> str:
    if "skipped" in result:
        return f"(skipped: {result['skipped']})"
    n = result["examples"]["n"]
    lines = [
        f"| variant | size MB | p50 ms, 1 thread | p50 ms, 2 threads | top-1 agreement with Keras, held out "
        f"| top-1 agreement with Keras, {n} examples | max abs prob diff, examples |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["variants"]:
        held = r["held_out_parity"]
        held_txt = f"{held['top1_agreement']:.3f} (n={held.get('n')})" if held and "top1_agreement" in held else "-"
        lines.append(
            f"| {r['variant']} | {r['size_mb']} | {r['latency_1_thread']['p50_ms']:.1f} "
            f"| {r['latency_2_threads']['p50_ms']:.1f} | {held_txt} "
            f"| {r['examples_top1_agreement_with_keras']:.3f} | {r['examples_max_abs_prob_diff']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, default=RUN_DIR)
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    result = run(args.run_dir, args.reps)
    report(result, table(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
