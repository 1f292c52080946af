"""What the app does with a network's output, measured under leave-one-place-out.

    python -m train.verdicts --lopo runs/lopo --data ../shared/data/milan ../shared/data/india-nepal

train.lopo leaves the probabilities of every fold in ``probs.npz``; this turns them into the
verdicts the app would give, the way the app gives them, and scores each step on the places
the model never saw:

1. temperature, fitted on days of the training places (as shipped), beside one fitted on
   held-out places (each fold's on the other folds' places);
2. the class prior (airken.core.prior): no correction, the world prior;
3. the "unsure" threshold, chosen on held-out places the same way, and selective accuracy
   at fixed coverage;
4. the three-offset profiles of earlier versions (below) fitted on k = 3, 5, 10 hourly readings of the
   held-out place, tested on its other readings, beside zero-shot on the same frames;
5. the example photos of the app (airken.examples): verdict, confidence, scene warnings.

Results: ``verdicts.json`` and ``verdicts.md`` in the LOPO folder (train.lopo writes them
too). The examples are a sanity check, never data: nothing here is fitted on them.
"""
from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from airken.core.calibration import log_probs, softmax
from airken.core.classes import LABELS
from airken.core.prior import UNIFORM, WORLD_PRIOR, apply_prior
from airken.examples import EXAMPLES_DIR
from train import calibrate, evaluate, log_to
from train.lopo_setup import Config, colour_on_examples, example_names, mix, prepare
from train.places.folds import Fold, Run
from train.places.systems import Context

log = logging.getLogger("train.verdicts")

PRIORS = {"none": None, "world": WORLD_PRIOR}
COVERAGES = (0.5, 0.7, 0.9)
SHOTS = (3, 5, 10)
DRAWS = 20  # random choices of the k calibration readings per place
TARGET_ACCURACY = 0.7  # answers above the unsure threshold are right at least this often on unseen places


# The three-offset place profile of earlier Airken versions (one log-probability offset per
# class, penalised maximum likelihood), kept as the baseline the view calibration replaced.
STRENGTH = 0.1
MAX_OFFSET = 8.0


