"""The leave-one-place-out table a model carries in its metrics.json ("places" block,
written by ``train.lopo_summary.summary``), in words a visitor can read. Shared by the app's About
tab and the model card."""
from __future__ import annotations

from collections.abc import Callable

from airken.core.classes import WORDS

# One display name per system that training measures, for the About tab, the model card and
# the training reports. "model" is train.train's row, the network_* rows are train.lopo's.
SYSTEM_NAMES = {
    "model": "this model",
    "network": "this model",
    "network_fused": "this model",
    "network_head": "this model",
    "network_head_fused": "this model",
    "colour": "colour/haze baseline",
    "linear_probe": "linear probe",
    "majority": "always the commonest band",
    "date_hour": "date and hour only",
}
# What each baseline is, in a line.
SYSTEM_NOTES = {
    "colour": "11 colour and haze numbers of the photo (airken.core.haze_features) and a logistic regression",
    "linear_probe": "the frozen ImageNet backbone's features and a logistic regression, no fine-tuning",
    "majority": "the band most common in training, whatever the photo",
    "date_hour": "the date and hour of the photo, no image at all",
}


def baseline_legend(systems=("colour", "linear_probe", "majority")) -> list[str]:
    """What each baseline in the tables is, one markdown bullet each."""
    return [f"- **{SYSTEM_NAMES[s]}**: {SYSTEM_NOTES[s]}." for s in systems]


Share = Callable[[float], str]


def two_places(value: float) -> str:
    """0.478 -> "0.48": the model card's format."""
    return f"{value:.2f}"


def whole_percent(value: float) -> str:
    """0.478 -> "48%": the About tab's format, for visitors (one format on the page)."""
    return f"{value:.0%}"


def _cell(value, share: Share = two_places) -> str:
    return "-" if value is None else share(value)


def _ci(pooled: dict, share: Share = two_places) -> str:
    ci = pooled.get("balanced_accuracy_95ci")
    return f" ({share(ci['low'])}-{share(ci['high'])})" if isinstance(ci, dict) else ""


def verdict(places: dict, share: Share = two_places) -> str:
    """One sentence: does the model beat chance and every baseline on unseen places?"""
    system, pooled = places["system"], places["pooled"]
    mine = pooled[system]["balanced_accuracy"]
    best_name, best = max(((s, p["balanced_accuracy"]) for s, p in pooled.items() if s != system),
                          key=lambda item: item[1])
    chance = places.get("chance", 1 / 3)
    spread = ""
    lo, hi = pooled[system].get("per_place_min"), pooled[system].get("per_place_max")
    if lo is not None and hi is not None:
        spread = f" Place by place it ranges from {share(lo)} to {share(hi)}."
    if mine > best and mine > chance:
        ci = pooled[system].get("balanced_accuracy_95ci")
        noise = (f" That margin is inside the noise (95% interval {share(ci['low'])}-{share(ci['high'])}): "
                 "read it as no worse than the baseline, not as clearly better."
                 if isinstance(ci, dict) and ci["low"] <= best else "")
        return (f"Pooled over the places, it scores {share(mine)} against {share(best)} for the best baseline "
                f"({SYSTEM_NAMES.get(best_name, best_name)}) and {share(chance)} for a blind guess.{noise}{spread}")
    return (f"Pooled over the places it scores {share(mine)}: not better than the "
            f"{SYSTEM_NAMES.get(best_name, best_name)} ({share(best)}); a blind guess scores {share(chance)}. "
            f"On a place unlike its training places, its answer is little more than a guess.{spread}")


def places_markdown(places: dict | None, share: Share = two_places) -> str:
    """Per-place and pooled balanced accuracy, the model beside its baselines."""
    if not isinstance(places, dict) or not places.get("per_place") or not places.get("pooled"):
        return ""
    systems = [s for s in places.get("systems", []) if s in places["pooled"]]
    head = "| place left out of training | photos | " + " | ".join(SYSTEM_NAMES.get(s, s) for s in systems) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(systems)]
    for place, row in places["per_place"].items():
        ba = row.get("balanced_accuracy", {})
        lines.append(f"| {place} | {row.get('frames', '')} | "
                     + " | ".join(_cell(ba.get(s), share) for s in systems) + " |")
    total = sum(int(r.get("frames", 0)) for r in places["per_place"].values())
    pooled = places["pooled"]
    lines.append(f"| **all places, pooled** | {total} | " + " | ".join(
        f"**{_cell(pooled[s]['balanced_accuracy'], share)}**{_ci(pooled[s], share)}" for s in systems) + " |")
    return "\n".join([
        "Each row: trained on the other places, tested on every daylight photo of this one. "
        f"Balanced accuracy: {share(1.0)} is always right, {share(1 / 3)} is a blind guess among the three bands; "
        "in brackets a 95% interval.", "", *lines, "", verdict(places, share), *_single_band_note(places, share)])


