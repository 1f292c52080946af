"""The study, step by step: the grid of simulated errors, the sure verdicts at the central
setting, the photo alone, the fixed views, and the verdict rule to ship."""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np

from airken.core import ordinal
from airken.core.prior import WORLD_PRIOR
from airken.core.rule import AIR_MODEL, PRIOR
from airken.core.witnesses import verdict_class
from train.airstudy import combined, sureness, views
from train.airstudy.frames import Frames
from train.airstudy.scores import balanced_accuracy, confusions
from train.airstudy.simulate import CENTRAL, GRID, Setting, draw

log = logging.getLogger("train.airstudy")

PHOTO_ALONE_WEIGHT = 1.0  # without a place the photo is the only witness: its own tempered shares


def grid(frames: Frames, draws: int, central_draws: int, seed: int = 0) -> dict[str, Any]:
    """Every setting of the grid: air model alone, combined (nested), per place."""
    out = {}
    for setting in GRID:
        d = combined.simulate(frames, setting, central_draws if setting == CENTRAL else draws, seed)
        found = combined.nested(d, len(frames.places))
        out[setting.name] = {"bias_sd": setting.bias_sd, "noise_sd": setting.noise_sd, "draws": len(d.combined),
                             **_summary(found, frames)}
        if setting == CENTRAL:
            out[setting.name]["_picks"] = found["picks"]
            out[setting.name]["_ship"] = found["ship"]
        log.info("%s: air model alone %.3f, combined %.3f", setting.name, out[setting.name]["air_model_alone"],
                 out[setting.name]["combined"])
    return out


def _summary(found: dict, frames: Frames) -> dict[str, Any]:
    picks = [(combined.SIGMAS[s], combined.WEIGHTS[w]) for s, w in found["picks"]]
    return {"air_model_alone": float(np.mean(found["air_alone_ba"])),
            "combined": float(np.mean(found["pooled_ba"])), "combined_sd": float(np.std(found["pooled_ba"])),
            "gain": float(np.mean(np.subtract(found["pooled_ba"], found["air_alone_ba"]))),
            "per_place": {frames.places[p]: {"air_model_alone": found["air_alone_per_place"][p],
                                             "combined": found["per_place_ba"][p], "sigma": picks[p][0],
                                             "photo_weight": picks[p][1]} for p in range(len(frames.places))},
            "ship": {"sigma": combined.SIGMAS[found["ship"][0]], "photo_weight": combined.WEIGHTS[found["ship"][1]]}}


def _stacked(frames: Frames, shares_of, draws: list[np.ndarray]):
    """Every frame's verdict under every draw, stacked, with true class and place."""
    shares = np.concatenate([shares_of(m) for m in draws])
    return shares, np.tile(frames.y, len(draws)), np.tile(frames.place, len(draws))


def sure_verdicts(frames: Frames, picks: list[tuple[int, int]], draws: int, seed: int = 1) -> dict[str, Any]:
    """At the central setting: how many verdicts are shown as sure, and how often those are right,
    with the air model (each place's own nested choice) and from the photo alone."""
    rng = np.random.default_rng(seed)
    ms = [draw(frames.pm25, frames.place, frames.reading, CENTRAL, rng) for _ in range(draws)]

    def with_air(p: int):
        s, w = picks[p]
        return _stacked(frames, lambda m: combined.combined_shares(frames, m, combined.SIGMAS[s],
                                                                   combined.WEIGHTS[w]), ms)

    def alone(p: int):
        return combined.photo_alone(frames, np.asarray(WORLD_PRIOR), PHOTO_ALONE_WEIGHT), frames.y, frames.place

    n = len(frames.places)
    return {AIR_MODEL: _named(sureness.nested(with_air, n), frames),
            PRIOR: _named(sureness.nested(alone, n, by_median=False), frames)}


def _named(found: dict, frames: Frames) -> dict:
    return found | {"per_place": {frames.places[p]: v for p, v in found["per_place"].items()}}


def photo_only(frames: Frames, weight: float = PHOTO_ALONE_WEIGHT) -> dict[str, Any]:
    """The photo alone: the photo model's own top class with no prior (the zero-shot number of
    train.lopo), and the verdict the app gives without a place (world prior, most likely class)."""
    def ba(pred: np.ndarray) -> float:
        return float(balanced_accuracy(confusions(frames.y, pred, frames.place, len(frames.places)).sum(axis=0)))

    alone = combined.photo_alone(frames, np.asarray(WORLD_PRIOR), weight)
    return {"no_prior": ba(frames.probs.argmax(axis=1)), "world_prior": ba(verdict_class(alone, by_median=False))}


def rule(frames: Frames, sigma: float, weight: float, draws: int, seed: int = 2) -> dict[str, Any]:
    """The verdict rule the app ships, fitted on every held-out place at the central setting."""
    rng = np.random.default_rng(seed)
    ms = [draw(frames.pm25, frames.place, frames.reading, CENTRAL, rng) for _ in range(draws)]
    shares, y, _ = _stacked(frames, lambda m: combined.combined_shares(frames, m, sigma, weight), ms)
    air_map, air_line = sureness.fit(sureness.named_share(shares), verdict_class(shares) == y)
    alone = combined.photo_alone(frames, np.asarray(WORLD_PRIOR), PHOTO_ALONE_WEIGHT)
    prior_map, prior_line = sureness.fit(sureness.named_share(alone, False), verdict_class(alone, False) == frames.y)
    return {"photo_weight": {AIR_MODEL: weight, PRIOR: PHOTO_ALONE_WEIGHT}, "air_model_sigma": sigma,
            "air_model_noise_sd": CENTRAL.noise_sd, "target": sureness.TARGET,
            "unsure_below": {AIR_MODEL: air_line, PRIOR: prior_line},
            "reliability": {AIR_MODEL: air_map.to_dict(), PRIOR: prior_map.to_dict()},
            "ordinal_anchor": views.anchor_of(frames).to_dict(),
            "measured_on": f"leave-one-place-out over {len(frames.places)} places, {len(frames.y)} daylight frames; "
                           f"the air model simulated (log-normal bias sd {CENTRAL.bias_sd:g} per place, noise sd "
                           f"{CENTRAL.noise_sd:g} per hour)"}


