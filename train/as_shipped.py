"""The exported model as the app runs it: which file ships, and what it says of the example photos.

train.train reads the examples with its fresh export (report.md), train.bundle again with the
metrics it ships; both through here, so that training needs nothing from publishing.
"""
from __future__ import annotations

from pathlib import Path

from airken.core.manifest import sha256_file

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
