"""The leave-one-place-out table a model carries in its metrics.json ("places" block,
written by ``train.lopo.summary``), in words a visitor can read. Shared by the app's About
tab and the model card."""
from __future__ import annotations

SYSTEM_NAMES = {
    "network": "this model",
    "network_fused": "this model",
    "network_head": "this model",
    "network_head_fused": "this model",
    "colour": "colour/haze baseline",
    "linear_probe": "linear probe",
    "majority": "always the commonest band",
}


def _cell(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ci(pooled: dict) -> str:
    ci = pooled.get("balanced_accuracy_95ci")
    return f" ({ci['low']:.2f}-{ci['high']:.2f})" if isinstance(ci, dict) else ""


def verdict(places: dict) -> str:
    """One sentence: does the model beat chance and every baseline on unseen places?"""
    system, pooled = places["system"], places["pooled"]
    mine = pooled[system]["balanced_accuracy"]
    best_name, best = max(((s, p["balanced_accuracy"]) for s, p in pooled.items() if s != system),
                          key=lambda item: item[1])
    chance = places.get("chance", 1 / 3)
    spread = ""
    lo, hi = pooled[system].get("per_place_min"), pooled[system].get("per_place_max")
    if lo is not None and hi is not None:
        spread = f" Place by place it ranges from {lo:.2f} to {hi:.2f}."
    if mine > best and mine > chance:
        ci = pooled[system].get("balanced_accuracy_95ci")
        noise = (f" That margin is inside the noise (95 % interval {ci['low']:.2f}-{ci['high']:.2f}): "
                 "read it as no worse than the baseline, not as clearly better."
                 if isinstance(ci, dict) and ci["low"] <= best else "")
        return (f"Pooled over the places, it scores {mine:.2f} against {best:.2f} for the best baseline "
                f"({SYSTEM_NAMES.get(best_name, best_name)}) and {chance:.2f} for a blind guess.{noise}{spread}")
    return (f"Pooled over the places it scores {mine:.2f}: not better than the "
            f"{SYSTEM_NAMES.get(best_name, best_name)} ({best:.2f}); a blind guess scores {chance:.2f}. "
            f"On a place unlike its training places, its answer is little more than a guess.{spread}")


def places_markdown(places: dict | None) -> str:
    """Per-place and pooled balanced accuracy, the model beside its baselines."""
    if not isinstance(places, dict) or not places.get("per_place") or not places.get("pooled"):
        return ""
    systems = [s for s in places.get("systems", []) if s in places["pooled"]]
    head = "| place left out of training | photos | " + " | ".join(SYSTEM_NAMES.get(s, s) for s in systems) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(systems)]
    for place, row in places["per_place"].items():
        ba = row.get("balanced_accuracy", {})
        lines.append(f"| {place} | {row.get('frames', '')} | " + " | ".join(_cell(ba.get(s)) for s in systems) + " |")
    total = sum(int(r.get("frames", 0)) for r in places["per_place"].values())
    lines.append(f"| **all places, pooled** | {total} | "
                 + " | ".join(f"**{_cell(places['pooled'][s]['balanced_accuracy'])}**{_ci(places['pooled'][s])}"
                              for s in systems) + " |")
    return "\n".join([
        "Each row: trained on the other places, tested on every daylight photo of this one. "
        "Balanced accuracy: 1.00 is always right, 0.33 is a blind guess among the three bands; "
        "in brackets a 95 % interval.", "", *lines, "", verdict(places)])