def compare(frames: Frames, draws: int = 40) -> dict[str, Any]:
    """One photo model in a line: zero-shot, what it adds to the air model (central, nested),
    how well it ranks haze within each place, and Milan's view calibrated from the air model."""
    found = combined.nested(combined.simulate(frames, CENTRAL, draws), len(frames.places))
    ranks = [_within_rank(frames, p) for p in range(len(frames.places))]
    return {"zero_shot": photo_only(frames)["no_prior"], "air_model_alone": float(np.mean(found["air_alone_ba"])),
            "combined": float(np.mean(found["pooled_ba"])),
            "gain": float(np.mean(np.subtract(found["pooled_ba"], found["air_alone_ba"]))),
            "within_place_rank": float(np.nanmean(ranks)),
            "within_place_rank_per_place": dict(zip(frames.places, ranks, strict=True))}


def refit_haze(network: Frames, columns: int, weight: float = 0.5) -> Frames:
    """The network's frames fused, as the app fuses them, with a haze model refitted for each
    held-out place on the other places' frames: on the first ``columns`` view features (11:
    airken.core.haze_features' colour features, as shipped; 16: with the within-view ones)."""
    from train import evaluate
    from train.data import class_weights

    fused = network.probs.copy()
    for p in range(len(network.places)):
        train, test = network.place != p, network.place == p
        haze = evaluate.fit_haze_model(network.features[train][:, :columns], network.y[train],
                                       class_weights(network.y[train]))
        colour = haze.proba_features(network.features[test][:, :columns])
        fused[test] = (1 - weight) * network.probs[test] + weight * colour
    return replace(network, probs=fused)


def _within_rank(frames: Frames, p: int) -> float:
    """Spearman correlation, over one place's readings, of the haze score and log PM2.5."""
    from scipy.stats import spearmanr

    here = frames.place == p
    readings = np.unique(frames.reading[here])
    if len(readings) < 5:
        return float("nan")
    score = ordinal.score(frames.probs[here])
    mean = [score[frames.reading[here] == r].mean() for r in readings]
    pm = [frames.pm25[here][frames.reading[here] == r][0] for r in readings]
    return float(spearmanr(mean, np.log(pm)).correlation)


def fixed_views(frames: Frames, picks: list[tuple[int, int]], setting: Setting = CENTRAL,
                splits: int = 8, draws: int = 8) -> dict[str, Any]:
    """Per place with two or more classes: every method on held-out days, for every strength;
    the strength used for a place is the one that gains most on the other places (nested)."""
    eligible = [p for p in range(len(frames.places)) if len(np.unique(frames.y[frames.place == p])) > 1]
    table: dict[float, dict[int, dict[str, float]]] = {}
    for strength in views.STRENGTHS:
        table[strength] = {}
        for p in eligible:
            s, w = picks[p]
            anchor = views.anchor_of(frames.of(frames.place != p))
            table[strength][p] = views.study_place(frames.of(frames.place == p), setting, combined.SIGMAS[s],
                                                   combined.WEIGHTS[w], anchor, strength, splits, draws)
        log.info("fixed views, strength %g: done", strength)
    return _nested_strength(table, eligible, frames)


def _nested_strength(table: dict, eligible: list[int], frames: Frames) -> dict[str, Any]:
    key, base = "calibrated from the air model + air model", "air model alone"

    def gain(strength: float, places: list[int]) -> float:
        return float(np.mean([table[strength][q][key] - table[strength][q][base] for q in places]))

    out = {}
    for p in eligible:
        others = [q for q in eligible if q != p] or [p]
        best = max(views.STRENGTHS, key=lambda st: gain(st, others))
        out[frames.places[p]] = {"strength": best, **table[best][p]}
    return {"per_place": out, "by_strength": {str(st): {frames.places[p]: table[st][p] for p in eligible}
                                              for st in views.STRENGTHS}}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The compact block a shipped model carries (metrics.json "air_model_study"): what the About
    tab and the model card say about each witness."""
    central = result["grid"][result["central"]]
    return {"simulated": True, "setting": {"bias_sd": CENTRAL.bias_sd, "noise_sd": CENTRAL.noise_sd},
            "pooled": {"air_model_alone": central["air_model_alone"], "photo_and_air_model": central["combined"],
                       "photo_alone": result["photo_only"]["no_prior"],
                       "photo_alone_as_shown": result["photo_only"]["world_prior"]},
            "per_place": central["per_place"],
            "grid": [{k: g[k] for k in ("bias_sd", "noise_sd", "air_model_alone", "combined")}
                     for g in result["grid"].values()],
            "sure": {basis: {k: v[k] for k in ("sure", "right_when_sure")} for basis, v in result["sure"].items()},
            "fixed_views": result["fixed_views"]["per_place"]}
