"""Splits and scores: leave-one-place-out folds (with inner validation of whole
(place, date) groups), the held-out days of one place, per place and pooled metrics with a
bootstrap interval over hourly readings, and temperature scaling fitted per fold.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from train import calibrate, data, evaluate
from train.places.systems import Context, K, System

BOOTSTRAP = 1000  # resamples of the hourly readings for the pooled balanced accuracy interval

log = logging.getLogger("train.places")


@dataclass
class Fold:
    place: str
    train: np.ndarray  # the other places, minus the inner validation groups
    val: np.ndarray  # inner validation: whole (place, date) groups of the other places
    test: np.ndarray  # every frame of the held-out place


def lopo_folds(ctx: Context, pool: np.ndarray, inner_val: float, seed: int) -> list[Fold]:
    folds = []
    for place, tr, te in data.leave_one_place_out(ctx.subset(pool)):
        tr, te = pool[tr], pool[te]
        n_groups = len({ctx.samples[i].group for i in tr})
        n_val = max(1, round(inner_val * n_groups)) if n_groups > 2 else 0
        itr, iva, _ = data.split_by_date(ctx.subset(tr), val_days=n_val, test_days=0, seed=seed)
        folds.append(Fold(place, tr[itr], tr[iva], te))
    return folds


@dataclass
class Run:
    """A system's probabilities on every fold's test and validation frames (and, where a
    study records them, on the app's example photos)."""

    name: str
    test: list[np.ndarray] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    examples: list[np.ndarray] = field(default_factory=list)


def run_lopo(ctx: Context, folds: Sequence[Fold], name: str, system: System) -> Run:
    run = Run(name)
    t0 = time.perf_counter()
    for f in folds:
        predict = system(ctx, f.train, f.val)
        run.test.append(predict(f.test))
        run.val.append(predict(f.val) if len(f.val) else np.zeros((0, K)))
    run.seconds = time.perf_counter() - t0
    log.info("LOPO %s: %.1f s", name, run.seconds)
    return run


def _spread(values: list[float | None]) -> dict[str, Any]:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if not v.size:
        return {"mean": None, "std": None, "min": None, "median": None, "max": None}
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()),
            "median": float(np.median(v)), "max": float(v.max())}


def bootstrap_ba(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, n: int = BOOTSTRAP,
                 seed: int = 0) -> dict[str, float] | None:
    """95 % interval of balanced accuracy, resampling whole groups (hourly readings) with
    replacement: frames of one reading are not independent evidence."""
    uniq, inv = np.unique(groups, return_inverse=True)
    if len(uniq) < 2:
        return None
    rng = np.random.default_rng(seed)
    cm = np.zeros((len(uniq), K, K))  # confusion matrix per group
    np.add.at(cm, (inv, y, pred), 1)
    draws = rng.integers(0, len(uniq), size=(n, len(uniq)))
    counts = np.stack([np.bincount(d, minlength=len(uniq)) for d in draws])
    total = np.einsum("bg,gij->bij", counts, cm)
    support = total.sum(axis=2)
    recall = np.divide(np.einsum("bii->bi", total), support, out=np.full(support.shape, np.nan),
                       where=support > 0)
    ba = np.nanmean(recall, axis=1)
    lo, hi = np.percentile(ba, [2.5, 97.5])
    return {"low": float(lo), "high": float(hi), "resamples": n, "groups": int(len(uniq))}


def lopo_metrics(ctx: Context, folds: Sequence[Fold], run: Run) -> dict[str, Any]:
    per_place = {}
    for f, p in zip(folds, run.test, strict=True):
        per_place[f.place] = evaluate.classification_metrics(ctx.y[f.test], p.argmax(axis=1))
    y_all = np.concatenate([ctx.y[f.test] for f in folds])
    pred = np.concatenate(run.test).argmax(axis=1)
    pooled = evaluate.classification_metrics(y_all, pred)
    pooled["balanced_accuracy_95ci"] = bootstrap_ba(
        y_all, pred, np.concatenate([ctx.hour_group[f.test] for f in folds]), seed=ctx.seed)
    return {"pooled": pooled, "per_place": per_place, "seconds": round(run.seconds, 1),
            "spread": {m: _spread([r[m] for r in per_place.values()])
                       for m in ("balanced_accuracy", "macro_f1")}}


