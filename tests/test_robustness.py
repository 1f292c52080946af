"""Every bad, odd or hostile file (bench/fixtures/badinputs.py and hostile.py) through the two
outer doors: the command line and the web API. Each must end in a result or a message a
person can act on: never a traceback, never a hang, never a memory blow-up. (How long each
file takes and how much memory it costs is measured by bench/hostile.py, not asserted here.)

Weight faults (Hub down or failing, wrong sha256, truncated download, corrupt cache, missing
bundled file) are covered in tests/test_weights.py; here only the app-level outcome of "no
model anywhere". Training-data faults (corrupt and truncated images, missing files, bad
PM2.5 values) are covered in tests/train/test_data.py.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AppServer, offline_env

from airken.core.classes import LABELS
from bench.fixtures.hostile import make_hostile_corpus

REPO_ROOT = Path(__file__).resolve().parents[1]
CLI_TIMEOUT_S = 300
CALL_TIMEOUT_S = 30
MAX_RSS_MB = 600  # the bound of issue #12; bench/hostile.py measures each file on its own

# Runs the CLI as its own child and reports that child's peak RSS on stderr's last line.
_RSS_WRAPPER = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_hostile_corpus(tmp_path_factory.mktemp("bad"))


# ---------------------------------------------------------------- the command line


def test_cli_reads_or_refuses_every_bad_input(corpus):
    cmd = [sys.executable, "-c", _RSS_WRAPPER, sys.executable, "-m", "airken", "predict", "--json",
           *[str(c.path) for c in corpus]]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=offline_env(), capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 2  # some inputs are refused, none crash the run
    records = {Path(r["path"]).name: r for r in map(json.loads, done.stdout.splitlines())}
    assert sorted(records) == sorted(c.name for c in corpus)
    for case in corpus:
        rec = records[case.name]
        if case.expect == "reject":
            assert set(rec) == {"path", "error"}, case.name
            assert len(rec["error"]) > 15 and "Traceback" not in rec["error"], case.name
        else:
            assert "error" not in rec, f"{case.name}: {rec.get('error')}"
            assert rec["label"] in (*LABELS, None), case.name
        if case.scene == "refuse":
            assert rec["label"] is None, case.name
    peak_kb = int(done.stderr.strip().splitlines()[-1].split()[-1])
    assert peak_kb / 1024 < MAX_RSS_MB


# ---------------------------------------------------------------- the web API


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """app.py on 127.0.0.1 (bundled model, no Hub)."""
    app = AppServer(tmp_path_factory.mktemp("server")).wait_until_up()
    yield app
    app.stop()


def test_api_reads_or_refuses_every_bad_input(corpus, server):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(server.url, verbose=False)
    for case in corpus:
        job = client.submit(handle_file(str(case.path)), api_name="/predict")
        try:
            out = job.result(timeout=CALL_TIMEOUT_S)
        except AppError as err:
            message = str(err)
            assert case.expect == "reject", f"{case.name}: {message}"
            assert len(message) > 15 and "Traceback" not in message, case.name
            assert "went wrong" not in message, f"{case.name}: generic error instead of a reason"
            continue
        assert case.expect == "ok", f"{case.name} was read: {out}"
        assert isinstance(out, dict) and out["label"] in (*LABELS, None), case.name
        assert isinstance(out["advice"], str) and out["advice"], case.name
        if case.scene == "refuse":
            assert out["label"] is None, case.name
    assert "Traceback" not in server.log()


# ---------------------------------------------------------------- no model at all


@pytest.mark.parametrize("command", [["-m", "airken", "info"], ["app.py", "--port", "0"]], ids=["cli", "app"])
def test_no_model_anywhere_fails_at_once_with_what_to_do(tmp_path, command):
    env = offline_env(AIRKEN_BUNDLED_DIR=str(tmp_path))
    env.pop("AIRKEN_MODEL_PATH", None)
    done = subprocess.run([sys.executable, *command], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    message = done.stderr.lower()
    assert "airken_model_path" in message and ("reinstall" in message or "git lfs" in message)
