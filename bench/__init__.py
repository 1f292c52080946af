"""Benchmarks: scripts that print numbers (`python -m bench.run_all`, or one at a time).

Numbers that are compared (airken vs. a plain Pillow decode, LiteRT vs. Keras) are always
measured in the same run on the same machine; ratios are reported, never asserted.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
# The training run behind the bundled model: model.keras, export/*.tflite, metrics.json.
RUN_DIR = Path(os.environ.get("AIRKEN_RUN_DIR") or REPO_ROOT / "runs" / "both")
BUNDLED_METRICS = REPO_ROOT / "airken" / "models" / "metrics.json"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def offline_env() -> None:
    """Benchmarks measure the bundled model and never touch the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("AIRKEN_HUB", "0")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def timed(fn: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock milliseconds of `repeat` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds (linear-interpolated percentiles)."""
    a = np.asarray(ms, dtype=np.float64)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "mean_ms": round(float(a.mean()), 2),
        "n": int(a.size),
    }


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(a / b, digits)


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float | None:
    """Resident set size of a process in MB (field="VmHWM": its peak so far), from /proc
    (None where there is no /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def shown(path: Path) -> str:
    """A path relative to the repository where it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def load_avg() -> float | None:
    """1-minute load average: on a shared 2-core machine, read the numbers next to it."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def cpu_info() -> dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count()}


def report(result: dict, text: str, json_path: Path | None) -> None:
    """Print a benchmark's table; also write its result as JSON when asked."""
    print(text)
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
