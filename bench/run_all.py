"""Run every benchmark and write bench/results/latest.json + latest.md (`make bench`).

    python -m bench.run_all [--quick] [--skip-keras] [--skip-variants] [--skip-app]
                            [--skip-load] [--skip-install | --venv PATH] [--load-seconds 15]

Each benchmark runs in its own interpreter (TensorFlow, loaded for the Keras comparisons,
must not sit in memory or hold threads while the app is measured). A benchmark that fails
is recorded with its error; the others still run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    BUNDLED_METRICS,
    REPO_ROOT,
    RESULTS_DIR,
    RUN_DIR,
    app_start,
    cpu_info,
    examples,
    heic_thumbnails,
    install_size,
    load_avg,
    model_variants,
    predict_latency,
    shown,
)


def wait_for_idle(max_wait_s: float, below: float = 1.0) -> None:
    """On a shared machine, wait (up to max_wait_s) until the 1-minute load average drops below `below`."""
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline and (load_avg() or 0.0) >= below:
        time.sleep(5)


def run_module(module: str, args: list[str], timeout: float, idle_wait_s: float = 0.0) -> dict:
    """`python -m bench.<module> ... --json tmp`, its output streamed, its JSON returned."""
    if idle_wait_s:
        wait_for_idle(idle_wait_s)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    cmd = [sys.executable, "-m", f"bench.{module}", *args, "--json", str(out)]
    print(f"\n=== {module}: {' '.join(cmd[2:])}", flush=True)
    t0, load0 = time.perf_counter(), load_avg()
    try:
        done = subprocess.run(cmd, cwd=REPO_ROOT, timeout=timeout)
        if done.returncode != 0:
            return {"error": f"exit status {done.returncode} (see the output above)"}
        result = json.loads(out.read_text())
        result["bench_seconds"] = round(time.perf_counter() - t0, 1)
        result["load_avg_1min_before_after"] = [load0, load_avg()]
        return result
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    except (OSError, ValueError) as e:
        return {"error": f"no result: {e}"}
    finally:
        out.unlink(missing_ok=True)


def training_numbers(run_dir: Path = RUN_DIR) -> dict:
    """Throughput of the training run as it recorded it (nothing is retrained here): the run
    folder's metrics.json, else the bundled model's copy of it."""
    errors = []
    for path in (run_dir / "metrics.json", BUNDLED_METRICS):
        try:
            t = json.loads(path.read_text())["training"]
        except (OSError, ValueError, KeyError) as e:
            errors.append(f"{shown(path)}: {type(e).__name__}")
            continue
        head, fine = t.get("head") or {}, t.get("finetune") or {}
        return {
            "source": shown(path),
            "device": t.get("device"),
            "feature_images_per_s": head.get("feature_images_per_s"),
            "head_images_per_s": head.get("images_per_s"),
            "finetune_images_per_s": fine.get("images_per_s"),
            "head_seconds": head.get("seconds"),
            "finetune_seconds": fine.get("seconds"),
            "head_epochs": head.get("epochs_run"),
            "finetune_epochs": fine.get("epochs_run"),
            "train_frames_per_epoch": t.get("train_frames_per_epoch", t.get("train_frames_oversampled")),
            "total_seconds": t.get("total_seconds"),
        }
    return {"error": "; ".join(errors)}


def machine() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {**cpu_info(), "python": platform.python_version(), "platform": platform.platform(terse=True),
            "commit": commit, "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# ---------------------------------------------------------------- markdown


def _section(title: str, result: dict | None, render) -> list[str]:
    if result is None:
        return [f"## {title}", "", "(skipped)", ""]
    if "error" in result:
        return [f"## {title}", "", f"(failed: {result['error']})", ""]
    return [f"## {title}", "", render(result), ""]


def _latency_md(r: dict) -> str:
    prof = "\n".join(f"| {k} | {v} |" for k, v in r["profile_12mp_jpeg_p50_ms"].items())
    return "\n".join([
        f"airken: `{r['model']['file']}` ({r['model']['source']}, sha256 {r['model']['sha256']}..., "
        f"LiteRT threads: {r['model']['threads']}). Keras path: {r['keras_model'] or 'skipped'}.",
        "",
        predict_latency.table(r),
        "",
        "Where airken's time goes (p50 ms per stage, from Verdict.timings_ms):",
        "",
        predict_latency.breakdown_table(r),
        "",
        "12 MP JPEG, stage by stage:",
        "",
        "| stage | p50 ms |",
        "|---|---:|",
        prof,
    ])


def _training_md(t: dict) -> str:
    dev = t.get("device") or {}
    where = f"{dev.get('kind', '?')} x{dev.get('count', '?')} ({dev.get('strategy_name', '?')})" if dev else "?"
    lines = [
        f"From `{t['source']}` (device: {where}; {t['train_frames_per_epoch']} balanced training frames per epoch; "
        "nothing is retrained by the benchmark).",
        "",
        "| phase | images/s | epochs | seconds |",
        "|---|---:|---:|---:|",
    ]
    if t.get("feature_images_per_s") is not None:
        lines.append(f"| frozen backbone features, computed once | {t['feature_images_per_s']} | 1 | |")
    lines += [
        f"| head (on the cached features) | {t['head_images_per_s']} | {t['head_epochs']} | {t['head_seconds']} |",
        f"| fine-tune top layers | {t['finetune_images_per_s']} | {t['finetune_epochs']} | {t['finetune_seconds']} |",
        f"| whole run (data, both phases, evaluation, export) | | | {t['total_seconds']} |",
    ]
    return "\n".join(lines)


def targets(results: dict) -> list[tuple[str, str, str, str]]:
    """(what, measured, target, verdict) rows."""
    rows = []
    lat = results.get("predict_latency") or {}
    for name, t in (lat.get("targets") or {}).items():
        what = {"12mp_jpeg_airken_over_pillow": "12 MP JPEG: airken p50 / full Pillow decode p50",
                "12mp_jpeg_keras_over_airken": "12 MP JPEG: Keras path (model.predict, as the demo) p50 / airken p50",
                "12mp_jpeg_keras_compiled_over_airken":
                    "12 MP JPEG: Keras path (predict_on_batch, compiled) p50 / airken p50",
                "12mp_heic_thumbnail_airken_over_full_decode":
                    "12 MP HEIC with an iPhone thumbnail: airken p50 / full pillow-heif decode p50",
                "12mp_jpeg_end_to_end_over_floor":
                    "12 MP JPEG: airken end to end p50 / its floor (decode + model p50s, same run)",
                }.get(name, name)
        rows.append((what, f"{t['value']}x", t["target"], _verdict(t["met"])))
    heic = results.get("heic_thumbnails") or {}
    if "n" in heic:
        rows.append(("HEIC read from its thumbnail: same verdict as a full decode (example photos; shown, "
                     "no target)", f"{heic['same_verdict']} of {heic['n']}", "-", _verdict(None)))
    app = results.get("app") or {}
    if app.get("cold_start_s") is not None:
        cold = app["cold_start_s"]
        rows.append(("cold start to first page", f"{cold} s", "< 5 s", _verdict(cold < 5)))
    inst = results.get("install_size") or {}
    if "venv_mb" in inst:
        rows.append(("fresh virtualenv from requirements.txt", f"{inst['venv_mb']} MB", f"< {inst['target_mb']} MB",
                     _verdict(inst["met"])))
    return rows


def _load_line(results: dict) -> str:
    """The machine is shared: say how busy it was while each benchmark ran."""
    parts = []
    for key, name in (("predict_latency", "predict latency"), ("model_variants", "model variants"),
                      ("app", "web app"), ("install_size", "install")):
        la = (results.get(key) or {}).get("load_avg_1min_before_after")
        if la:
            parts.append(f"{name} {la[0]} -> {la[1]}")
    return ("1-minute load average (2 cores; above 2 means other work competed) before -> after each benchmark: "
            + "; ".join(parts) + ".") if parts else ""


def _verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "MISSED")


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# Airken benchmarks (latest run)",
        "",
        f"Started {m['date']}, commit `{m['commit']}`, {m['cpu']}, {m['cores']} cores, Python {m['python']}. "
        "Ratios compare numbers measured in the same run. Reproduce: `make bench` "
        "(or `python -m bench.run_all --help`).",
        "",
        _load_line(results),
        "",
        "## Targets",
        "",
        "| what | measured | target | |",
        "|---|---:|---:|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(results)],
        "",
    ]
    lines += _section("Predict latency", results.get("predict_latency"), _latency_md)
    lines += _section("iPhone photos: HEIC thumbnail against full decode", results.get("heic_thumbnails"),
                      heic_thumbnails.table)
    lines += _section("The example photos, as the bundled model reads them (a sanity check)", results.get("examples"),
                      examples.table)
    lines += _section("Model variants (TFLite)", results.get("model_variants"), model_variants.table)
    lines += _section("Web app", results.get("app"), app_start.table)
    lines += _section("Install size", results.get("install_size"), install_size.table)
    lines += _section("Training throughput", results.get("training"), _training_md)
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions, 5 s load runs")
    p.add_argument("--skip-keras", action="store_true", help="no TensorFlow comparison in the latency bench")
    p.add_argument("--skip-variants", action="store_true")
    p.add_argument("--skip-app", action="store_true")
    p.add_argument("--skip-load", action="store_true", help="app cold start and idle RSS only")
    p.add_argument("--skip-install", action="store_true")
    p.add_argument("--venv", type=Path, help="measure this virtualenv instead of installing a fresh one")
    p.add_argument("--load-seconds", type=float, default=None)
    p.add_argument("--run-dir", type=Path, default=RUN_DIR,
                   help="training run: model.keras, export/, metrics.json (default: runs/both or $AIRKEN_RUN_DIR)")
    p.add_argument("--idle-wait", type=float, default=0.0, metavar="SECONDS",
                   help="before each benchmark, wait up to this long for the load average to drop below 1")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    os.environ["AIRKEN_RUN_DIR"] = str(args.run_dir.resolve())  # read by every benchmark

    results: dict = {"machine": machine()}
    quick = ["--quick"] if args.quick else []
    idle = args.idle_wait
    results["predict_latency"] = run_module(
        "predict_latency", [*quick, *(["--no-keras"] if args.skip_keras else [])], 900, idle)
    results["heic_thumbnails"] = run_module("heic_thumbnails", [], 600, idle)
    results["examples"] = run_module("examples", [], 300, idle)
    if not args.skip_variants:
        results["model_variants"] = run_module(
            "model_variants", ["--run-dir", str(args.run_dir), "--reps", "20" if args.quick else "50"], 900, idle)
    if not args.skip_app:
        seconds = args.load_seconds or (5.0 if args.quick else 15.0)
        app_args = ["--no-load"] if args.skip_load else ["--seconds", str(seconds)]
        results["app"] = run_module("app_start", app_args, 600, idle)
    if args.venv:
        results["install_size"] = run_module("install_size", ["--skip-install", str(args.venv)], 600)
    elif not args.skip_install:
        results["install_size"] = run_module("install_size", [], timeout=1800)
    results["training"] = training_numbers(args.run_dir)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    md = markdown(results)
    (args.out / "latest.md").write_text(md + "\n")
    print("\n" + md)
    print(f"\nwrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