def shift(probs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The probabilities with ``offsets`` added to their logs, renormalised."""
    return softmax(log_probs(probs) + offsets)


def fit_offsets(probs: np.ndarray, labels: np.ndarray, readings: np.ndarray,
                strength: float = STRENGTH, iterations: int = 50) -> np.ndarray:
    """Offsets maximising sum_i w_i log shift(p_i)[y_i] - strength/2 |offsets|^2, where every
    reading (``readings`` id) weighs 1 in all. Newton's method: concave, three unknowns."""
    logp = log_probs(probs)
    labels, readings = np.asarray(labels, dtype=np.int64), np.asarray(readings)
    _, inverse, counts = np.unique(readings, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    onehot = np.eye(logp.shape[1])[labels]
    b = np.zeros(logp.shape[1])
    for _ in range(iterations):
        p = softmax(logp + b)
        grad = (w[:, None] * (onehot - p)).sum(axis=0) - strength * b
        hess = np.diag((w[:, None] * p).sum(axis=0)) - np.einsum("n,ni,nj->ij", w, p, p) + strength * np.eye(len(b))
        step = np.linalg.solve(hess, grad)
        b = b + step
        if np.abs(step).max() < 1e-8:
            break
    return np.clip(b - b.mean(), -MAX_OFFSET, MAX_OFFSET)  # only differences matter


@dataclass
class FoldOutput:
    """One fold's probabilities of one system: held-out place, inner validation, examples."""

    fold: Fold
    test: np.ndarray
    val: np.ndarray
    examples: np.ndarray | None = None


def calibrated(outputs: Sequence[FoldOutput], y: np.ndarray, t_min: float = 1.0) -> list[FoldOutput]:
    """Each fold's probabilities after its own temperature (fitted on its inner validation)."""
    out = []
    for o in outputs:
        t = calibrate.fit_temperature(o.val, y[o.fold.val], t_min=t_min) if len(o.fold.val) else 1.0
        out.append(_tempered(o, t))
    return out


def cross_place(outputs: Sequence[FoldOutput], y: np.ndarray) -> tuple[list[FoldOutput], list[float], float]:
    """Temperature fitted where it matters, on places the model never saw: each fold's from
    the held-out places of the other folds (leave one fold out), and the one to ship from
    all of them. Returns the calibrated outputs, the per-fold temperatures and the shipped one."""
    tests, ys = [o.test for o in outputs], [y[o.fold.test] for o in outputs]
    temps = [calibrate.fit_temperature(*_others(tests, ys, i)) for i in range(len(outputs))]
    ship = calibrate.fit_temperature(np.concatenate(tests), np.concatenate(ys))
    return [_tempered(o, t) for o, t in zip(outputs, temps, strict=True)], temps, ship


def _others(ps: Sequence[np.ndarray], ys: Sequence[np.ndarray], i: int) -> tuple[np.ndarray, np.ndarray]:
    """Every fold's probabilities and labels but fold i's (a single fold can only be judged on itself)."""
    keep = [j for j in range(len(ps)) if j != i or len(ps) == 1]
    return np.concatenate([ps[j] for j in keep]), np.concatenate([ys[j] for j in keep])


def _tempered(o: FoldOutput, t: float) -> FoldOutput:
    return FoldOutput(o.fold, *(_scaled(p, t) for p in (o.test, o.val, o.examples)))


def _scaled(p: np.ndarray | None, t: float) -> np.ndarray | None:
    return calibrate.apply_temperature(p, t) if p is not None and len(p) else p


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    m = evaluate.classification_metrics(y, p.argmax(axis=1))
    return {"balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
            "ece": calibrate.expected_calibration_error(p, y), "n": int(len(y))}


def prior_table(outputs: Sequence[FoldOutput], y: np.ndarray) -> dict[str, Any]:
    """Pooled and per-place scores (BA, macro-F1, accuracy, ECE) with each prior."""
    table = {}
    for name, prior in PRIORS.items():
        ps = [apply_prior(o.test, prior, UNIFORM) for o in outputs]
        yt = np.concatenate([y[o.fold.test] for o in outputs])
        table[name] = {"pooled": _scores(yt, np.concatenate(ps)),
                       "per_place": {o.fold.place: _scores(y[o.fold.test], p)["balanced_accuracy"]
                                     for o, p in zip(outputs, ps, strict=True)}}
    return table


def selective_table(outputs: Sequence[FoldOutput], y: np.ndarray, prior=None) -> dict[str, Any]:
    """The unsure threshold, chosen on places the model never saw: for each fold, on the
    other folds' held-out places (the lowest top probability above which TARGET_ACCURACY of
    their answers are right), and thresholds that keep 50 / 70 / 90 % of those answers; the
    coverage and accuracy they give on this fold's place, pooled. ``ship``: the threshold
    chosen on every fold, which the app uses."""
    tests = [apply_prior(o.test, prior, UNIFORM) for o in outputs]
    ys = [y[o.fold.test] for o in outputs]

    def pooled(thresholds: list[float]) -> dict[str, Any]:
        conf, ok = np.concatenate([p.max(axis=1) for p in tests]), np.concatenate(
            [p.argmax(axis=1) == v for p, v in zip(tests, ys, strict=True)])
        keep = conf >= np.concatenate([np.full(len(p), t) for p, t in zip(tests, thresholds, strict=True)])
        return {"coverage": float(keep.mean()), "accuracy_kept": float(ok[keep].mean()) if keep.any() else None,
                "accuracy_all": float(ok.mean()), "median_threshold": float(np.median(thresholds))}

    rows: dict[str, Any] = {}
    chosen = [calibrate.choose_uncertain_threshold(*_others(tests, ys, i), TARGET_ACCURACY).threshold
              for i in range(len(tests))]
    ship = calibrate.choose_uncertain_threshold(np.concatenate(tests), np.concatenate(ys), TARGET_ACCURACY)
    rows["unsure_threshold"] = pooled(chosen) | {"target_accuracy": TARGET_ACCURACY, "ship": ship.threshold,
                                                 "ship_coverage": ship.coverage}
    for c in COVERAGES:
        ts = [float(np.quantile(_others(tests, ys, i)[0].max(axis=1), 1 - c)) for i in range(len(tests))]
        rows[f"coverage_{c:g}"] = pooled(ts) | {"validation_coverage": c}
    return rows


def few_shot_table(outputs: Sequence[FoldOutput], y: np.ndarray, readings: np.ndarray, shots=SHOTS,
                   draws: int = DRAWS, strength: float = STRENGTH, seed: int = 0) -> dict[str, Any]:
    """Per-place profiles from k readings of the held-out place, tested on its other readings.

    For every k, places with more than k readings take part; each draw picks k readings at
    random, fits the profile (airken.core.profiles.fit_offsets, on the calibrated probabilities)
    and scores the other frames. Pooled over the places that take part, mean and spread over
    the draws, beside zero-shot on exactly the same frames."""
    rng = np.random.default_rng(seed)
    table: dict[str, Any] = {}
    for k in shots:
        places = [o for o in outputs if len(np.unique(readings[o.fold.test])) > k]
        few, zero, per_place = [], [], {o.fold.place: [] for o in places}
        for _ in range(draws):
            ys, p_few, p_zero = [], [], []
            for o in places:
                r = readings[o.fold.test]
                pick = np.isin(r, rng.choice(np.unique(r), k, replace=False))
                offsets = fit_offsets(o.test[pick], y[o.fold.test][pick], r[pick], strength)
                rest_y, rest_p = y[o.fold.test][~pick], o.test[~pick]
                ys.append(rest_y)
                p_few.append(shift(rest_p, offsets))
                p_zero.append(rest_p)
                per_place[o.fold.place].append(_scores(rest_y, p_few[-1])["balanced_accuracy"])
            yy = np.concatenate(ys)
            few.append(_scores(yy, np.concatenate(p_few))["balanced_accuracy"])
            zero.append(_scores(yy, np.concatenate(p_zero))["balanced_accuracy"])
        table[f"k{k}"] = {"k": k, "places": [o.fold.place for o in places], "draws": draws,
                          "pooled_ba_mean": float(np.mean(few)), "pooled_ba_std": float(np.std(few)),
                          "zero_shot_same_frames": float(np.mean(zero)),
                          "per_place_mean": {p: float(np.mean(v)) for p, v in per_place.items()}}
    return table | {"strength": strength}


def examples_table(names: Sequence[str], outputs: Sequence[FoldOutput], threshold: float,
                   scene: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The example photos, read by every fold's model (trained without one place) and
    averaged: the verdict each prior gives, its confidence, and what the scene checks say."""
    stacked = np.mean([o.examples for o in outputs], axis=0)
    rows = {}
    for i, name in enumerate(names):
        row: dict[str, Any] = {"refused": scene[name]["refused"], "reason": scene[name]["reason"],
                               "warnings": scene[name]["warnings"]}
        for prior_name, prior in PRIORS.items():
            p = apply_prior(stacked[i], prior, UNIFORM)
            row[prior_name] = {"label": LABELS[int(p.argmax())], "confidence": float(p.max()),
                               "unsure": bool(p.max() < threshold),
                               "probabilities": dict(zip(LABELS, map(float, p), strict=True))}
        rows[name] = row
    return rows


def scene_checks(paths: Sequence[Path]) -> dict[str, dict[str, Any]]:
    from airken.core.intake import load_image
    from airken.core.scene import check_scene

    out = {}
    for path in paths:
        report = check_scene(load_image(path))
        out[path.stem] = {"refused": report.refused, "reason": report.reason, "warnings": list(report.warnings)}
    return out


def study(outputs: Sequence[FoldOutput], y: np.ndarray, readings: np.ndarray,
          example_names: Sequence[str] = (), example_paths: Sequence[Path] = ()) -> dict[str, Any]:
    """Every table above for one system's LOPO outputs (raw probabilities). The temperature
    is fitted on each fold's inner validation (days of the training places, T >= 1), as
    train.train fits the shipped one; a temperature fitted on held-out places instead
    (cross_place) is reported beside it. The unsure threshold is chosen on held-out places."""
    cal = calibrated(outputs, y)
    across, temps, ship_t = cross_place(outputs, y)
    result = {"cross_place_temperature": {"per_fold": dict(zip([o.fold.place for o in outputs], temps, strict=True)),
                                          "all_folds": ship_t},
              "priors": prior_table(cal, y), "priors_cross_place_temperature": prior_table(across, y),
              "selective": {name: selective_table(cal, y, prior) for name, prior in PRIORS.items()},
              "few_shot": few_shot_table(cal, y, readings)}
    if example_names and all(o.examples is not None for o in cal):
        threshold = result["selective"]["world"]["unsure_threshold"]["ship"]
        result["examples"] = examples_table(example_names, cal, threshold, scene_checks(example_paths))
    return result


def run_study(ctx: Context, folds: Sequence[Fold], run: Run, names: Sequence[str]) -> dict[str, Any]:
    """study() of one system's LOPO run (train.places' Run), its example photos named ``names``."""
    outputs = [FoldOutput(f, t, v, run.examples[i] if run.examples else None)
               for i, (f, t, v) in enumerate(zip(folds, run.test, run.val, strict=True))]
    paths = [EXAMPLES_DIR / f"{n}.jpg" for n in names]
    return study(outputs, ctx.y, ctx.hour_group, names, paths)


# ------------------------------------------------------------------------------ report


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def report_lines(system: str, r: dict[str, Any]) -> list[str]:
    lines = [f"## {system}", "", "Class prior, pooled over the held-out places, after each fold's temperature fitted "
             "on days of its training places (T >= 1, as shipped) and, for comparison, one fitted on the other "
             f"folds' held-out places (on all folds: T = {r['cross_place_temperature']['all_folds']:.2f}):", "",
             "| prior | temperature | balanced accuracy | macro-F1 | accuracy | ECE |", "|---|---|---|---|---|---|"]
    for key, how in (("priors", "training places' days"), ("priors_cross_place_temperature", "held-out places")):
        for name, t in r[key].items():
            p = t["pooled"]
            lines.append(f"| {name} | {how} | {_f(p['balanced_accuracy'])} | {_f(p['macro_f1'])} | "
                         f"{_f(p['accuracy'])} | {_f(p['ece'])} |")
    lines += ["", "Answers kept (confidence at or above the threshold) on each held-out place, the threshold chosen "
              "on the other folds' held-out places:", "",
              "| prior | threshold | coverage | accuracy kept | accuracy of all |",
              "|---|---|---|---|---|"]
    for name, rows in r["selective"].items():
        for key, row in rows.items():
            how = (f"unsure below {_f(row['median_threshold'])} (median; >= {row['target_accuracy']:g} right on the "
                   f"other places; shipped {_f(row['ship'])})" if key == "unsure_threshold"
                   else f"keeps {row['validation_coverage']:.0%} of the other places' answers")
            lines.append(f"| {name} | {how} | {_f(row['coverage'])} | {_f(row['accuracy_kept'])} | "
                         f"{_f(row['accuracy_all'])} |")
    fs = r["few_shot"]
    lines += ["", f"Per-place profile from k readings of the held-out place (strength {fs['strength']:g}, "
              f"{DRAWS} draws), tested on its other readings:", "",
              "| k | places | pooled BA with profile | zero-shot, same frames |", "|---|---|---|---|"]
    for key, row in fs.items():
        if key.startswith("k"):
            lines.append(f"| {row['k']} | {', '.join(row['places'])} | {_f(row['pooled_ba_mean'])} "
                         f"+- {row['pooled_ba_std']:.3f} | {_f(row['zero_shot_same_frames'])} |")
    if "examples" in r:
        lines += ["", "Example photos (mean of the fold models; never used for fitting):", "",
                  "| photo | scene checks | no prior | world prior |", "|---|---|---|---|"]
        for name, row in r["examples"].items():
            scene = f"refused: {row['reason']}" if row["refused"] else ("; ".join(row["warnings"]) or "ok")
            cells = [f"{row[p]['label']} {row[p]['confidence']:.0%}{' (unsure)' if row[p]['unsure'] else ''}"
                     for p in PRIORS]
            lines.append(f"| {name} | {scene} | " + " | ".join(cells) + " |")
    return lines + [""]


def write(results: dict[str, dict[str, Any]], folder: Path) -> None:
    (folder / "verdicts.json").write_text(json.dumps(evaluate.to_jsonable(results), indent=2))
    lines = ["# Verdicts under leave-one-place-out", "",
             "What the app's steps after the network (temperature, prior, unsure threshold, three-offset "
             "profiles) do on places the model never saw.", ""]
    for system, r in results.items():
        lines += report_lines(system, r)
    (folder / "verdicts.md").write_text("\n".join(lines))


# ------------------------------------------------------------------------------ from a LOPO folder


def rebuild(folder: Path, data_folders: Sequence[str], systems: Sequence[str]) -> dict[str, Any]:
    """run_study of ``systems`` from a finished LOPO folder (probs.npz), without training."""
    recorded = json.loads((folder / "metrics.json").read_text())["config"]
    cfg = Config(**{k: v for k, v in recorded.items() if k in Config.__dataclass_fields__})
    cfg = replace(cfg, data=list(data_folders))
    _, _, _, ctx, _, folds = prepare(cfg, folder)
    names = example_names()
    colour_examples = colour_on_examples(ctx, folds)
    out = {}
    with np.load(folder / "probs.npz") as z:
        for system in systems:
            run = Run(system, [z[f"{f.place}/{system}/test"] for f in folds],
                      [z[f"{f.place}/{system}/val"] for f in folds])
            net = system.removesuffix("_fused")
            if all(f"{f.place}/{net}/examples" in z for f in folds):
                run.examples = [z[f"{f.place}/{net}/examples"] for f in folds]
                if system.endswith("_fused"):
                    run.examples = mix(run.examples, colour_examples, cfg.fusion)
            out[system] = run_study(ctx, folds, run, names)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m train.verdicts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lopo", required=True, help="a train.lopo output folder (probs.npz, metrics.json)")
    p.add_argument("--data", nargs="+", required=True, help="the data folders the LOPO run used")
    p.add_argument("--systems", nargs="+", default=["network_fused"])
    args = p.parse_args(argv)
    folder = Path(args.lopo)
    log_to(folder / "verdicts.log")
    results = rebuild(folder, args.data, args.systems)
    write(results, folder)
    log.info("wrote %s", folder / "verdicts.md")
    return results


if __name__ == "__main__":
    main()
