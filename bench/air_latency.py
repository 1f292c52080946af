"""What the modelled-PM2.5 lookup adds to a prediction, and that no network costs nothing.

    python -m bench.air_latency [--latency-ms 300] [--repeat 15] [--starts 3] [--compare DIR] [--json OUT]

A photo with EXIF GPS and time is read by Predictor.predict, its air model asked through a
client of a fake Open-Meteo on 127.0.0.1 that waits --latency-ms before each answer
(bench/fixtures/openmeteo_server.py): the first lookup of a place (a fresh client: new connection, cold
cache; the same pixels without EXIF, given a new place each time) and the same place again
(the cache per place and hour). "Extra" is the time above the same pixels read without a place
(so without a lookup), p50 of --repeat runs each. Then with no network at all: the
public default URL, which cannot be resolved here, and AIRKEN_AIR=0. Last, the app's cold
start (python app.py to the first page) with the lookups on and unreachable, and off, and
(--compare) that of another checkout, e.g. `git archive main | tar -x -C /tmp/main`.
Writes bench/results/air.json and air.md with --json / by default.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airken.airmodel.openmeteo import DEFAULT_AIR_URL, AirSettings, OpenMeteo
from airken.airmodel.report import air_block
from airken.core.predictor import Predictor, get_predictor
from bench import REPO_ROOT, RESULTS_DIR, cpu_info, load_avg, offline_env
from bench.fixtures.exif_photos import EXAMPLES, photo_with_exif
from bench.fixtures.openmeteo_server import FakeOpenMeteo

MUST = {"first_extra_over_latency_ms": 100.0, "cached_extra_ms": 5.0}


def _ms(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def _asking(predictor: Predictor, client: OpenMeteo) -> Predictor:
    """The same model, its air model asked through ``client``."""
    return Predictor(predictor.model, predictor.source, predictor.limits, predictor.metrics,
                     lookup=lambda lat, lon, hour: air_block(lat, lon, hour, client=client))


def _paired(predictor: Predictor, plain: Path, case, repeat: int) -> tuple[list[float], list[float]]:
    """(case times, case minus the no-lookup read of ``plain`` just before it): pairs cancel
    the drift of a shared machine's load."""
    times, extra = [], []
    for i in range(repeat):
        base = _ms(lambda: predictor.predict(plain))
        t = _ms(lambda i=i: case(i))
        times.append(t)
        extra.append(t - base)
    return times, extra


def lookups(predictor: Predictor, photo: Path, plain: Path, fake: FakeOpenMeteo, repeat: int) -> dict:
    """``photo`` has EXIF GPS and time; ``plain`` is its pixels without them (read with no lookup)."""
    settings = AirSettings(air_url=fake.air_url, geocode_url=fake.geocode_url)
    for _ in range(3):  # warm the decoder and the interpreter
        predictor.predict(plain)
    very_first = _asking(predictor, OpenMeteo(settings))  # no warm-up: httpx imported, the client built on first use
    process_first = _ms(lambda: very_first.predict(photo)) - _ms(lambda: predictor.predict(plain))
    app_client = OpenMeteo(settings)  # one client per process; the page builds it in the background at start
    app_client.warm()
    app = _asking(predictor, app_client)
    when = datetime.now(timezone.utc) - timedelta(hours=1)

    def new_place(i: int):  # a grid cell not asked before: a request to the server
        return app.predict(plain, latitude=45.0 + 0.1 * i, longitude=9.2, time=when)

    def same_place(i: int):
        return app.predict(photo)

    same_place(0)
    offline_client = OpenMeteo(AirSettings(air_url=DEFAULT_AIR_URL))
    offline_client.warm()  # as the page does at start
    offline = _asking(predictor, offline_client)
    no_network_first = _ms(lambda: offline.predict(photo)) - _ms(lambda: predictor.predict(plain))
    switched_off = _asking(predictor, OpenMeteo(AirSettings(enabled=False)))
    base = [_ms(lambda: predictor.predict(plain)) for _ in range(repeat)]
    first, first_extra = _paired(predictor, plain, new_place, repeat)
    cached, cached_extra = _paired(predictor, plain, same_place, repeat)
    _, no_network = _paired(predictor, plain, lambda i: offline.predict(photo), repeat)
    _, off = _paired(predictor, plain, lambda i: switched_off.predict(photo), repeat)
    return {
        "baseline_predict_p50_ms": _p50(base),
        "process_first_lookup_extra_ms": round(process_first, 2),
        "first_lookup_p50_ms": _p50(first), "first_extra_p50_ms": _p50(first_extra),
        "first_extra_max_ms": round(max(first_extra), 2),
        "cached_p50_ms": _p50(cached), "cached_extra_p50_ms": _p50(cached_extra),
        "no_network_first_extra_ms": round(no_network_first, 2),
        "no_network_extra_p50_ms": _p50(no_network),
        "switched_off_extra_p50_ms": _p50(off),
        "no_network_answer": dict(offline.predict(photo).air_model or {}),
    }


