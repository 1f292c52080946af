"""Load and soak test for the Airken server over Gradio's plain HTTP API.

    python -m bench.load                      # start app.py, 4 clients for 20 s
    python -m bench.load --concurrency 4 --duration 20
    python -m bench.load --soak 1000          # 1000 requests: server RSS and temp files before/after
    python -m bench.load --url http://127.0.0.1:7860/ --server-pid 1234
    python -m bench.load --concurrency 8 --bad-share 0.25      # a quarter of the requests are hostile files
    python -m bench.load --concurrency 2 --slow-clients 2 --slow-set heavy   # and two clients streaming heavy files

Each client is a separate process speaking plain HTTP (upload, call, read the event stream):
gradio_client spends ~70 ms of client CPU per call and would measure itself. Photos are
generated 640x480 sky-like JPEG/PNG images, each request's bytes made unique so that
Gradio's upload cache cannot deduplicate them. Only 127.0.0.1 is ever contacted.

Hostile files (bench/fixtures/hostile.py's corpus, built into a temp folder) can be mixed in: a
share of every client's requests (--bad-share), and separate clients that send nothing but
slow files (--slow-clients, --slow-set). Latency and errors are then reported for the good
photos alone; a hostile file counts as answered when it gets a verdict or a refusal with a
message, and as an error otherwise.

Prints one summary line and a JSON object (also written with --json-out).
"""
from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import queue
import random
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from bench import rss_mb
from bench.fixtures.gradio_http import (
    CALL_TIMEOUT_S,
    GradioHTTP,
    UploadRefused,
    api_prefix_of,
    http_get,
    predict_data,
)
from bench.fixtures.hostile import make_hostile_corpus

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
START_TIMEOUT_S = 120


# ------------------------------------------------------------------ photos


