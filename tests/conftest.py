"""Shared pytest setup for tests/.

tests/ is put on sys.path here so helper modules that live next to the tests (hub_server.py,
test_browser.py's helpers, ...) import as plain `from hub_server import FakeHub` under every
pytest import mode, including --import-mode=importlib, which would not add it by itself. What
the benchmarks use too (the bad-file corpus, EXIF photos, the fake Open-Meteo, the plain HTTP
client) lives in bench/fixtures, which never imports the tests.
Tests never touch the network: the Hub is offline, Gradio analytics are off and the air-quality
lookups go to a closed port on 127.0.0.1, unless a test points them at a fake server.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("AIRKEN_AIR_URL", "http://127.0.0.1:9/v1/air-quality")
os.environ.setdefault("AIRKEN_GEOCODE_URL", "http://127.0.0.1:9/v1/search")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def offline_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess of the app or CLI: bundled model, no Hub, no analytics."""
    return dict(os.environ, HF_HUB_OFFLINE="1", AIRKEN_HUB="0", GRADIO_ANALYTICS_ENABLED="False", **extra)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The real page on 127.0.0.1, its temp files and example cache in a temp folder."""
    from airken.core.predictor import get_predictor
    from airken.web import ui

    tmp = tmp_path_factory.mktemp("gradio")
    mp = pytest.MonkeyPatch()
    mp.setenv("GRADIO_TEMP_DIR", str(tmp / "uploads"))
    mp.setenv("GRADIO_EXAMPLES_CACHE", str(tmp / "examples"))
    demo = ui.build_demo(get_predictor())
    _, url, _ = ui.launch(demo, host="127.0.0.1", port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()
    mp.undo()


REPO_ROOT = TESTS_DIR.parent


class AppServer:
    """app.py in a child process on a free 127.0.0.1 port, its uploads in `folder`/uploads.

    With `audit`, the child runs under tests/audited_app.py, which logs every file it opens
    or lists under those folders to `audit_log` (read with `audited()`).
    """

    def __init__(self, folder: Path, audit: list[Path] | None = None, **env: str):
        self.folder = folder
        self.uploads = folder / "uploads"
        self.log_path = folder / "app.log"
        self.audit_log = folder / "audit.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        extra = {"GRADIO_TEMP_DIR": str(self.uploads), "GRADIO_EXAMPLES_CACHE": str(folder / "examples"),
                 "AIRKEN_LOG_LEVEL": "WARNING", **env}
        command = [sys.executable, "app.py"]
        if audit:
            command = [sys.executable, str(TESTS_DIR / "audited_app.py")]
            extra.update(AIRKEN_AUDIT_DIR=os.pathsep.join(map(str, audit)), AIRKEN_AUDIT_LOG=str(self.audit_log))
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(self.port)],
                                         cwd=REPO_ROOT, env=offline_env(**extra), stdout=log,
                                         stderr=subprocess.STDOUT)

    def wait_until_up(self, timeout: float = 90) -> AppServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"{self.url} did not answer within {timeout} s")

    def stop(self) -> int:
        """SIGTERM, as a container stop sends it; the app shuts down cleanly on it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def audited(self) -> list[str]:
        return self.audit_log.read_text().splitlines() if self.audit_log.exists() else []


@pytest.fixture
def online_hub(monkeypatch):
    """A fake Hugging Face Hub on 127.0.0.1 that huggingface_hub in this process talks to."""
    from hub_server import FakeHub
    from huggingface_hub import constants

    with FakeHub() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the suite runs with HF_HUB_OFFLINE=1
        yield server


@pytest.fixture(scope="session")
def fake_air():
    """A fake Open-Meteo (air quality and geocoding) on 127.0.0.1 for the whole run."""
    from bench.fixtures.openmeteo_server import FakeOpenMeteo

    with FakeOpenMeteo() as server:
        yield server


@pytest.fixture
def air_server(fake_air, monkeypatch):
    """The fake Open-Meteo, reset, with the AIRKEN_AIR* settings of this process pointing at it
    (short timeouts) and a fresh process-wide client: the page and the CLI in this process use it."""
    from airken.airmodel import openmeteo
    fake_air.mode, fake_air.latency_s = "normal", 0.0
    fake_air.requests.clear()
    for name, value in fake_air.env(AIRKEN_AIR_READ_TIMEOUT="0.3", AIRKEN_AIR_CONNECT_TIMEOUT="0.3").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(openmeteo, "_default", None)
    return fake_air


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium driven by Playwright, for the browser tests (tests/test_browser.py
    says when they are skipped; tests/test_air_browser.py borrows its helpers)."""
    from test_browser import CHROMIUM, CHROMIUM_ARGS, sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
