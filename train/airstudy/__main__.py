"""python -m train.airstudy --lopo FOLDER --data FOLDER... (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from airken.core.classes import LABELS
from airken.core.prior import WORLD_PRIOR
from airken.core.witnesses import combine, verdict_class
from train import evaluate, log_to
from train.airstudy import combined, report, study
from train.airstudy.frames import load
from train.airstudy.simulate import CENTRAL
from train.lopo import example_names

log = logging.getLogger("train.airstudy")


def run(lopo: Path, data: list[str], system: str = "network_fused", out: Path | None = None, draws: int = 30,
        central_draws: int = 100) -> dict[str, Any]:
    t0 = time.perf_counter()
    out = out or lopo
    frames = load(lopo, data, system)
    grid = study.grid(frames, draws, central_draws)
    central = grid[CENTRAL.name]
    picks, ship = central.pop("_picks"), central.pop("_ship")
    sigma, weight = combined.SIGMAS[ship[0]], combined.WEIGHTS[ship[1]]
    rule = study.rule(frames, sigma, weight, draws=20)
    result = {"lopo": str(lopo), "system": system, "central": CENTRAL.name, "grid": grid,
              "sure": study.sure_verdicts(frames, picks, draws=20), "photo_only": study.photo_only(frames),
              "fixed_views": study.fixed_views(frames, picks), "examples": examples(frames, rule),
              "verdict_rule": rule}
    result["summary"] = study.summary(result)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result = evaluate.to_jsonable(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "airstudy.json").write_text(json.dumps(result, indent=2))
    (out / "airstudy.md").write_text(report.markdown(result))
    log.info("done in %.0f s: %s", result["seconds"], out / "airstudy.md")
    return result


def examples(frames, rule: dict) -> dict[str, Any]:
    """The example photos, read from the photo alone against the world prior (the mean of the
    fold models, never fitted on): a veto on anything absurd."""
    if frames.examples is None:
        return {}
    shares = combine(np.asarray(WORLD_PRIOR), frames.examples, frames.train_prior, rule["photo_weight"]["prior"])
    return {name: {"label": LABELS[verdict_class(s, False)], "top": float(s[verdict_class(s, False)])}
            for name, s in zip(example_names(), shares, strict=True)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m train.airstudy", description=__doc__)
    p.add_argument("--lopo", required=True, type=Path, help="a train.lopo output folder")
    p.add_argument("--data", nargs="+", required=True, help="the data folders the LOPO run used")
    p.add_argument("--system", default="network_fused", help="the LOPO row to study (the app runs network_fused)")
    p.add_argument("--out", type=Path, default=None, help="where to write (default: the LOPO folder)")
    p.add_argument("--draws", type=int, default=30, help="simulated draws per grid setting")
    p.add_argument("--central-draws", type=int, default=100, help="draws at the central setting")
    p.add_argument("--compare", nargs="+", default=None, metavar="LOPO:SYSTEM",
                   help="only compare photo models (train.lopo folders and their rows) in a table; "
                        "LOPO:network+haze16 fuses the network with a haze model refitted on 16 features")
    args = p.parse_args(argv)
    log_to((args.out or args.lopo) / "airstudy.log")
    if args.compare:
        return compare(args.compare, args.data, args.out or args.lopo)
    return run(args.lopo, args.data, args.system, args.out, args.draws, args.central_draws)


def compare(pairs: list[str], data: list[str], out: Path) -> dict[str, Any]:
    """Photo models side by side by what they add to the air model (compare.json, compare.md)."""
    rows = {}
    for pair in pairs:
        folder, _, system = pair.rpartition(":")
        system, _, haze = system.partition("+haze")  # "network+haze16": refit the haze model on 16 features
        frames = load(Path(folder), data, system)
        rows[pair] = study.compare(study.refit_haze(frames, int(haze)) if haze else frames)
        log.info("%s: %s", pair, {k: v for k, v in rows[pair].items() if not isinstance(v, dict)})
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(evaluate.to_jsonable(rows), indent=2))
    (out / "compare.md").write_text(report.compare_markdown(rows))
    return rows


if __name__ == "__main__":
    main()
