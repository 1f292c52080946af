"""Hostile files (bench/fixtures/hostile.py's corpus): how long each one takes and how much memory
it costs through the command line and the HTTP API, and whether the server's memory comes
back after repeated passes.

    python -m bench.hostile                          # both parts; bench/results/hostile.json and .md
    python -m bench.hostile --only files
    python -m bench.hostile --only passes --allocators shipped none
    python -m bench.hostile --only load

Per file: the CLI's peak RSS (its own process, from os.wait4) and wall time (start-up
included), and the API's answer time on a warm server (upload + /call/predict) with what
it answered. Passes: the whole corpus --passes times through the API from --clients
parallel clients; the server's RSS after each pass and its peak (VmHWM), for each
allocator setting: shipped (airken.core.memory.tune_allocator at start, release after large
decodes), trim only, tuned only, none. Load: bench/load.py with hostile files mixed into
good traffic, and with clients that stream slow files beside it (LOAD_RUNS). Only
127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from airken.examples import EXAMPLES_DIR
from bench import REPO_ROOT, RESULTS_DIR, cpu_info, load_avg, offline_env, rss_mb
from bench.fixtures.gradio_http import GradioHTTP, api_prefix_of, predict_data
from bench.fixtures.hostile import make_hostile_corpus
from bench.load import start_server

CLI_TIMEOUT_S = 120
SETTLE_S = 3.0
# How each allocator setting is obtained: app.py with parts of airken.core.memory switched off.
ALLOCATORS = {
    "shipped": "",
    "trim only": "m.tune_allocator = lambda: False",
    "tuned only": "m.release = lambda: None",
    "none": "m.tune_allocator = lambda: False; m.release = lambda: None",
}
TARGETS = {"answer_s": 2.0, "cli_peak_mb": 600.0, "growth_mb": 150.0, "good_p95_ms": 1000.0}
# bench/load.py runs: what they show, and their arguments.
LOAD_RUNS = {
    "8 clients, a quarter of their requests hostile files": ["--concurrency", "8", "--bad-share", "0.25"],
    "2 clients, beside 2 streaming the files issue #12 found slow": [
        "--concurrency", "2", "--slow-clients", "2", "--slow-set", "issue"],
    "2 clients, beside 1 streaming the costliest files still read": [
        "--concurrency", "2", "--slow-clients", "1", "--slow-set", "heavy"],
    "2 clients, beside 2 streaming the costliest files still read": [
        "--concurrency", "2", "--slow-clients", "2", "--slow-set", "heavy"],
}


# Runs a command and prints its exit status, wall seconds and peak RSS (kB) on stderr. Linux
# counts the RSS a process had before exec into its peak, so the command must be started by
# this small interpreter and not by the benchmark, which holds the whole corpus.
_MEASURE = """
import os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss, file=sys.stderr)
"""


def measured(cmd: list[str], timeout: float = CLI_TIMEOUT_S) -> tuple[int, float, float, str]:
    """(exit status, wall seconds, peak RSS MB, stdout) of a command in a process of its own."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout)
    status, seconds, peak_kb = done.stderr.split()[-3:]
    return int(status), float(seconds), int(peak_kb) / 1024, done.stdout


def cli_answer(stdout: str) -> str:
    try:
        record = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "no answer"
    return "refused" if "error" in record else str(record.get("label"))


def api_answer(api: GradioHTTP, path: Path) -> tuple[float, str]:
    """Seconds for upload + predict, and the answer: a label, 'none' (scene refused),
    'refused' (a message), or what went wrong."""
    t0 = time.perf_counter()
    try:
        server_path = api.upload(path.name, path.read_bytes())
        event, payload = api.call("predict", predict_data({"path": server_path, "orig_name": path.name,
                                                           "meta": {"_type": "gradio.FileData"}}))
    except Exception as err:  # reported, not raised: the table goes on
        return time.perf_counter() - t0, f"failed: {type(err).__name__}"
    seconds = time.perf_counter() - t0
    if event == "complete":
        return seconds, str(payload[0].get("label")).lower()
    if event == "error" and payload.get("error"):
        return seconds, "refused"
    return seconds, f"{event}: {str(payload)[:60]}"


