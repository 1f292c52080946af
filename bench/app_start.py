"""The web app as a visitor meets it: cold start, memory, and throughput under load.

    python -m bench.app_start [--seconds 15] [--concurrency 1 4 8] [--no-load] [--json OUT]

Starts `python app.py` on 127.0.0.1 (a free port, bundled model, no Hub), times it to the
first successful GET /, reads its RSS at idle from /proc, runs bench/load.py at each
concurrency, and reads the RSS again after the load.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import REPO_ROOT, report, rss_mb

log = logging.getLogger("bench.app_start")

START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env() -> dict[str, str]:
    """The bundled model (or AIRKEN_MODEL_PATH if the caller set one), never the network."""
    return dict(os.environ, HF_HUB_OFFLINE="1", AIRKEN_HUB="0", GRADIO_ANALYTICS_ENABLED="False",
                AIRKEN_LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")


def tree_rss_mb(pid: int) -> float | None:
    """RSS of the process and its children (a server may spawn helpers)."""
    total = rss_mb(pid)
    if total is None:
        return None
    for child in _children(pid):
        total += rss_mb(child) or 0.0
    return round(total, 1)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # fields[1] is the parent pid
            child = int(stat.parent.name)
            out += [child, *_children(child)]
    return out


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> float:
    """Seconds until GET url answers 200; raises if the process dies or time runs out."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def start_app(port: int, logfile) -> subprocess.Popen:
    cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env=app_env(), stdout=logfile, stderr=subprocess.STDOUT)


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_load(url: str, pid: int, concurrency: int, seconds: float) -> dict:
    """One bench/load.py run against our server (its own client processes and photos)."""
    with tempfile.TemporaryDirectory(prefix="airken-load-") as tmp:
        out = Path(tmp) / "load.json"
        cmd = [sys.executable, "-m", "bench.load", "--url", url, "--server-pid", str(pid),
               "--concurrency", str(concurrency), "--duration", str(seconds), "--json-out", str(out)]
        done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=seconds * 4 + 120)
        if not out.is_file():  # load.py exits 1 when some requests failed, but still reports
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"error": f"bench.load exit {done.returncode}: {' | '.join(tail)}"}
        return json.loads(out.read_text())


def load_row(concurrency: int, res: dict) -> dict:
    """The numbers we report, out of everything load.py measured."""
    if "error" in res:
        return {"concurrency": concurrency, **res}
    lat = res.get("latency_ms") or {}
    return {
        "concurrency": concurrency,
        "requests_per_s": res.get("requests_per_s"),
        "p50_ms": lat.get("p50"),
        "p95_ms": lat.get("p95"),
        "requests": res.get("requests"),
        "errors": res.get("errors"),
        "server_cpu_ms_per_request": res.get("server_cpu_ms_per_request"),
        "error_samples": res.get("error_samples") or None,
    }


def run(*, seconds: float = 15.0, concurrencies: tuple[int, ...] = (1, 4, 8), load: bool = True) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as logfile:
        t0 = time.perf_counter()
        proc = start_app(port, logfile)
        try:
            cold = wait_ready(url + "/", proc, START_TIMEOUT_S)
            time.sleep(2.0)  # let start-up work settle before reading memory
            result = {"cold_start_s": round(cold, 2), "rss_idle_mb": tree_rss_mb(proc.pid), "url": url}
            if load:
                result["load"] = [load_row(c, run_load(url, proc.pid, c, seconds)) for c in concurrencies]
                result["rss_after_load_mb"] = tree_rss_mb(proc.pid)
        except Exception:
            logfile.seek(0)
            log.error("app.py output:\n%s", logfile.read()[-4000:])
            raise
        finally:
            stop_app(proc)
        result["total_s"] = round(time.perf_counter() - t0, 1)
    return result


def table(result: dict) -> str:
    lines = [
        f"cold start to first GET /: {result['cold_start_s']} s; RSS idle {result['rss_idle_mb']} MB"
        + (f", after load {result['rss_after_load_mb']} MB" if "rss_after_load_mb" in result else ""),
    ]
    if result.get("load"):
        lines += ["", "bench/load.py: separate client processes over Gradio's plain HTTP API, generated "
                  "640x480 JPEG/PNG skies; server CPU per request from /proc.", "",
                  "| concurrency | requests/s | p50 ms | p95 ms | requests | errors | server CPU ms/request |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["load"]:
            if "error" in r:
                lines.append(f"| {r['concurrency']} | error: {r['error']} | | | | | |")
                continue
            lines.append(f"| {r['concurrency']} | {_f(r.get('requests_per_s'))} | {_f(r.get('p50_ms'))} "
                         f"| {_f(r.get('p95_ms'))} | {r.get('requests', '')} | {r.get('errors', '')} "
                         f"| {_f(r.get('server_cpu_ms_per_request'))} |")
    return "\n".join(lines)


def _f(v) -> str:
    return f"{v:.1f}" if isinstance(v, (int, float)) else "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0, help="load duration per concurrency level")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--no-load", action="store_true", help="cold start and idle RSS only")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    result = run(seconds=args.seconds, concurrencies=tuple(args.concurrency), load=not args.no_load)
    report(result, table(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