def pooled_ba(result: dict[str, Any]) -> float:
    return float(result["pooled"]["balanced_accuracy"])


def calibration_block(y_val: np.ndarray, p_val: np.ndarray, y_test: np.ndarray,
                      p_test: np.ndarray, target: float, t_min: float = calibrate.T_MIN) -> dict[str, Any]:
    t = calibrate.fit_temperature(p_val, y_val, t_min=t_min)
    thr = calibrate.choose_uncertain_threshold(calibrate.apply_temperature(p_val, t), y_val, target)
    return {"temperature": t,
            "val": asdict(calibrate.calibration_report(p_val, y_val, t)),
            "test": asdict(calibrate.calibration_report(p_test, y_test, t)),
            "uncertain": asdict(thr),
            "test_selective": calibrate.selective_scores(calibrate.apply_temperature(p_test, t),
                                                         y_test, thr.threshold)}


def lopo_calibration(ctx: Context, folds: Sequence[Fold], run: Run, target: float,
                     png: Path | None, t_min: float = calibrate.T_MIN) -> dict[str, Any]:
    """Per fold: temperature and threshold fitted on the inner validation frames, applied
    to the held-out place; pooled ECE before/after over all held-out places."""
    before, after, ys, per_fold = [], [], [], {}
    kept = right_kept = 0
    for f, pv, pt in zip(folds, run.val, run.test, strict=True):
        if not len(f.val):
            continue
        block = calibration_block(ctx.y[f.val], pv, ctx.y[f.test], pt, target, t_min)
        per_fold[f.place] = block
        before.append(calibrate.softmax(calibrate.to_logits(pt)))
        after.append(calibrate.apply_temperature(pt, block["temperature"]))
        ys.append(ctx.y[f.test])
        sel = block["test_selective"]
        kept += sel["kept"]
        right_kept += round((sel["accuracy_kept"] or 0) * sel["kept"])
    if not ys:
        return {}
    b, a, y = np.concatenate(before), np.concatenate(after), np.concatenate(ys)
    out = {"per_place": per_fold, "pooled_ece_before": calibrate.expected_calibration_error(b, y),
           "pooled_ece_after": calibrate.expected_calibration_error(a, y),
           "pooled_coverage": kept / len(y), "pooled_accuracy_kept": right_kept / kept if kept else None,
           "pooled_accuracy_all": float(np.mean(a.argmax(axis=1) == y)),
           "temperatures": _spread([v["temperature"] for v in per_fold.values()]),
           "thresholds": _spread([v["uncertain"]["threshold"] for v in per_fold.values()])}
    if png is not None:
        out["png"] = str(calibrate.reliability_diagram(b, a, y, png, title="LOPO: held-out places, "
                                                       "temperature fitted per fold on inner validation"))
    return out


def days_split(ctx: Context, place: str, val_days: int, test_days: int,
               seed: int) -> dict[str, np.ndarray] | None:
    """train.train's split of that place's frames: whole days, daylight-only training."""
    mine = np.flatnonzero(ctx.place == place)
    if not len(mine):
        return None
    tr, va, te = data.split_by_date(ctx.subset(mine), val_days, test_days, seed)
    day = data.daylight_mask(ctx.samples)
    tr, va, te = mine[tr], mine[va], mine[te]
    others = np.flatnonzero((ctx.place != place) & day)
    return {"train": tr[day[tr]], "val": va[day[va]], "test": te, "others": others}


def days_metrics(ctx: Context, test: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    day = data.daylight_mask(ctx.subset(test))
    pred = probs.argmax(axis=1)
    out = {}
    for name, m in (("daylight", day), ("all", np.ones(len(test), bool)), ("night", ~day)):
        out[name] = evaluate.classification_metrics(ctx.y[test][m], pred[m]) if m.any() else None
    return out


def split_dates(ctx: Context, idx: np.ndarray) -> list[str]:
    return sorted({ctx.samples[i].date for i in idx})
