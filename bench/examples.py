"""The app's example photos as the bundled model reads them (with its prior and unsure
threshold), and how long each takes: a sanity check beside the speed numbers, never data.

    python -m bench.examples [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import offline_env


def run() -> dict:
    offline_env()
    from airken.core.predictor import get_predictor
    from airken.examples import markdown, read_examples, summary

    predictor = get_predictor(instances=1)
    t0 = time.perf_counter()
    rows = read_examples(predictor)
    ms = (time.perf_counter() - t0) * 1000 / max(1, len(rows))
    return {"model_sha256": predictor.source.sha256, "rows": rows, "summary": summary(rows),
            "markdown": markdown(rows), "mean_ms_per_photo": round(ms, 1)}


def table(result: dict) -> str:
    s = result["summary"]
    return (f"Clear blue skies read healthy: {s['clear_sky_healthy']} of {s['clear_sky']}; read unhealthy: "
            f"{s['clear_sky_danger']}; unhealthy without being unsure: {', '.join(s['danger_confident']) or 'none'}. "
            f"Mean {result['mean_ms_per_photo']} ms a photo.\n\n" + result["markdown"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="also write the result here")
    args = p.parse_args(argv)
    result = run()
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
