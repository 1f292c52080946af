"""Leave-one-place-out for the network train.train ships, beside the baselines.

    python -m train.lopo --data ../shared/data/milan ../shared/data/india-nepal --out runs/lopo \\
        --features runs/places/features

train.places scores models on frozen features over the same folds; this script trains the
real thing on every fold - train.train's two phases, its balanced sampling and settings -
and scores it on the place it never saw. Per fold it records:

- ``network_head``: the network after phase 1 (frozen backbone, trained softmax head);
- ``network``: after phase 2 (fine-tuned), i.e. what ``train.train`` would ship;
- ``*_fused``: each averaged with the colour/haze LR's probabilities (late fusion);
- ``majority``, ``colour``, ``linear_probe``: the baselines, on the same folds.

Results: ``OUT/metrics.json`` and ``OUT/report.md``. The folds (inner validation = 15 % of
the other places' (place, date) groups) are train.places' folds; frozen features come from
its cache (``--features``), so only the fine-tuning costs time: about 4 minutes a fold on
2 CPU cores with the defaults below.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from airken.core.classes import LABELS
from train import data, evaluate, log_to, verdicts
from train.lopo_setup import Config, colour_on_examples, example_inputs, example_names, fuse, prepare
from train.lopo_summary import TRAIN_SETTINGS, settings_of
from train.places.folds import Fold, Run, lopo_calibration, lopo_metrics, pooled_ba, run_lopo
from train.places.systems import Context, fit_colour, fit_majority, fit_probe

log = logging.getLogger("train.lopo")

NETWORKS = ("network_head", "network")
BASELINES = ("majority", "colour", "linear_probe")


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m train.lopo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = Config(data=[], out="")
    p.add_argument("--data", nargs="+", required=True, help="data folders (images/ + labels.csv)")
    p.add_argument("--out", required=True)
    p.add_argument("--features", default=None, help="frozen-feature cache of train.places (default: OUT/features)")
    p.add_argument("--places", nargs="+", default=[], help="only these held-out places")
    p.add_argument("--per-reading", type=int, default=None, help="at most N frames per hourly reading")
    p.add_argument("--seed", type=int, default=d.seed)
    kinds = {"backbone": str, "balance": str, "target": str, "haze_rank": float, "place_rank": float,
             "crop_top": float}
    for name in TRAIN_SETTINGS:
        p.add_argument("--" + name.replace("_", "-"), type=kinds.get(name, int), default=None,
                       help="as train.train (its default)")
    for name in ("inner_val", "fusion", "target_accuracy", "min_temperature"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    return Config(**vars(p.parse_args(argv)))


def train_config(cfg: Config, fold_dir: Path):
    from train.train import Config as TrainConfig

    settings = {k: getattr(cfg, k) for k in TRAIN_SETTINGS if getattr(cfg, k) is not None}
    return TrainConfig(data=cfg.data, out=str(fold_dir), seed=cfg.seed, export=False, device="cpu", **settings)


def train_fold(cfg: Config, ctx: Context, fold: Fold, pool: Pool, fold_dir: Path, strategy,
               device) -> dict[str, dict]:
    """train.train's two phases on one fold; probabilities on the fold's test and val frames
    after each phase."""
    import tensorflow as tf

    from train import train

    tcfg = train_config(cfg, fold_dir)
    train.seed_everything(cfg.seed)
    fit = train.training_frames(tcfg, ctx.samples, ctx.y, fold.train)
    probs: dict[str, dict[str, np.ndarray]] = {}

    row = pool.row

    def after_head(model):  # phase-1 network: the head on the (cached) frozen features
        head = train.head_model(model, pool.features.shape[1:])
        probs["network_head"] = {part: head.predict(pool.features[row[idx]], verbose=0)
                                 for part, idx in (("test", fold.test), ("val", fold.val))}
        probs["network_head"]["examples"] = train.predict_frames(model, pool.examples)

    fold_dir.mkdir(parents=True, exist_ok=True)
    model, _, phases = train.train_model(tcfg, strategy, device, pool.x, pool.targets, row[fit], row[fold.val],
                                         fold_dir, features=pool.features, depth=pool.depth, after_head=after_head)
    probs["network"] = {part: train.predict_frames(model, pool.x[row[idx]])
                        for part, idx in (("test", fold.test), ("val", fold.val))}
    probs["network"]["examples"] = train.predict_frames(model, pool.examples)
    (fold_dir / "phases.json").write_text(json.dumps(evaluate.to_jsonable(phases), indent=2))
    (fold_dir / "model.keras").unlink(missing_ok=True)  # 13 MB a fold; the probabilities are kept
    tf.keras.backend.clear_session()
    return probs


@dataclass
class Pool:
    """The daylight frames every fold draws from, prepared once: images at the backbone's
    input size, training targets, frozen features and (for the haze loss) depth proxies.
    ``row`` maps a sample index to its row here (-1: not in the pool)."""

    row: np.ndarray
    x: np.ndarray
    targets: np.ndarray
    features: np.ndarray
    depth: np.ndarray | None
    examples: np.ndarray  # the app's example photos at the same size: every fold's model reads them too


def load_pool(cfg: Config, samples, pool: np.ndarray, lite0_features: np.ndarray, out: Path) -> Pool:
    """Images decoded once (cached); train.places' cached Lite0 whole-frame features when the
    fold's network reads them, else the features of its own backbone and crop, computed once."""
    from train import objectives, train
    from train.backbone import backbone_input_size
    from train.haze import depth_maps

    tcfg = train_config(cfg, out)
    row = np.full(len(samples), -1)
    row[pool] = np.arange(len(pool))
    members = [samples[i] for i in pool]
    x = data.load_arrays(members, cache_dir=out.parent / ".cache", size=backbone_input_size(tcfg.backbone))
    own = tcfg.backbone != "lite0" or tcfg.crop_top < 1.0
    features = train.frozen_features(tcfg, x) if own else lite0_features
    depth = depth_maps(x) if tcfg.haze_rank > 0 else None
    examples = example_inputs(backbone_input_size(tcfg.backbone))
    return Pool(row, x, objectives.targets_of(members), features, depth, examples)