def files_part(corpus: list, work: Path) -> dict:
    offline_env()
    _, baseline_s, baseline_mb, _ = measured([sys.executable, "-m", "airken", "predict", "--json",
                                              str(EXAMPLES_DIR / "clear-kite.jpg")])
    proc, url, _ = start_server(work / "server-files", None)
    rows = []
    try:
        api = GradioHTTP(url, api_prefix_of(url))
        api_answer(api, EXAMPLES_DIR / "clear-kite.jpg")  # the first call pays for warm-up
        for case in corpus:
            rc, cli_s, cli_mb, out = measured([sys.executable, "-m", "airken", "predict", "--json", str(case.path)])
            api_s, api_says = api_answer(api, case.path)
            rows.append({"file": case.name, "why": case.why, "expect": case.expect, "bytes": case.path.stat().st_size,
                         "cli_peak_mb": round(cli_mb, 1), "cli_s": round(cli_s, 2), "cli_exit": rc,
                         "cli_says": cli_answer(out), "api_s": round(api_s, 3), "api_says": api_says})
            print(f"{case.name:34} CLI {cli_mb:6.0f} MB {cli_s:5.2f} s | API {api_s:5.2f} s {api_says}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    slowest = max(rows, key=lambda r: r["api_s"])
    hungriest = max(rows, key=lambda r: r["cli_peak_mb"])
    return {
        "files": len(rows),
        "cli_baseline": {"file": "clear-kite.jpg", "peak_mb": round(baseline_mb, 1), "s": round(baseline_s, 2)},
        "max_api_s": {"file": slowest["file"], "s": slowest["api_s"]},
        "max_cli_peak_mb": {"file": hungriest["file"], "mb": hungriest["cli_peak_mb"]},
        "max_cli_s": max(r["cli_s"] for r in rows),
        "unexpected": [r["file"] for r in rows if (r["api_says"] == "refused") != (r["expect"] == "reject")
                       or r["cli_says"] == "no answer"],
        "rows": rows,
    }


def _launcher(allocator: str) -> list[str]:
    code = "; ".join(part for part in (
        "import runpy, sys", "import airken.core.memory as m", ALLOCATORS[allocator],
        "sys.argv = ['app.py', *sys.argv[1:]]", "runpy.run_path('app.py', run_name='__main__')") if part)
    return [sys.executable, "-c", code]


def _one_pass(url: str, prefix: str, paths: list[Path], clients: int) -> list[str]:
    """Every file once, spread over `clients` threads; returns the unexpected answers."""
    problems: list[str] = []

    def worker(share: list[Path]) -> None:
        api = GradioHTTP(url, prefix)
        for path in share:
            _, says = api_answer(api, path)
            if says.startswith(("failed", "http", "error")):
                problems.append(f"{path.name}: {says}")

    threads = [threading.Thread(target=worker, args=(paths[k::clients],)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return problems


def passes_part(corpus: list, work: Path, allocator: str, passes: int, clients: int) -> dict:
    proc, url, _ = start_server(work / f"server-{allocator.replace(' ', '-')}", None, _launcher(allocator))
    try:
        prefix = api_prefix_of(url)
        examples = sorted(EXAMPLES_DIR.glob("*.jpg"))
        _one_pass(url, prefix, examples, 1)  # warm: model, page caches, first-request work
        time.sleep(SETTLE_S)
        warm = rss_mb(proc.pid)
        after, problems = [], []
        for _ in range(passes):
            problems += _one_pass(url, prefix, [c.path for c in corpus], clients)
            time.sleep(SETTLE_S)
            after.append(rss_mb(proc.pid))
        peak = rss_mb(proc.pid, "VmHWM")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"allocator": allocator, "rss_mb_warm": warm, "rss_mb_after_pass": after, "peak_mb": peak,
            "growth_mb_first_to_last": round(after[-1] - after[0], 1), "problems": problems[:10]}


def load_part(seconds: float) -> list[dict]:
    runs = []
    for what, run_args in LOAD_RUNS.items():
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, "-m", "bench.load", "--duration", str(seconds), *run_args, "--json-out", out.name]
            print("===", " ".join(cmd[2:]), flush=True)
            subprocess.run(cmd, cwd=REPO_ROOT, timeout=seconds + 600)
            try:
                report = json.loads(Path(out.name).read_text())
            except ValueError:
                report = {"error": "no result"}
        runs.append({"what": what, "args": run_args, **report})
    return runs


def _load_row(run: dict) -> str:
    if "error" in run and "latency_ms" not in run:
        return f"| {run['what']} | {run['error']} | | | | |"
    hostile = run.get("hostile_mixed_in") or run.get("slow_clients") or {}
    lat = run.get("latency_ms", {})
    busy = hostile.get("refused_at_upload")
    answered = f"{hostile.get('answered', '-')}{f' ({busy} busy)' if busy else ''}"
    return (f"| {run['what']} | {run['requests']} / {run['errors']} | {lat.get('p50')} / {lat.get('p95')} | "
            f"{hostile.get('requests', '-')} / {answered} / {hostile.get('errors', '-')} | "
            f"{(hostile.get('latency_ms') or {}).get('p95', '-')} | {run.get('rss_mb_before')} -> "
            f"{run.get('rss_mb_after')} |")


def markdown(result: dict) -> str:
    lines = ["# Hostile files: time and memory per file, server memory over passes", "",
             f"{result['started']}, {result['cpu']['cpu']}, {result['cpu']['cores']} cores; 1-minute load average "
             f"{result['load_avg_before_after'][0]} -> {result['load_avg_before_after'][1]} (2 cores: above 2, other "
             "work competed). Reproduce: `python -m bench.hostile`.", ""]
    files = result.get("files")
    if files:
        t = TARGETS
        lines += [
            "## Per file", "",
            f"{files['files']} files (bench/fixtures/badinputs.py and hostile.py). CLI: `python -m airken predict "
            "--json FILE`, a process per file (start-up included: "
            f"{files['cli_baseline']['s']} s and {files['cli_baseline']['peak_mb']} MB for a normal photo). "
            "API: upload + /call/predict on a warm server.", "",
            "| what | measured | target |", "|---|---:|---:|",
            f"| slowest API answer | {files['max_api_s']['s']} s ({files['max_api_s']['file']}) "
            f"| < {t['answer_s']} s |",
            f"| highest CLI peak RSS | {files['max_cli_peak_mb']['mb']} MB ({files['max_cli_peak_mb']['file']}) "
            f"| < {t['cli_peak_mb']:.0f} MB |",
            f"| slowest CLI run, start-up included | {files['max_cli_s']} s | |",
            f"| answers other than expected | {', '.join(files['unexpected']) or 'none'} | none |", "",
            "| file | what it is | CLI peak MB | CLI s | API s | answer |", "|---|---|---:|---:|---:|---|",
        ]
        lines += [f"| {r['file']} | {r['why']} | {r['cli_peak_mb']} | {r['cli_s']} | {r['api_s']} | {r['api_says']} |"
                  for r in files["rows"]]
        lines.append("")
    if result.get("passes"):
        lines += ["## Server memory over passes", "",
                  f"The whole corpus {result['passes'][0]['passes']} times through the API from "
                  f"{result['passes'][0]['clients']} parallel clients; RSS {SETTLE_S:.0f} s after each pass. "
                  f"Target: the last pass within +{TARGETS['growth_mb']:.0f} MB of the first.", "",
                  "| allocator | RSS warm MB | after each pass MB | growth first -> last MB | peak MB | problems |",
                  "|---|---:|---|---:|---:|---|"]
        lines += [f"| {p['allocator']} | {p['rss_mb_warm']} | {' / '.join(map(str, p['rss_mb_after_pass']))} | "
                  f"{p['growth_mb_first_to_last']} | {p['peak_mb']} | {len(p['problems'])} |" for p in result["passes"]]
        lines += ["", "shipped: `airken.core.memory.tune_allocator()` in app.py (mmap threshold 1 MB, 2 arenas) and "
                  "`release()` (malloc_trim) after each decode above 4 MP; the other rows switch parts off.", ""]
    if result.get("load"):
        lines += ["## Good requests beside hostile ones", "",
                  "`bench/load.py`: client processes over the plain HTTP API, generated 640x480 sky photos; "
                  f"the model serves 2 calls at once. Target: good-request p95 under {TARGETS['good_p95_ms']:.0f} ms "
                  "beside slow files, 0 errors. \"busy\": hostile uploads answered 503 when the upload folder was "
                  "at its bound (AIRKEN_UPLOAD_DIR_MAX_BYTES).", "",
                  "| run | good requests / errors | good p50 / p95 ms | hostile sent / answered / errors | "
                  "hostile p95 ms | server RSS MB |", "|---|---:|---:|---:|---:|---:|"]
        lines += [_load_row(run) for run in result["load"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=["files", "passes", "load"], help="run one part; keep the others' last results")
    p.add_argument("--load-seconds", type=float, default=30.0)
    p.add_argument("--allocators", nargs="+", choices=sorted(ALLOCATORS), default=list(ALLOCATORS))
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "hostile.json")
    p.add_argument("--md", type=Path, default=RESULTS_DIR / "hostile.md")
    args = p.parse_args(argv)
    offline_env()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load0 = load_avg()
    # With --only, the other parts of the last run stay in the report.
    result: dict = json.loads(args.json.read_text()) if args.only and args.json.exists() else {}
    result.update(started=started, cpu=cpu_info())
    with tempfile.TemporaryDirectory(prefix="airken-hostile-") as tmp:
        work = Path(tmp)
        corpus = make_hostile_corpus(work / "corpus")
        if args.only in (None, "files"):
            result["files"] = files_part(corpus, work)
        if args.only in (None, "passes"):
            result["passes"] = []
            for allocator in args.allocators:
                part = passes_part(corpus, work, allocator, args.passes, args.clients)
                part.update(passes=args.passes, clients=args.clients)
                print(json.dumps(part), flush=True)
                result["passes"].append(part)
    if args.only in (None, "load"):
        result["load"] = load_part(args.load_seconds)
    result["load_avg_before_after"] = [load0, load_avg()]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    args.md.write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
