"""The frozen-feature study, top to bottom (``python -m train.places``): read and scan the
folders, compute the features, leave one place out with every system and the recipe search,
then the held-out days of one place with the date/hour control; metrics.json and report.md.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from airken.card import measurements
from airken.core.classes import LABELS
from train import calibrate, data, evaluate, log_to
from train.places.features import VIEWS, LiteFeatures, PixelFeatures, compute_features, load_samples, thin
from train.places.folds import (
    Fold,
    Run,
    _spread,
    calibration_block,
    days_metrics,
    days_split,
    lopo_calibration,
    lopo_folds,
    lopo_metrics,
    pooled_ba,
    run_lopo,
    split_dates,
)
from train.places.report import write_report
from train.places.systems import (
    Context,
    HeadSettings,
    Recipe,
    System,
    fit_colour,
    fit_date_hour,
    fit_majority,
    fit_probe,
    fit_recipe,
    make_head,
)

log = logging.getLogger("train.places")


@dataclass
class Config:
    data: list[str]
    out: str
    quick: bool = False
    per_group: int | None = None  # frames kept per (place, date, hour); --quick: 2
    backbone: str = "lite0"  # "pixels": 8x8 mean colours, a cheap stand-in for smoke runs
    views: tuple[str, ...] = VIEWS
    augment: bool = True  # also cache features of one augmented copy per image
    days_place: str = "milan"
    val_days: int = 6
    test_days: int = 8
    inner_val: float = 0.15  # share of (place, date) groups held out inside each LOPO fold
    seed: int = 0
    target_accuracy: float = 0.8  # for the "uncertain" threshold
    head: bool = True  # train.train's phase-1 head (TensorFlow) beside the recipes
    head_epochs: int = 40
    threads: int = 2


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m train.places", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Config(data=[], out="")
    p.add_argument("--data", nargs="+", required=True, help="data folders (images/ + labels.csv)")
    p.add_argument("--out", required=True, help="output directory (features cache, metrics, report)")
    p.add_argument("--quick", action="store_true",
                   help="cut-down run: 2 frames per (place, date, hour), whole + top60 views, "
                        "fewer recipes and head epochs")
    p.add_argument("--per-group", type=int, default=None)
    p.add_argument("--backbone", choices=["lite0", "lite1", "lite2", "pixels"], default=d.backbone)
    p.add_argument("--views", nargs="+", choices=VIEWS, default=None)
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--no-head", dest="head", action="store_false",
                   help="skip the TensorFlow head (phase 1 of train.train)")
    p.add_argument("--days-place", default=d.days_place)
    for name in ("val_days", "test_days", "seed", "head_epochs", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("inner_val", "target_accuracy"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    args = vars(p.parse_args(argv))
    views = args.pop("views") or (("whole", "top60") if args["quick"] else VIEWS)
    cfg = Config(**{k: v for k, v in args.items() if v is not None})
    cfg.views = tuple(dict.fromkeys(("whole", *views)))  # the baselines need the whole frame
    if cfg.quick:
        cfg.per_group = cfg.per_group or 2
        cfg.head_epochs = min(cfg.head_epochs, 10)
    return cfg


STEPS: tuple[tuple[str, tuple[dict[str, Any], ...]], ...] = (
    ("sky-focused input", ({"view": "top60"}, {"view": "skymask"})),
    ("place-balanced weighting", ({"weighting": "place"},)),
    ("colour-preserving augmentation", ({"augment": True},)),
    ("haze features with the network", ({"colour": True}, {"fusion": 0.5})),
    ("ordinal classes", ({"ordinal": True},)),
    ("stronger regularisation", ({"c": 0.1}, {"c": 0.01})),
)


QUICK_STEPS = STEPS[:2] + STEPS[3:5]


def select_recipe(ctx: Context, folds: Sequence[Fold], steps=STEPS
                  ) -> tuple[Recipe, list[dict[str, Any]], dict[Recipe, Run]]:
    """Forward selection by pooled LOPO balanced accuracy: start from the linear probe, try
    each step's options on the current recipe, keep the best option only if it beats the
    current recipe. Every option is also tried alone on the probe, to see its own effect."""
    available = {v for v, _ in ctx.feats}
    has_aug = any(a for _, a in ctx.feats)
    runs: dict[Recipe, Run] = {}
    results: dict[Recipe, dict[str, Any]] = {}

    def score(r: Recipe) -> dict[str, Any]:
        if r not in results:
            runs[r] = run_lopo(ctx, folds, r.describe(), lambda c, t, v, r=r: fit_recipe(c, r, t))
            results[r] = lopo_metrics(ctx, folds, runs[r])
        return results[r]

    base = current = Recipe()
    table = [{"step": "start: linear probe", "recipe": base.describe(), "alone": None,
              "forward": pooled_ba(score(base)), "kept": True}]
    for step, options in steps:
        options = tuple(o for o in options if o.get("view", "whole") in available
                        and (has_aug or not o.get("augment")))
        best, best_ba = current, pooled_ba(score(current))
        for opt in options:
            alone = pooled_ba(score(replace(base, **opt)))
            cand = replace(current, **opt)
            ba = pooled_ba(score(cand))
            table.append({"step": step, "recipe": cand.describe(), "alone": alone,
                          "alone_delta": alone - pooled_ba(score(base)),
                          "forward": ba, "forward_delta": ba - pooled_ba(score(current)), "kept": False})
            if ba > best_ba:
                best, best_ba = cand, ba
        if best != current:
            for row in table:
                if row["recipe"] == best.describe() and row["step"] == step:
                    row["kept"] = True
            current = best
        log.info("after %s: %s (pooled LOPO BA %.3f)", step, current.describe(), best_ba)
    return current, table, runs


SYSTEM_NOTES = {  # the baselines as every table names them, and this study's own rows
    **measurements.SYSTEM_NOTES,
    "head": "train.train phase 1: dropout 0.3 + softmax on frozen whole-frame features, Adam, "
            "oversampled classes, early stop on validation",
    "head_recipe": "phase-1 head on the chosen recipe's inputs and weights (no late fusion)",
    "model": "the chosen recipe: LR on frozen features with the kept generalisation choices",
}


def run(cfg: Config, extractor: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    timings: dict[str, Any] = {}
    samples, data_summary = load_samples(cfg.data, out)
    if cfg.per_group:
        samples = thin(samples, cfg.per_group)
    timings["load_and_scan_s"] = round(time.perf_counter() - t_start, 1)
    if extractor is None:
        extractor = (PixelFeatures() if cfg.backbone == "pixels"
                     else LiteFeatures(out / "features", cfg.threads, cfg.backbone))
    t0 = time.perf_counter()
    feats, timings["features"] = compute_features(samples, cfg.views, cfg.augment, extractor,
                                                  cfg.backbone, out / "features", cfg.seed)
    timings["features"]["total_s"] = round(time.perf_counter() - t0, 1)
    ctx = Context.build(samples, feats, cfg.seed)
    metrics: dict[str, Any] = {"config": asdict(cfg), "data": data_summary, "frames": describe_data(ctx)}

    # (b)-(d): leave one place out over daylight frames
    t0 = time.perf_counter()
    pool = np.flatnonzero(data.daylight_mask(samples))
    folds = lopo_folds(ctx, pool, cfg.inner_val, cfg.seed)
    metrics["lopo_folds"] = {f.place: {"train": len(f.train), "val": len(f.val), "test": len(f.test),
                                       "test_classes": data.class_counts(ctx.subset(f.test))} for f in folds}
    recipe, ablation, recipe_runs = select_recipe(ctx, folds, QUICK_STEPS if cfg.quick else STEPS)
    metrics["recipe"] = {"chosen": asdict(recipe), "describe": recipe.describe(), "ablation": ablation}
    timings["recipe_search_s"] = round(time.perf_counter() - t0, 1)
    timings["recipes_tried"] = len(recipe_runs)
    systems: dict[str, System] = {"majority": fit_majority, "colour": fit_colour, "linear_probe": fit_probe}
    head_settings = HeadSettings(epochs=cfg.head_epochs)
    if cfg.head:
        systems["head"] = make_head(None, head_settings)
        if not recipe.ordinal:
            systems["head_recipe"] = make_head(recipe, head_settings)
    systems["model"] = lambda c, t, v: fit_recipe(c, recipe, t)
    metrics["systems"] = {k: v for k, v in SYSTEM_NOTES.items() if k in systems or k == "date_hour"}
    done = {"linear_probe": recipe_runs[Recipe()], "model": recipe_runs[recipe]}  # fitted in the search
    runs = {name: done.get(name) or run_lopo(ctx, folds, name, fn) for name, fn in systems.items()}
    metrics["lopo"] = {name: lopo_metrics(ctx, folds, r) for name, r in runs.items()}
    for name in ("model", "head", "head_recipe"):
        if name in runs:
            metrics["lopo"][name]["calibration"] = lopo_calibration(
                ctx, folds, runs[name], cfg.target_accuracy, out / f"reliability_lopo_{name}.png")
    pooled_cm = metrics["lopo"]["model"]["pooled"]["confusion_matrix"]
    evaluate.plot_confusion(pooled_cm, LABELS, out / "confusion_lopo_model.png",
                            f"model, LOPO pooled over {len(folds)} places (n={int(np.sum(pooled_cm))})")
    timings["lopo_s"] = round(time.perf_counter() - t0, 1)

    # (a) + (d): held-out days of one place, with the date/hour control
    t0 = time.perf_counter()
    metrics["days"] = days_study(ctx, cfg, systems, out)
    cheap = {name: fn for name, fn in systems.items() if not name.startswith("head")}
    metrics["days_kfold"] = days_kfold(ctx, cfg.days_place, cheap | {"date_hour": fit_date_hour})
    timings["days_s"] = round(time.perf_counter() - t0, 1)
    timings["total_s"] = round(time.perf_counter() - t_start, 1)
    timings["total_cpu_s"] = round(time.process_time() - cpu_start, 1)
    metrics["timings"] = timings
    metrics = evaluate.to_jsonable(metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_report(metrics, out / "report.md")
    log.info("done in %.0f s: %s", timings["total_s"], out / "report.md")
    return metrics


def describe_data(ctx: Context) -> dict[str, Any]:
    out = {}
    day = data.daylight_mask(ctx.samples)
    for place in sorted(set(ctx.place.tolist())):
        m = (ctx.place == place) & day
        mine = [s for s, k in zip(ctx.samples, m, strict=True) if k]
        out[place] = {"source": mine[0].source if mine else None, "daylight_frames": int(m.sum()),
                      "hourly_readings": int(len(np.unique(ctx.hour_group[m]))),
                      "dates": len({s.date for s in mine}), "classes": data.class_counts(mine)}
    return out


def days_study(ctx: Context, cfg: Config, systems: dict[str, System],
            out: Path) -> dict[str, Any] | None:
    split = days_split(ctx, cfg.days_place, cfg.val_days, cfg.test_days, cfg.seed)
    if split is None:
        log.warning("no place %r: held-out days not evaluated", cfg.days_place)
        return None
    tr, va, te = split["train"], split["val"], split["test"]
    result: dict[str, Any] = {
        "place": cfg.days_place,
        "split": {name: {"frames": len(idx), "dates": split_dates(ctx, idx)}
                  for name, idx in (("train", tr), ("val", va), ("test", te))},
        "test_classes": data.class_counts(ctx.subset(te)),
        "training_sets": {}}
    day_test = data.daylight_mask(ctx.subset(te))
    training_sets = {"place_only": tr}
    if len(split["others"]):
        training_sets["all_folders"] = np.concatenate([tr, split["others"]])
    for set_name, train in training_sets.items():
        todo = dict(systems)
        if set_name == "place_only":
            todo["date_hour"] = fit_date_hour
        block: dict[str, Any] = {"train_frames": len(train), "systems": {}}
        for name, fn in todo.items():
            t0 = time.perf_counter()
            predict = fn(ctx, train, va)
            p_test, p_val = predict(te), predict(va)
            block["systems"][name] = days_metrics(ctx, te, p_test)
            block["systems"][name]["seconds"] = round(time.perf_counter() - t0, 1)
            if name in ("model", "head", "head_recipe") and len(va) and day_test.any():
                # the app refuses night photos, so calibration is judged on daylight test frames
                pt, yt = p_test[day_test], ctx.y[te][day_test]
                cal = calibration_block(ctx.y[va], p_val, yt, pt, cfg.target_accuracy)
                png = out / f"reliability_{cfg.days_place}_{set_name}_{name}.png"
                t = cal["temperature"]
                calibrate.reliability_diagram(p_val, calibrate.apply_temperature(p_val, t), ctx.y[va], png,
                                              title=f"{cal_title(cfg, set_name, name)}: validation days, T={t:.2f}")
                calibrate.reliability_diagram(pt, calibrate.apply_temperature(pt, t), yt,
                                              png.with_name(png.stem + "_test.png"),
                                              title=f"{cal_title(cfg, set_name, name)}: daylight test days, T={t:.2f}")
                cal["png"] = str(png)
                block["systems"][name]["calibration"] = cal
        result["training_sets"][set_name] = block
    return result


def days_kfold(ctx: Context, place: str, systems: dict[str, System], k: int = 5,
                  seeds: Sequence[int] = (0, 1, 2)) -> dict[str, Any] | None:
    """Grouped k-fold over that place's daylight days, repeated over seeds: a steadier number
    than one 8-day test split (which holds a handful of moderate frames). Trained on the
    place alone; no early stopping, so the heads are left out."""
    mine = np.flatnonzero((ctx.place == place) & data.daylight_mask(ctx.samples))
    n_days = len({ctx.samples[i].date for i in mine})
    if n_days < k:
        return None
    scores: dict[str, list[float]] = {name: [] for name in systems}
    for seed in seeds:
        for tr, te in data.grouped_kfold(ctx.subset(mine), k, seed):
            tr, te = mine[tr], mine[te]
            for name, fn in systems.items():
                m = evaluate.classification_metrics(ctx.y[te], fn(ctx, tr, None)(te).argmax(axis=1))
                scores[name].append(m["balanced_accuracy"])
    return {"k": k, "seeds": list(seeds), "frames": len(mine), "days": n_days,
            "balanced_accuracy": {name: _spread(v) | {"folds": v} for name, v in scores.items()}}


def cal_title(cfg: Config, set_name: str, name: str) -> str:
    return f"{name}, {cfg.days_place} held-out days, trained on {set_name.replace('_', ' ')}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_args(argv)
    log_to(Path(cfg.out) / "places.log")
    return run(cfg)