def _single_band_note(places: dict, share: Share = two_places) -> list[str]:
    """Where every photo of a place is in one band, balanced accuracy is just the share called
    right: a constant answer scores 1.00 or 0.00 there, which looks like a bug but is not."""
    single = {p: [c for c, n in (row.get("classes") or {}).items() if n]
              for p, row in places["per_place"].items()}
    single = {p: c[0] for p, c in single.items() if len(c) == 1}
    if not single:
        return []
    listed = ", ".join(f"{p} (all {WORDS.get(c, c)})" for p, c in single.items())
    return ["", f"Every photo of {listed} is in one band, so there a score is simply the share of photos "
            f"called right: {SYSTEM_NAMES['majority']} scores {share(1.0)} where that band is the commonest in "
            f"training and {share(0.0)} where it is not."]


def verdicts_markdown(places: dict | None, share: Share = two_places) -> str:
    """What the steps after the network do on places the model never saw (train.verdicts'
    summary in the "places" block): the class prior, the unsure threshold, and a place
    profile fitted on a few readings."""
    v = (places or {}).get("verdicts") if isinstance(places, dict) else None
    if not isinstance(v, dict):
        return ""
    lines = ["| class prior | balanced accuracy | accuracy | calibration error (ECE) |", "|---|---:|---:|---:|"]
    names = {"none": "none (as trained: every band equally likely)", "world": "world prior (the app's default)"}
    keys = ("balanced_accuracy", "accuracy", "ece")
    lines += [f"| {names.get(k, k)} | " + " | ".join(_cell(r[key], share) for key in keys) + " |"
              for k, r in v["prior"].items()]
    u = v["unsure"]
    kept = "-" if u["accuracy_kept"] is None else f"{u['accuracy_kept']:.0%}"
    lines += ["", f"Answers shown as a verdict rather than \"can't tell\" (confidence at least {share(u['ship'])}, "
              "chosen on the other places): "
              f"{u['coverage']:.0%} of the photos, right {kept} of the time (all answers: {u['accuracy_all']:.0%}).",
              "", "**With a few readings of your own view** (the three-offset profile of earlier versions): a "
              "profile fitted on k hourly readings of the held-out place, tested on its other readings.", "",
              "| readings k | places | balanced accuracy with the profile | without it, same photos |",
              "|---:|---|---:|---:|"]
    for row in v["few_shot"].values():
        lines.append(f"| {row['k']} | {', '.join(row['places'])} | {share(row['pooled_ba_mean'])} "
                     f"(\N{PLUS-MINUS SIGN} {share(row['pooled_ba_std'])}) | {share(row['zero_shot_same_frames'])} |")
    return "\n".join(lines)


def witnesses_markdown(metrics: dict) -> str:
    """What each witness of a verdict adds (train.airstudy's "air_model_study" summary and the
    "verdict_rule" it chose): the air model alone, the photo alone and the two together on
    places the model never saw, with the air model SIMULATED from the stations."""
    study, rule = metrics.get("air_model_study"), metrics.get("verdict_rule") or {}
    if not isinstance(study, dict) or not isinstance(study.get("pooled"), dict):
        return ""
    p, s = study["pooled"], study.get("setting", {})
    sure = (study.get("sure") or {}).get("air_model") or {}
    right = sure.get("right_when_sure")
    weight = (rule.get("photo_weight") or {}).get("air_model")
    lines = [f"The air model's values are **simulated** from the station readings (log-normal error: bias sd "
             f"{s.get('bias_sd', '?')} per place, noise sd {s.get('noise_sd', '?')} per hour; train/README.md cites "
             "the evaluations these rest on). Balanced accuracy pooled over the places left out of training:", "",
             "| what the verdict rests on | balanced accuracy |", "|---|---:|",
             f"| the air model alone (the class of its value) | {_cell(p['air_model_alone'])} |",
             f"| the photo and the air model, as the app combines them | {_cell(p['photo_and_air_model'])} |",
             f"| the photo alone (no place) | {_cell(p['photo_alone'])} |", ""]
    if weight is not None:
        lines.append(f"The photo's weight beside the air model, chosen on the other places each time: {weight:g}"
                     + (" (on places it never saw a photo did not improve on the air model)." if weight == 0 else "."))
    if sure.get("sure") is not None:
        lines.append(f"With the air model, {sure['sure']:.0%} of the verdicts are shown as sure, right "
                     f"{'-' if right is None else format(right, '.0%')} of the time; from the photo alone none is.")
    return "\n".join(lines)
