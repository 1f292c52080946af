"""report.md of the frozen-feature study: the tables of train.places.study's metrics."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from airken.core.classes import LABELS


def _f(v: Any, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _lopo_tables(metrics: dict[str, Any]) -> list[str]:
    lopo = metrics["lopo"]
    names = list(lopo)
    frames = metrics["frames"]
    rows = ["| held-out place | frames (readings) | classes h/m/d | "
            + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    for place in lopo["model"]["per_place"]:
        fr = frames.get(place, {})
        cls = "/".join(str(v) for v in fr.get("classes", {}).values())
        cells = " | ".join(_f(lopo[n]["per_place"][place]["balanced_accuracy"]) for n in names)
        rows.append(f"| {place} | {fr.get('daylight_frames')} ({fr.get('hourly_readings')}) | {cls} | {cells} |")
    ci = [lopo[n]["pooled"].get("balanced_accuracy_95ci") for n in names]
    rows.append("| pooled BA 95% interval (readings resampled) | | | "
                + " | ".join("n/a" if c is None else f"{c['low']:.2f}-{c['high']:.2f}" for c in ci) + " |")
    for label, key in (("**pooled balanced acc.**", "balanced_accuracy"), ("pooled macro-F1", "macro_f1"),
                       ("pooled accuracy", "accuracy")):
        rows.append(f"| {label} | | | " + " | ".join(_f(lopo[n]["pooled"][key]) for n in names) + " |")
    for stat in ("mean", "std", "min", "median", "max"):
        rows.append(f"| per-place BA {stat} | | | "
                    + " | ".join(_f(lopo[n]["spread"]["balanced_accuracy"][stat]) for n in names) + " |")
    rows.append("| seconds (all folds) | | | " + " | ".join(_f(lopo[n]["seconds"], 1) for n in names) + " |")
    return rows


def _confusions(metrics: dict[str, Any]) -> list[str]:
    out = []
    for name, res in metrics["lopo"].items():
        cm = res["pooled"]["confusion_matrix"]
        out.append(f"- {name}: " + "; ".join(
            f"true {LABELS[i]} -> " + "/".join(str(v) for v in row) for i, row in enumerate(cm)))
    return out


def _ablation(metrics: dict[str, Any]) -> list[str]:
    rows = ["| step | recipe tried | alone on the probe (delta) | on the current recipe (delta) | kept |",
            "|---|---|---|---|---|"]
    for r in metrics["recipe"]["ablation"]:
        alone = "" if r["alone"] is None else f"{_f(r['alone'])} ({r['alone_delta']:+.3f})"
        fwd = _f(r["forward"]) + (f" ({r['forward_delta']:+.3f})" if "forward_delta" in r else "")
        rows.append(f"| {r['step']} | {r['recipe']} | {alone} | {fwd} | {'yes' if r['kept'] else 'no'} |")
    return rows


def _days(metrics: dict[str, Any]) -> list[str]:
    h = metrics.get("days")
    if not h:
        return ["Not evaluated (no such place)."]
    s = h["split"]
    out = [f"Place {h['place']}: train {s['train']['frames']} daylight frames / {len(s['train']['dates'])} days, "
           f"val {s['val']['frames']} / {len(s['val']['dates'])} days, test {s['test']['frames']} frames "
           f"(all hours) / {len(s['test']['dates'])} days: {', '.join(s['test']['dates'])}. "
           f"Test classes: {h['test_classes']}.", ""]
    for set_name, block in h["training_sets"].items():
        out += [f"### trained on {set_name.replace('_', ' ')} ({block['train_frames']} frames)", "",
                "| system | daylight BA | daylight macro-F1 | daylight acc. | all-hours BA | night BA |",
                "|---|---|---|---|---|---|"]
        for name, m in block["systems"].items():
            d, a, n = m["daylight"] or {}, m["all"] or {}, m["night"] or {}
            cells = [_f(d.get("balanced_accuracy")), _f(d.get("macro_f1")), _f(d.get("accuracy")),
                     _f(a.get("balanced_accuracy")), _f(n.get("balanced_accuracy"))]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def _kfold(metrics: dict[str, Any]) -> list[str]:
    kf = metrics.get("days_kfold")
    if not kf:
        return []
    out = [f"Grouped {kf['k']}-fold over {kf['days']} daylight days ({kf['frames']} frames) of "
           f"{metrics['config']['days_place']}, seeds {kf['seeds']}, trained on that place alone: "
           "balanced accuracy across folds.", "",
           "| system | mean | std | min | median | max |", "|---|---|---|---|---|---|"]
    for name, v in kf["balanced_accuracy"].items():
        out.append(f"| {name} | " + " | ".join(_f(v[k]) for k in ("mean", "std", "min", "median", "max")) + " |")
    return out + [""]


def _calibration(metrics: dict[str, Any]) -> list[str]:
    out = ["| where | system | T | ECE before | ECE after | NLL before | NLL after | n | "
           "uncertain below | coverage / acc. kept (test) |", "|---|---|---|---|---|---|---|---|---|---|"]
    h = metrics.get("days") or {}
    for set_name, block in (h.get("training_sets") or {}).items():
        for name, m in block["systems"].items():
            cal = m.get("calibration")
            if not cal:
                continue
            for part in ("val", "test"):
                c = cal[part]
                sel = cal["test_selective"] if part == "test" else None
                where = "val days" if part == "val" else "daylight test days"
                out.append(f"| {h['place']} {where} ({set_name}) | {name} | {cal['temperature']:.2f} | "
                           f"{_f(c['ece_before'])} | {_f(c['ece_after'])} | {_f(c['nll_before'])} | "
                           f"{_f(c['nll_after'])} | {c['n']} | "
                           f"{_f(cal['uncertain']['threshold']) if part == 'val' else ''} | "
                           f"{'' if sel is None else _f(sel['coverage']) + ' / ' + _f(sel['accuracy_kept'])} |")
    for name, res in metrics["lopo"].items():
        cal = res.get("calibration")
        if not cal:
            continue
        out.append(f"| LOPO pooled held-out places | {name} | {_f(cal['temperatures']['median'], 2)} (median) | "
                   f"{_f(cal['pooled_ece_before'])} | {_f(cal['pooled_ece_after'])} | | | | "
                   f"{_f(cal['thresholds']['median'])} (median) | {_f(cal['pooled_coverage'])} / "
                   f"{_f(cal['pooled_accuracy_kept'])} |")
    return out


def write_report(metrics: dict[str, Any], path: Path) -> Path:
    cfg = metrics["config"]
    t = metrics["timings"]
    quick = f" (at most {cfg['per_group']} frames per hourly reading)" if cfg["per_group"] else ""
    lines = [
        "# Airken: evaluation across places", "",
        f"Data: {', '.join(cfg['data'])}; backbone features: {cfg['backbone']}{quick}.",
        "Nothing here fine-tunes the backbone: every system is a model on frozen features computed "
        "once per image (see the list of systems).", "",
        "## Systems", ""] + [f"- **{k}**: {v}" for k, v in metrics["systems"].items()] + [
        f"- chosen recipe (\"model\"): {metrics['recipe']['describe']}", "",
        "## Leave one place out (daylight frames)", "",
        "Train on every other place (minus an inner validation set of whole (place, date) "
        "groups, used for early stopping and temperature), test on every frame of the held-out "
        "place. Balanced accuracy per held-out place; a place with one class scores that "
        "class's recall. Chance is 0.333 pooled.", ""] + _lopo_tables(metrics) + [
        "", "Pooled confusion matrices (rows: true healthy/moderate/danger; counts predicted "
        "healthy/moderate/danger):", ""] + _confusions(metrics) + [
        "", "![LOPO confusion](confusion_lopo_model.png)", "",
        "## Generalisation choices (forward selection by pooled LOPO balanced accuracy)", "",
        "Caveat: chosen on the same LOPO folds they are scored on, so the chosen recipe's "
        "number is optimistic by a selection margin.", ""] + _ablation(metrics) + [
        "", "## Held-out days", ""] + _days(metrics) + _kfold(metrics) + [
        "## Calibration (temperature scaling on validation frames)", "",
        f"Uncertain: top probability (after scaling) below a threshold chosen on validation so "
        f"the frames above it reach accuracy >= {cfg['target_accuracy']}.", ""] + _calibration(metrics) + [
        "", "## Timings (seconds)", "",
        f"load + scan {t['load_and_scan_s']}; features {t['features']}; recipe search "
        f"{t['recipe_search_s']} ({t['recipes_tried']} recipes x {len(metrics['lopo_folds'])} folds); "
        f"LOPO systems {t['lopo_s']}; held-out days {t['days_s']}; total {t['total_s']} "
        f"(CPU {t.get('total_cpu_s')} s over all threads).", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