def sky_photo(rng: np.random.Generator, width: int = 640, height: int = 480) -> Image.Image:
    """A plausible daytime sky: blue-to-pale gradient, soft clouds, a dark ground strip."""
    top = np.array(rng.uniform([40, 90, 170], [110, 150, 230]), np.float32)
    horizon = np.array(rng.uniform([170, 180, 190], [230, 230, 235]), np.float32)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    img = top * (1 - t) + horizon * t
    img = np.broadcast_to(img, (height, width, 3)).copy()
    coarse = Image.fromarray((rng.random((height // 32 + 1, width // 32 + 1)) * 255).astype(np.uint8))
    clouds = np.asarray(coarse.resize((width, height), Image.BICUBIC), np.float32) / 255
    img += (np.clip(clouds - 0.55, 0, 1) * 2.2)[..., None] * (245 - img)
    ground = int(height * rng.uniform(0.72, 0.85))
    img[ground:] = rng.uniform([30, 40, 30], [80, 90, 70]) + rng.normal(0, 8, (height - ground, width, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 88} if fmt == "JPEG" else {"compress_level": 1}))
    return buf.getvalue()


def unique(data: bytes, tag: str) -> bytes:
    """Same pixels, different bytes: a JPEG comment or a PNG text chunk carrying `tag`."""
    payload = tag.encode()
    if data[:2] == b"\xff\xd8":
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + data[2:]
    chunk = b"tEXt" + b"bench\x00" + payload
    text = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF)
    return data[:33] + text + data[33:]  # after the 8-byte signature and the IHDR chunk


def photo_pool(seed: int, n: int = 6) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        fmt = "JPEG" if i % 2 == 0 else "PNG"
        out.append(("jpg" if fmt == "JPEG" else "png", encode(sky_photo(rng), fmt)))
    return out


# ------------------------------------------------------------------ one client


# Files issue #12 found slow (seconds to a minute each), and the costliest files still read.
SLOW_SETS = {
    "issue": ("jpeg-2000-scans.jpg", "tiff-100k-pages.tif", "jpeg-7m-app.jpg", "png-2m-chunks.png",
              "gif-5m-extensions.gif", "png-rgba16-59mp.png", "ico-81mp.ico"),
    "heavy": ("png-rgba16-50mp.png", "tiff-deflate-49mp.tif", "jpeg-progressive-420-59mp.jpg",
              "jpeg-64-scans.jpg", "bmp-rle8-49mp.bmp"),
}


@dataclass(frozen=True)
class Hostile:
    """Hostile files in the load: `share` of each client's requests drawn from `paths`, and
    `slow_clients` more clients that send `slow_paths` in turn until the others are done."""

    paths: tuple[str, ...] = ()
    share: float = 0.0
    slow_paths: tuple[str, ...] = ()
    slow_clients: int = 0


@dataclass
class ClientResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)
    hostile_latencies_ms: list[float] = field(default_factory=list)
    hostile_answered: int = 0
    hostile_errors: int = 0
    hostile_error_samples: list[str] = field(default_factory=list)
    hostile_refused_at_upload: int = 0

    def hostile(self, api: GradioHTTP, path: str) -> None:
        """Send one hostile file: a verdict or a refusal with a message is an answer."""
        name = Path(path).name
        t0 = time.perf_counter()
        try:
            photo = {"path": api.upload(name, Path(path).read_bytes()), "orig_name": name,
                     "meta": {"_type": "gradio.FileData"}}
            event, payload = api.call("predict", predict_data(photo))
            answered = event == "complete" or (event == "error" and bool(payload.get("error")))
            why = f"{name}: {event} {str(payload)[:150]}"
        except UploadRefused as err:  # a refusal with a message (the upload folder full: 503 "busy") answers too
            answered, why = bool(err.text.strip()), f"{name}: {err}"[:300]
            self.hostile_refused_at_upload += 1
        except Exception as err:  # counted and sampled, the run goes on
            answered, why = False, f"{name}: {type(err).__name__}: {err}"[:300]
        self.hostile_latencies_ms.append((time.perf_counter() - t0) * 1000)
        if answered:
            self.hostile_answered += 1
        else:
            self.hostile_errors += 1
            if len(self.hostile_error_samples) < 3:
                self.hostile_error_samples.append(why)


def client_loop(url: str, api_prefix: str, seed: int, deadline: float, max_requests: int,
                counter, out: mp.Queue, hostile: Hostile = Hostile()) -> None:
    """Good photos (a share of them swapped for hostile files) until the counter runs out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pool = photo_pool(seed)
    api = GradioHTTP(url, api_prefix)
    result = ClientResult()
    rnd = random.Random(seed)
    for i in range(max_requests):
        if time.monotonic() >= deadline:
            break
        with counter.get_lock():
            if counter.value <= 0:
                break
            counter.value -= 1
        if hostile.paths and rnd.random() < hostile.share:
            result.hostile(api, rnd.choice(hostile.paths))
            continue
        ext, data = pool[rnd.randrange(len(pool))]
        name = f"sky-{seed}-{i}.{ext}"
        t0 = time.perf_counter()
        try:
            server_path = api.upload(name, unique(data, f"{seed}-{i}-{uuid.uuid4().hex}"))
            answer = api.predict(server_path, name)
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            label = str(answer.get("label"))
            result.labels[label] = result.labels.get(label, 0) + 1
        except Exception as err:  # counted and sampled, the run goes on
            result.errors += 1
            if len(result.error_samples) < 3:
                result.error_samples.append(f"{type(err).__name__}: {err}"[:300])
    out.put(result.__dict__)


def slow_loop(url: str, api_prefix: str, seed: int, deadline: float, stop, out: mp.Queue,
              paths: tuple[str, ...]) -> None:
    """Nothing but slow files, one after another, until `stop` is set."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    api = GradioHTTP(url, api_prefix)
    result = ClientResult()
    k = seed
    while not stop.is_set() and time.monotonic() < deadline:
        result.hostile(api, paths[k % len(paths)])
        k += 1
    out.put(result.__dict__)


def run_clients(url: str, api_prefix: str, concurrency: int, duration_s: float, total: int,
                on_tick=None, tick_s: float = 5.0, hostile: Hostile = Hostile()) -> dict:
    counter = mp.Value("i", total)
    out: mp.Queue = mp.Queue()
    slow_out: mp.Queue = mp.Queue()
    stop = mp.Event()
    deadline = time.monotonic() + duration_s
    procs = [
        mp.Process(target=client_loop, args=(url, api_prefix, 1000 + k, deadline, total, counter, out, hostile))
        for k in range(concurrency)
    ]
    slow = [mp.Process(target=slow_loop, args=(url, api_prefix, k, deadline, stop, slow_out, hostile.slow_paths))
            for k in range(hostile.slow_clients if hostile.slow_paths else 0)]
    t0 = time.perf_counter()
    for p in slow + procs:
        p.start()
    results = _collect(out, len(procs), duration_s, on_tick, tick_s)
    wall = time.perf_counter() - t0
    stop.set()
    slow_results = _collect(slow_out, len(slow), 0, None, tick_s)
    for p in procs + slow:
        p.join(timeout=10)
    lat = sorted(x for r in results for x in r["latencies_ms"])
    errors = sum(r["errors"] for r in results)
    labels: dict[str, int] = {}
    for r in results:
        for k, v in r["labels"].items():
            labels[k] = labels.get(k, 0) + v
    stats = {
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "requests": len(lat),
        "errors": errors,
        "error_samples": [s for r in results for s in r["error_samples"]][:5],
        "requests_per_s": round(len(lat) / wall, 2) if wall else 0.0,
        "latency_ms": _percentiles(lat),
        "labels": labels,
    }
    if hostile.paths and hostile.share:
        stats["hostile_mixed_in"] = _hostile_stats(results)
    if slow:
        stats["slow_clients"] = {"clients": len(slow), "files": [Path(p).name for p in hostile.slow_paths],
                                 **_hostile_stats(slow_results)}
    return stats


def _collect(out: mp.Queue, expected: int, duration_s: float, on_tick, tick_s: float) -> list[dict]:
    results: list[dict] = []
    give_up = time.monotonic() + duration_s + CALL_TIMEOUT_S * 2
    while len(results) < expected and time.monotonic() < give_up:
        try:
            results.append(out.get(timeout=tick_s))
        except queue.Empty:
            pass
        if on_tick is not None:
            on_tick()
    if len(results) < expected:
        raise RuntimeError(f"{expected - len(results)} client(s) never reported")
    return results


def _hostile_stats(results: list[dict]) -> dict:
    lat = sorted(x for r in results for x in r["hostile_latencies_ms"])
    return {"requests": len(lat), "answered": sum(r["hostile_answered"] for r in results),
            "errors": sum(r["hostile_errors"] for r in results),
            "refused_at_upload": sum(r["hostile_refused_at_upload"] for r in results),
            "error_samples": [s for r in results for s in r["hostile_error_samples"]][:5],
            "latency_ms": _percentiles(lat)}


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    def pick(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 1)
    return {"p50": pick(0.50), "p95": pick(0.95), "max": round(values[-1], 1),
            "mean": round(statistics.fmean(values), 1)}


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(temp_dir: Path, max_age_s: int | None,
                 launcher: list[str] | None = None) -> tuple[subprocess.Popen, str, float]:
    """app.py (or `launcher`, given --host and --port) on a free 127.0.0.1 port; returns
    (process, url, seconds to first page)."""
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(temp_dir / "uploads"),
           "GRADIO_EXAMPLES_CACHE": str(temp_dir / "examples"), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "AIRKEN_LOG_LEVEL": "WARNING"}
    if max_age_s:
        env["AIRKEN_TEMP_MAX_AGE_S"] = str(max_age_s)
    temp_dir.mkdir(parents=True, exist_ok=True)
    log = open(temp_dir / "server.log", "w")  # noqa: SIM115 - closed with the process
    t0 = time.perf_counter()
    command = launcher or [sys.executable, str(ROOT / "app.py")]
    proc = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - t0 < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {temp_dir / 'server.log'}")
        try:
            status, _ = http_get(url, timeout=2)
            if status == 200:
                return proc, url, time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"server did not answer within {START_TIMEOUT_S} s")


def cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (and its reaped children)."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def clients_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children: the client processes
    (a server this script started is still running, so it is not counted)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_files(folder: Path | None) -> int | None:
    if folder is None or not folder.exists():
        return None if folder is None else 0
    return sum(len(files) for _, _, files in os.walk(folder))


# ------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running server on 127.0.0.1 (default: start app.py)")
    p.add_argument("--server-pid", type=int, help="with --url: the server's pid, for RSS and CPU")
    p.add_argument("--temp-dir", type=Path, help="with --url: the server's GRADIO_TEMP_DIR, for file counts")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load (load mode)")
    p.add_argument("--soak", type=int, default=0, help="send this many requests and report growth")
    p.add_argument("--temp-max-age", type=int, default=0,
                   help="started server only: AIRKEN_TEMP_MAX_AGE_S (how long uploads are kept)")
    p.add_argument("--settle", type=float, default=0.0,
                   help="soak: seconds to wait after the last request before counting files again")
    p.add_argument("--warmup", type=int, default=8)
    p.add_argument("--bad-share", type=float, default=0.0,
                   help="this share of the requests sends a file of bench/fixtures/hostile.py's corpus instead")
    p.add_argument("--slow-clients", type=int, default=0, help="more clients that send only slow files")
    p.add_argument("--slow-set", choices=sorted(SLOW_SETS), default="issue",
                   help="issue: what issue #12 found slow; heavy: the costliest files still read")
    p.add_argument("--json-out", type=Path)
    return p.parse_args(argv)


