"""What a finished leave-one-place-out run gives the model that ships.

train.lopo writes OUT/metrics.json, train.verdicts OUT/verdicts.json and train.airstudy
OUT/airstudy.json; train.bundle reads them into the shipped metrics.json through with_places:
the per-place table beside the baselines, the verdicts' compact block, the verdict rule the
air model study chose on the held-out places (photo weights, the air model's error, what
confidence means and the unsure lines: airken.core.rule) with its compact summary, and the
older single unsure threshold (unsure_threshold, the one place it is written). JSON only.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airken.core.classes import LABELS

# The train.train settings a LOPO run passes on to every fold, and its summary shows.
TRAIN_SETTINGS = ("epoch_frames", "head_epochs", "finetune_epochs", "patience", "batch_size", "unfreeze",
                  "backbone", "balance", "target", "haze_rank", "place_rank", "crop_top")


def summary(metrics: dict[str, Any], system: str = "network") -> dict[str, Any]:
    """The compact leave-one-place-out block a shipped model carries in its metrics.json
    (model card, the app's About tab): per place and pooled balanced accuracy of ``system``
    beside the baselines."""
    lopo = metrics["lopo"]
    if system not in lopo:
        raise ValueError(f"{system!r} is not in this LOPO run (has: {', '.join(lopo)})")
    shown = [system, "colour", "linear_probe", "majority"]
    per_place = {}
    for place, fold in metrics["folds"].items():
        m = lopo[system]["per_place"][place]
        per_place[place] = {"frames": fold["test"], "classes": m["support"],
                            "balanced_accuracy": {s: lopo[s]["per_place"][place]["balanced_accuracy"]
                                                  for s in shown}}
    pooled = {s: {"balanced_accuracy": lopo[s]["pooled"]["balanced_accuracy"],
                  "macro_f1": lopo[s]["pooled"]["macro_f1"],
                  "balanced_accuracy_95ci": lopo[s]["pooled"].get("balanced_accuracy_95ci"),
                  "per_place_min": lopo[s]["spread"]["balanced_accuracy"]["min"],
                  "per_place_max": lopo[s]["spread"]["balanced_accuracy"]["max"]} for s in shown}
    return {"protocol": "leave one place out: trained on the other places, tested on every daylight frame "
                        "of the held-out place", "system": system, "systems": shown, "chance": 1 / len(LABELS),
            "train_settings": settings_of(metrics),
            "per_place": per_place, "pooled": pooled}


def settings_of(metrics: dict[str, Any]) -> dict[str, Any]:
    """The train.train settings a LOPO run used (runs from before a setting existed lack it)."""
    return {k: metrics["train_settings"][k] for k in TRAIN_SETTINGS if k in metrics["train_settings"]}


def verdict_summary(found: dict) -> dict:
    """The compact part of train.verdicts a model carries: prior, unsure answers, three-offset profiles."""
    sel = found["selective"]["world"]
    return {"prior": {name: {k: t["pooled"][k] for k in ("balanced_accuracy", "ece", "accuracy")}
                      for name, t in found["priors"].items()},
            "unsure": {k: sel["unsure_threshold"][k] for k in ("ship", "coverage", "accuracy_kept", "accuracy_all")},
            "coverage": {key.removeprefix("coverage_"): {k: row[k] for k in ("coverage", "accuracy_kept")}
                         for key, row in sel.items() if key.startswith("coverage_")},
            "few_shot": {key: {k: row[k] for k in ("k", "places", "pooled_ba_mean", "pooled_ba_std",
                                                   "zero_shot_same_frames")}
                         for key, row in found["few_shot"].items() if key.startswith("k")}}


def unsure_threshold(calibration: dict, found: dict) -> dict:
    """The run's calibration block with the unsure threshold that ships: the one train.verdicts
    chose on places the model never saw (``found``: its block of this model's recipe), the
    one chosen on validation days kept beside it."""
    unsure = found["selective"]["world"]["unsure_threshold"]
    return {**calibration, "uncertain_below": unsure["ship"],
            "uncertain_below_validation_days": calibration.get("uncertain_below"),
            "uncertain_rule": f"lowest confidence above which {unsure['target_accuracy']:.0%} of the answers on "
                              "the leave-one-place-out held-out places were right (world prior)"}


def with_places(metrics: dict, lopo_dir: str | Path | None, system: str | None = None) -> dict:
    """metrics plus the leave-one-place-out block of a train.lopo run (model card, About tab)
    and, when the run has verdicts, their block and the unsure threshold they chose.
    ``system``: the LOPO row of this model's recipe; by default the fused network when the
    run fuses (metrics "fusion"), else the network alone."""
    if lopo_dir is None:
        return metrics
    system = system or ("network_fused" if metrics.get("fusion") else "network")
    lopo = json.loads((Path(lopo_dir) / "metrics.json").read_text())
    out = {**metrics, "places": summary(lopo, system)}
    verdicts_file = Path(lopo_dir) / "verdicts.json"
    found = json.loads(verdicts_file.read_text()).get(system) if verdicts_file.is_file() else None
    if found:
        out["places"]["verdicts"] = verdict_summary(found)
        out["calibration"] = unsure_threshold(metrics.get("calibration", {}), found)
    return with_air_model_study(out, Path(lopo_dir) / "airstudy.json", system)


def with_air_model_study(metrics: dict, path: Path, system: str) -> dict:
    """metrics plus the verdict rule and the summary of train.airstudy's run on this recipe."""
    if not path.is_file():
        return metrics
    study = json.loads(path.read_text())
    if study.get("system") != system:
        raise ValueError(f"{path} studied {study.get('system')!r}, not this model's recipe {system!r}")
    return {**metrics, "verdict_rule": study["verdict_rule"], "air_model_study": study["summary"]}