def _cold_start(tree: Path, env: dict[str, str]) -> float:
    """`python -m bench.app_start --no-load` in `tree` (a checkout): seconds to the first page."""
    with tempfile.TemporaryDirectory(prefix="airken-start-") as tmp:
        out = Path(tmp) / "start.json"
        cmd = [sys.executable, "-m", "bench.app_start", "--no-load", "--json", str(out)]
        subprocess.run(cmd, cwd=tree, env={**os.environ, **env}, check=True, capture_output=True, timeout=300)
        return json.loads(out.read_text())["cold_start_s"]


def cold_starts(starts: int, compare: Path | None) -> dict:
    """app.py to its first page: lookups on (the public URL, unreachable here), AIRKEN_AIR=0,
    and optionally another checkout (e.g. the branch before the lookups), interleaved."""
    cases = {"this tree, lookups on, no network": (REPO_ROOT, {"AIRKEN_AIR": "1", "AIRKEN_AIR_URL": DEFAULT_AIR_URL}),
             "this tree, AIRKEN_AIR=0": (REPO_ROOT, {"AIRKEN_AIR": "0"})}
    if compare:
        cases[f"{compare.name} (compared)"] = (compare, {})
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(starts):
        for name, (tree, env) in cases.items():
            runs[name].append(_cold_start(tree, env))
    return {name: {"runs_s": v, "median_s": round(statistics.median(v), 2), "min_s": min(v)}
            for name, v in runs.items()}


def markdown(r: dict) -> str:
    lk, cs, lat = r["lookups"], r.get("cold_start"), r["latency_ms"]
    lines = [
        "# The air lookup: what it adds to a prediction",
        "",
        f"{r['date']}, {r['machine']['cpu']}, {r['machine']['cores']} cores; 1-minute load average "
        f"{r['load_avg_before_after'][0]} -> {r['load_avg_before_after'][1]}. Fake Open-Meteo on 127.0.0.1 "
        f"answering after {lat} ms; an 800 px JPEG with EXIF GPS and time; p50 of {r['repeat']} runs, each "
        "paired with a read without lookup just before it. "
        "Reproduce: `python -m bench.air_latency`.",
        "",
        "| case | p50 ms | extra over no lookup, ms | must |",
        "|---|---:|---:|---|",
        f"| no lookup (Predictor.predict, no place) | {lk['baseline_predict_p50_ms']} | | |",
        f"| a process's first lookup without warm-up (imports httpx, builds the client) | | "
        f"{lk['process_first_lookup_extra_ms']} | |",
        f"| first lookup of a place (a grid cell not asked before) | {lk['first_lookup_p50_ms']} | "
        f"{lk['first_extra_p50_ms']} (max {lk['first_extra_max_ms']}) | <= {lat} + 100 |",
        f"| the same place and hour again (cache) | {lk['cached_p50_ms']} | {lk['cached_extra_p50_ms']} | < 5 |",
        f"| no network: first try (the public URL, whose name does not resolve here) | | "
        f"{lk['no_network_first_extra_ms']} | |",
        f"| no network: every later try | | {lk['no_network_extra_p50_ms']} | ~0 |",
        f"| AIRKEN_AIR=0 | | {lk['switched_off_extra_p50_ms']} | ~0 |",
        "",
        f"No network, the verdict's air_model block: `{json.dumps(lk['no_network_answer'])}`",
    ]
    if cs:
        lines += ["", "Cold start, `python app.py` to the first page (s):", "",
                  "| tree and setting | runs | median | fastest |", "|---|---|---:|---:|"]
        lines += [f"| {name} | {', '.join(map(str, v['runs_s']))} | {v['median_s']} | {v['min_s']} |"
                  for name, v in cs.items()]
        lines += ["", "Must: `make run` shows its first page in under 5 s with no network, as fast as before."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--starts", type=int, default=3, help="cold starts per setting (0: skip)")
    parser.add_argument("--compare", type=Path, help="another checkout whose cold start to measure alongside")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "air.json")
    args = parser.parse_args(argv)
    offline_env()
    load0 = load_avg()
    predictor = get_predictor(instances=1)
    with tempfile.TemporaryDirectory(prefix="airken-air-bench-") as tmp:
        when = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1)
        photo = photo_with_exif(Path(tmp) / "located.jpg", source=EXAMPLES / "clear-kite.jpg", when=when,
                                offset="+00:00", lat=45.4642, lon=9.1895)
        plain = photo_with_exif(Path(tmp) / "plain.jpg", source=EXAMPLES / "clear-kite.jpg")
        with FakeOpenMeteo() as fake:
            fake.latency_s = args.latency_ms / 1000
            result = {"latency_ms": args.latency_ms, "repeat": args.repeat,
                      "lookups": lookups(predictor, photo, plain, fake, args.repeat)}
    if args.starts:
        result["cold_start"] = cold_starts(args.starts, args.compare)
    lk = result["lookups"]
    result["must"] = {
        "first_extra_over_latency_ms": {"value": round(lk["first_extra_p50_ms"] - args.latency_ms, 2),
                                        "target": f"<= {MUST['first_extra_over_latency_ms']}"},
        "cached_extra_ms": {"value": lk["cached_extra_p50_ms"], "target": f"< {MUST['cached_extra_ms']}"},
    }
    result.update(date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), machine=cpu_info(),
                  load_avg_before_after=[load0, load_avg()])
    text = markdown(result)
    print(text)
    args.json.write_text(json.dumps(result, indent=2))
    args.json.with_suffix(".md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