def run(cfg: Config, extractor=None) -> dict[str, Any]:
    """The protocol; ``extractor`` (images -> frozen Lite0 features) defaults to train.places'
    LiteRT one, whose features are cached in ``cfg.features``."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    samples, data_summary, feats, ctx, pool, folds = prepare(cfg, out, extractor)
    runs = {name: run_lopo(ctx, folds, name, fn) for name, fn in
            (("majority", fit_majority), ("colour", fit_colour), ("linear_probe", fit_probe))}
    runs["colour"].examples = colour_on_examples(ctx, folds)

    from train.devices import setup_devices

    strategy, device = setup_devices("cpu", None, None)
    daylight = load_pool(cfg, samples, pool, feats[("whole", False)].backbone[pool], out)
    nets = {name: Run(name) for name in NETWORKS}
    fold_log: dict[str, dict] = {}

    for f in folds:
        t0 = time.perf_counter()
        probs = train_fold(cfg, ctx, f, daylight, out / "folds" / f.place, strategy, device)
        for name in NETWORKS:
            nets[name].test.append(probs[name]["test"])
            nets[name].val.append(probs[name]["val"])
            nets[name].examples.append(probs[name]["examples"])
        fold_log[f.place] = {"seconds": round(time.perf_counter() - t0, 1), "train": len(f.train),
                             "val": len(f.val), "test": len(f.test)}
        log.info("fold %s: %.0f s", f.place, fold_log[f.place]["seconds"])
    for name in NETWORKS:
        nets[name].seconds = sum(v["seconds"] for v in fold_log.values())
        runs[name] = nets[name]
        runs[name + "_fused"] = fuse(nets[name], runs["colour"], cfg.fusion)

    metrics: dict[str, Any] = {"config": asdict(cfg), "train_settings": asdict(train_config(cfg, out)),
                               "data": data_summary, "folds": fold_log,
                               "lopo": {name: lopo_metrics(ctx, folds, r) for name, r in runs.items()}}
    for name in runs:
        if name not in BASELINES:
            metrics["lopo"][name]["calibration"] = lopo_calibration(
                ctx, folds, runs[name], cfg.target_accuracy, out / f"reliability_{name}.png", cfg.min_temperature)
            metrics["lopo"][name]["calibration_free_t"] = lopo_calibration(
                ctx, folds, runs[name], cfg.target_accuracy, None)
    save_probs(out / "probs.npz", ctx, folds, runs)
    verdicts.write({name: verdicts.run_study(ctx, folds, runs[name], example_names()) for name in runs
                    if name not in BASELINES}, out)
    metrics["ranking"] = sorted(runs, key=lambda n: -pooled_ba(metrics["lopo"][n]))
    metrics["seconds"] = round(time.perf_counter() - t_start, 1)
    metrics = evaluate.to_jsonable(metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_report(metrics, out / "report.md")
    log.info("done in %.0f s: %s", metrics["seconds"], out / "report.md")
    return metrics


def save_probs(path: Path, ctx: Context, folds, runs: dict[str, Run]) -> None:
    """Every system's probabilities per fold (and the networks' on the example photos), with
    the labels: numbers can be recomputed without training again."""
    arrays = {}
    for i, f in enumerate(folds):
        arrays[f"{f.place}/test_index"], arrays[f"{f.place}/val_index"] = f.test, f.val
        for name, r in runs.items():
            arrays[f"{f.place}/{name}/test"], arrays[f"{f.place}/{name}/val"] = r.test[i], r.val[i]
            if r.examples:
                arrays[f"{f.place}/{name}/examples"] = r.examples[i]
    np.savez_compressed(path, y=ctx.y, **arrays)


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def write_report(metrics: dict[str, Any], path: Path) -> Path:
    lopo, names = metrics["lopo"], metrics["ranking"]
    order = [n for n in (*BASELINES, *NETWORKS, *(n + "_fused" for n in NETWORKS)) if n in lopo]
    place_names = list(next(iter(lopo.values()))["per_place"])
    lines = ["# Leave one place out: the network beside the baselines", "",
             "train.train settings per fold: " + json.dumps(settings_of(metrics))
             + f"; late fusion weight {metrics['config']['fusion']}. "
             f"Whole run {metrics['seconds']:.0f} s.", "",
             "Balanced accuracy on each held-out place (chance 0.333 pooled):", "",
             "| held-out place | frames | " + " | ".join(order) + " |",
             "|---|---|" + "---|" * len(order)]
    for p in place_names:
        n = metrics["folds"][p]["test"]
        lines.append(f"| {p} | {n} | " + " | ".join(_f(lopo[s]["per_place"][p]["balanced_accuracy"]) for s in order)
                     + " |")
    pooled = lambda key: " | ".join(_f(lopo[s]["pooled"][key]) for s in order)  # noqa: E731
    ci = " | ".join("{:.2f}-{:.2f}".format(c["low"], c["high"]) if (c := lopo[s]["pooled"].get(
        "balanced_accuracy_95ci")) else "-" for s in order)
    lines += [f"| **pooled BA** | | {pooled('balanced_accuracy')} |",
              f"| pooled BA 95 % interval | | {ci} |",
              f"| pooled macro-F1 | | {pooled('macro_f1')} |",
              "| per-place BA mean (std) | | " + " | ".join(
                  "{} ({})".format(_f(lopo[s]["spread"]["balanced_accuracy"]["mean"]),
                                   _f(lopo[s]["spread"]["balanced_accuracy"]["std"])) for s in order) + " |",
              "| per-place BA min / max | | " + " | ".join(
                  "{} / {}".format(_f(lopo[s]["spread"]["balanced_accuracy"]["min"]),
                                   _f(lopo[s]["spread"]["balanced_accuracy"]["max"])) for s in order) + " |",
              "", "Ranking by pooled balanced accuracy: " + ", ".join(
                  f"{n} {lopo[n]['pooled']['balanced_accuracy']:.3f}" for n in names) + ".", ""]
    cal = [(n, lopo[n]["calibration"]) for n in order if lopo[n].get("calibration")]
    if cal:
        t_min = metrics["config"]["min_temperature"]
        lines += ["Temperature per fold from its inner validation, pooled over held-out places "
                  f"(shipped rule: T >= {t_min}; beside it the free fit):", "",
                  f"| system | ECE before | ECE after, T >= {t_min} | median T | ECE after, free T | median free T |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {n} | {_f(c['pooled_ece_before'])} | {_f(c['pooled_ece_after'])} | "
                  f"{_f(c['temperatures']['median'])} | {_f(lopo[n]['calibration_free_t']['pooled_ece_after'])} | "
                  f"{_f(lopo[n]['calibration_free_t']['temperatures']['median'])} |" for n, c in cal]
        lines.append("")
    lines += ["Confusion matrices (rows true " + " / ".join(LABELS) + "; columns predicted), pooled:", ""]
    lines += [f"- {n}: " + ", ".join("/".join(str(int(v)) for v in r) for r in lopo[n]["pooled"]["confusion_matrix"])
              for n in order]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    cfg = parse_args(argv)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    log_to(Path(cfg.out) / "lopo.log")
    return run(cfg)


if __name__ == "__main__":
    main()