def hostile_mix(args: argparse.Namespace, folder: Path) -> Hostile:
    if not (args.bad_share or args.slow_clients):
        return Hostile()
    paths = {c.name: str(c.path) for c in make_hostile_corpus(folder)}
    return Hostile(paths=tuple(paths.values()), share=args.bad_share,
                   slow_paths=tuple(paths[name] for name in SLOW_SETS[args.slow_set]), slow_clients=args.slow_clients)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="airken-bench-"))
    proc = None
    report: dict = {"mode": "soak" if args.soak else "load"}
    try:
        if args.url:
            if urlsplit(args.url).hostname not in LOCAL_HOSTS:
                raise SystemExit("only 127.0.0.1 / localhost servers are tested")
            url, pid, uploads = args.url, args.server_pid, args.temp_dir
        else:
            proc, url, first_page_s = start_server(work, args.temp_max_age or None)
            pid, uploads = proc.pid, work / "uploads"
            report["first_page_s"] = round(first_page_s, 2)
        prefix = api_prefix_of(url)
        report.update(url=url, api_prefix=prefix)
        hostile = hostile_mix(args, work / "hostile")
        if args.warmup:
            run_clients(url, prefix, 1, 60, args.warmup)
        before = {"rss_mb": rss_mb(pid), "temp_files": count_files(uploads), "cpu_s": cpu_s(pid),
                  "clients_cpu_s": clients_cpu_s()}
        if args.soak:
            samples: list[tuple[float, float | None, int | None]] = []
            t_start = time.monotonic()

            def sample() -> None:
                samples.append((round(time.monotonic() - t_start, 1), rss_mb(pid), count_files(uploads)))

            stats = run_clients(url, prefix, args.concurrency, 24 * 3600, args.soak, on_tick=sample, hostile=hostile)
            report["samples_s_rss_mb_files"] = samples
            if args.settle:  # let the server's delete_cache sweep run, then count again
                report["temp_files_at_last_request"] = count_files(uploads)
                time.sleep(args.settle)
        else:
            stats = run_clients(url, prefix, args.concurrency, args.duration, 10**9, hostile=hostile)
        after = {"rss_mb": rss_mb(pid), "temp_files": count_files(uploads), "cpu_s": cpu_s(pid),
                 "clients_cpu_s": clients_cpu_s()}
        report.update(stats)
        calls = stats["requests"] + stats["errors"]
        if before["cpu_s"] is not None and after["cpu_s"] is not None and calls:
            report["server_cpu_ms_per_request"] = round((after["cpu_s"] - before["cpu_s"]) * 1000 / calls, 1)
        if calls:  # on 2 cores the clients compete with the server: what they take is worth knowing
            clients_s = after["clients_cpu_s"] - before["clients_cpu_s"]
            report["client_cpu_ms_per_request"] = round(clients_s * 1000 / calls, 1)
        for key in ("rss_mb", "temp_files"):
            report[f"{key}_before"], report[f"{key}_after"] = before[key], after[key]
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    lat = report.get("latency_ms", {})
    line = (f"{report['mode']}: {report['requests']} ok, {report['errors']} errors, "
            f"{report['requests_per_s']} req/s at concurrency {report['concurrency']}, "
            f"p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms")
    if "server_cpu_ms_per_request" in report:
        line += (f"; CPU per request: server {report['server_cpu_ms_per_request']} ms, "
                 f"clients {report.get('client_cpu_ms_per_request')} ms")
    if args.soak or report.get("rss_mb_before") is not None:
        line += (f"; server RSS {report.get('rss_mb_before')} -> {report.get('rss_mb_after')} MB, "
                 f"temp files {report.get('temp_files_before')} -> {report.get('temp_files_after')}")
    if "first_page_s" in report:
        line += f"; first page {report['first_page_s']} s after start"
    for key, what in (("hostile_mixed_in", "hostile mixed in"), ("slow_clients", "slow clients")):
        if key in report:
            h = report[key]
            line += (f"; {what}: {h['requests']} sent, {h['answered']} answered, {h['errors']} errors, "
                     f"p95 {h['latency_ms'].get('p95')} ms")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n")
    print(line)
    print(json.dumps(report, indent=2))
    hostile_errors = sum(report.get(k, {}).get("errors", 0) for k in ("hostile_mixed_in", "slow_clients"))
    return 1 if report["errors"] or hostile_errors else 0


if __name__ == "__main__":
    sys.exit(main())
