"""airstudy.md: the study's tables in words a maintainer can check."""
from __future__ import annotations

from typing import Any


def _f(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.0%}"


def markdown(r: dict[str, Any]) -> str:
    lines = ["# What the air model and the photo each add (simulated air model)", "",
             f"LOPO run `{r['lopo']}`, system `{r['system']}`. The air model is **simulated** from the station "
             "readings: modelled = station x exp(b_place + e_hour), log-normal (train/airstudy/simulate.py). "
             "Photo weight w and the air model's sigma are chosen for each held-out place on the other places "
             "(nested). Balanced accuracy pooled over the held-out places, mean over draws.", ""]
    lines += _grid(r) + _places(r) + _sure(r) + _views(r) + _examples(r)
    rule = r["verdict_rule"]
    lines += ["## Shipped verdict rule", "", f"photo weights {rule['photo_weight']}, air model sigma "
              f"{rule['air_model_sigma']}, unsure below {rule['unsure_below']} (target {rule['target']}).",
              f"Measured on: {rule['measured_on']}.", "", f"Run time {r['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def _grid(r: dict) -> list[str]:
    lines = ["## Pooled balanced accuracy on the grid of simulated errors", "",
             "| bias sd | noise sd | air model alone | photo + air model (nested) | gain | w, sigma shipped here |",
             "|---:|---:|---:|---:|---:|---|"]
    for g in r["grid"].values():
        mark = " (central)" if f"bias {g['bias_sd']:g}, noise {g['noise_sd']:g}" == r["central"] else ""
        lines.append(f"| {g['bias_sd']:g}{mark} | {g['noise_sd']:g} | {_f(g['air_model_alone'])} | "
                     f"{_f(g['combined'])} +- {_f(g['combined_sd'])} | {g['gain']:+.3f} | "
                     f"{g['ship']['photo_weight']}, {g['ship']['sigma']} |")
    po = r["photo_only"]
    return lines + ["", f"Photo alone (no place): {_f(po['no_prior'])} with no prior, {_f(po['world_prior'])} "
                        "against the world prior.", ""]


def _places(r: dict) -> list[str]:
    central = r["grid"][r["central"]]
    lines = [f"## Per place, central setting ({r['central']})", "",
             "| held-out place | air model alone | photo + air model | w | sigma |", "|---|---:|---:|---:|---:|"]
    for place, v in central["per_place"].items():
        lines.append(f"| {place} | {_f(v['air_model_alone'])} | {_f(v['combined'])} | {v['photo_weight']} | "
                     f"{v['sigma']} |")
    return lines + [""]


def _sure(r: dict) -> list[str]:
    lines = ["## Verdicts shown as sure (central setting; confidence map and line nested)", "",
             "| level | shown as sure | right when sure |", "|---|---:|---:|"]
    for basis, v in r["sure"].items():
        lines.append(f"| {basis} | {_pct(v['sure'])} | {_pct(v['right_when_sure'])} |")
    lines += ["", "| held-out place | sure with the air model | right | sure from the photo alone | right |",
              "|---|---:|---:|---:|---:|"]
    air, prior = r["sure"]["air_model"]["per_place"], r["sure"]["prior"]["per_place"]
    for place in air:
        lines.append(f"| {place} | {_pct(air[place]['sure'])} | {_pct(air[place]['right_when_sure'])} | "
                     f"{_pct(prior[place]['sure'])} | {_pct(prior[place]['right_when_sure'])} |")
    return lines + [""]


def _views(r: dict) -> list[str]:
    per = r["fixed_views"]["per_place"]
    if not per:
        return []
    methods = list(dict.fromkeys(m for v in per.values() for m in v if m != "strength"))
    lines = ["## A fixed view calibrated from the air model's archive (held-out days)", "",
             "| place | strength | " + " | ".join(methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for place, v in per.items():
        lines.append(f"| {place} | {v['strength']:g} | " + " | ".join(_f(v.get(m)) for m in methods) + " |")
    return lines + [""]


def _examples(r: dict) -> list[str]:
    if not r["examples"]:
        return []
    lines = ["## Example photos, photo alone against the world prior (fold models' mean)", "",
             "| photo | leans to | top share |", "|---|---|---:|"]
    lines += [f"| {n} | {v['label']} | {_pct(v['top'])} |" for n, v in r["examples"].items()]
    return lines + [""]


def compare_markdown(rows: dict[str, dict]) -> str:
    lines = ["# Photo models by what they add to the air model (simulated, central setting, nested)", "",
             "| LOPO run : row | zero-shot BA | air model alone | photo + air model | gain | within-place rank |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {_f(r['zero_shot'])} | {_f(r['air_model_alone'])} | {_f(r['combined'])} | "
                     f"{r['gain']:+.3f} | {_f(r['within_place_rank'], 2)} |")
    return "\n".join(lines) + "\n"
