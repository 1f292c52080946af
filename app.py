"""Airken web app: `python app.py [--host HOST] [--port PORT]`.

Host and port default to GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (set by Hugging Face
Spaces), else 127.0.0.1:7860. The page itself lives in airken/web/ui.py.
"""
from __future__ import annotations

import os

# Before gradio is imported: it reads this at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio's queue rebuilds a pandas table of its last 10,000 events after every event, for the
# latency figures of the API page: 4 ms an event at first, 22 ms once it holds 10,000. The
# figures stay as useful from the last 1,000 events, brought up to date every 100th.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the Airken web page.")
    parser.add_argument("--host", default=None, help="address to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: GRADIO_SERVER_PORT or 7860)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from airken import settings
    from airken.core.memory import tune_allocator

    tune_allocator()  # before the server's threads exist: they then share two malloc arenas
    logging.basicConfig(level=settings.current().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from airken.core.predictor import get_predictor
    from airken.web.ui import build_demo, launch

    try:
        predictor = get_predictor()
    except RuntimeError as err:  # no usable model anywhere: say what to do, no traceback
        sys.exit(f"airken: {err}")
    # A container stop (Spaces, docker) sends SIGTERM: shut down as on Ctrl-C, which closes
    # the server and runs the shutdown sweep of uploads, instead of dying on the spot.
    signal.signal(signal.SIGTERM, _interrupt)
    launch(build_demo(predictor), host=args.host, port=args.port)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
