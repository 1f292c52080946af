"""Where the model weights come from: explicit path, Hub (fake, on 127.0.0.1), bundled copy.

huggingface_hub reads HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE when it is imported, and the
suite may run under HF_HUB_OFFLINE=1, so every Hub scenario runs `resolve_model` in a fresh
interpreter with an environment of its own (and a timeout, so no scenario can hang the
suite). The model bytes are random: this is about moving and checking files, not models.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    from hub_server import FakeHub, HangingServer, closed_port
except ImportError:  # pytest --import-mode=importlib does not put tests/ on sys.path
    from tests.hub_server import FakeHub, HangingServer, closed_port

from airken.core.manifest import read_manifest, sha256_file, write_manifest
from airken.core.weights import ModelSource, ModelUnavailable, resolve_model
from airken.examples import EXAMPLES_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO = "airken-test/airken"
FILE = "airken.tflite"
SCENARIO_TIMEOUT_S = 60

_SCRIPT = """
import json, logging, sys, time
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
started = time.monotonic()
try:
    if sys.argv[2:] == ["load"]:  # what the app and the CLI do at start (bundled: AIRKEN_BUNDLED_DIR)
        from airken.core.predictor import Predictor
        src = Predictor.load(instances=1).source
    else:
        from airken.core.weights import resolve_model
        src = resolve_model(bundled_dir=Path(sys.argv[1]))
    out = {**src.to_dict(), "path": str(src.path)}
except RuntimeError as e:
    out = {"error": str(e), "type": type(e).__name__}
out["seconds"] = time.monotonic() - started
print("RESULT " + json.dumps(out))
"""


def _bytes(seed: str, size: int = 50_000) -> bytes:
    return (hashlib.sha256(seed.encode()).digest() * (size // 32 + 1))[:size]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BUNDLED = _bytes("bundled")
V1 = _bytes("v1")
V2 = _bytes("v2", 70_000)


@dataclass
class Run:
    result: dict
    log: str

    @property
    def source(self) -> str | None:
        return self.result.get("source")


def make_bundled(directory: Path, *, pin: tuple[str, str, str] | None = None, data: bytes = BUNDLED) -> Path:
    """A bundled models folder; `pin` = (repo_id, revision, hub sha256)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / FILE).write_bytes(data)
    if pin:
        write_manifest(directory, FILE, repo_id=pin[0], revision=pin[1], hub_sha256=pin[2])
    else:
        write_manifest(directory, FILE)
    return directory


@pytest.fixture
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture
def hf_home(tmp_path: Path) -> Path:
    return tmp_path / "hf"


def run_resolve(bundled_dir: Path, hf_home: Path, endpoint: str, load: bool = False, **env: str) -> Run:
    """resolve_model() (with load, Predictor.load()) in a fresh interpreter with only the
    HF/Airken settings given here."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGINGFACE_", "AIRKEN_")) and k != "TRANSFORMERS_OFFLINE"
    }
    clean.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_CACHE=str(hf_home / "hub"),
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONPATH=str(REPO_ROOT),
        AIRKEN_HUB_TIMEOUT="1",
    )
    clean.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(bundled_dir), *(["load"] if load else [])],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return Run(json.loads(lines[-1].removeprefix("RESULT ")), proc.stderr)


def snapshot(hf_home: Path, commit: str) -> Path:
    return hf_home / "hub" / f"models--{REPO.replace('/', '--')}" / "snapshots" / commit / FILE


# ---------------------------------------------------------------------------- Hub


def test_download_is_verified_and_warm_cache_needs_no_network(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))

    run = run_resolve(bundled, hf_home, hub.endpoint)
    assert run.result["source"] == "hub", run.log
    assert run.result["sha256"] == _sha(V1)
    assert run.result["verified"] is True
    assert (run.result["repo_id"], run.result["revision"], run.result["filename"]) == (REPO, commit, FILE)
    assert Path(run.result["path"]).read_bytes() == V1
    assert f"model: hub {REPO}@{commit}" in run.log

    seen = len(hub.requests)
    again = run_resolve(bundled, hf_home, hub.endpoint)
    assert again.result["source"] == "hub" and again.result["sha256"] == _sha(V1)
    assert len(hub.requests) == seen  # a pinned commit in the cache is trusted after its sha256 check


def test_pinned_revision_is_chosen_over_newer_main(tmp_path, hub, hf_home):
    old = hub.add_commit(REPO, {FILE: V1})
    new = hub.add_commit(REPO, {FILE: V2})  # main moves on
    bundled = make_bundled(tmp_path / "models", pin=(REPO, old, _sha(V1)))

    pinned = run_resolve(bundled, hf_home, hub.endpoint)
    assert (pinned.source, pinned.result["revision"], pinned.result["sha256"]) == ("hub", old, _sha(V1))

    # Overriding the revision without a checksum: taken, but marked and logged as unverified.
    latest = run_resolve(bundled, hf_home, hub.endpoint, AIRKEN_HF_REVISION="main")
    assert (latest.source, latest.result["revision"], latest.result["sha256"]) == ("hub", new, _sha(V2))
    assert latest.result["verified"] is False
    assert "not verified" in latest.log and _sha(V2) in latest.log

    # With a checksum that main does not match: refused, cached copy discarded, bundled used.
    wrong = run_resolve(bundled, hf_home, hub.endpoint, AIRKEN_HF_REVISION="main", AIRKEN_MODEL_SHA256=_sha(V1))
    assert wrong.source == "bundled", wrong.log
    assert not snapshot(hf_home, new).exists()


def test_sha_mismatch_falls_back_and_cache_is_not_used_later(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    hub.tamper = True  # served bytes differ from the pinned sha256

    run = run_resolve(bundled, hf_home, hub.endpoint)
    assert run.source == "bundled", run.log
    assert run.result["sha256"] == _sha(BUNDLED)
    assert "discarding" in run.log
    assert not snapshot(hf_home, commit).exists()

    offline = run_resolve(bundled, hf_home, hub.endpoint, HF_HUB_OFFLINE="1")
    assert offline.source == "bundled", offline.log


def test_server_error_falls_back_to_bundled(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    hub.error500 = True

    run = run_resolve(bundled, hf_home, hub.endpoint)
    assert run.source == "bundled", run.log
    assert "500" in run.log and "falling back" in run.log
    assert len(hub.requests) == 1  # one metadata request, no retry storm


def test_unknown_repo_falls_back_to_bundled(tmp_path, hub, hf_home):
    hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models")
    run = run_resolve(bundled, hf_home, hub.endpoint, AIRKEN_HF_REPO="nobody/nothing")
    assert run.source == "bundled", run.log
    assert "RepositoryNotFound" in run.log or "401" in run.log


def test_hanging_server_falls_back_to_bundled(tmp_path, hf_home):
    bundled = make_bundled(tmp_path / "models", pin=(REPO, "main", _sha(V1)))
    with HangingServer() as server:
        started = time.monotonic()
        run = run_resolve(bundled, hf_home, server.endpoint)
        elapsed = time.monotonic() - started
    assert run.source == "bundled", run.log
    assert "Timeout" in run.log
    print(f"hanging server: fell back after {run.result['seconds']:.2f} s in-process, {elapsed:.2f} s with start-up")


def test_download_that_never_answers_is_abandoned(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    hub.hang_download = True

    run = run_resolve(bundled, hf_home, hub.endpoint, AIRKEN_HUB_DEADLINE="2")
    assert run.source == "bundled", run.log
    assert "AIRKEN_HUB_DEADLINE" in run.log


def test_connection_refused_falls_back_to_bundled(tmp_path, hf_home):
    bundled = make_bundled(tmp_path / "models", pin=(REPO, "main", _sha(V1)))
    run = run_resolve(bundled, hf_home, f"http://127.0.0.1:{closed_port()}")
    assert run.source == "bundled", run.log
    assert "cannot reach" in run.log


def test_offline_uses_verified_cache_without_network(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    hub.add_commit(REPO, {FILE: V2})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    assert run_resolve(bundled, hf_home, hub.endpoint).source == "hub"
    assert run_resolve(bundled, hf_home, hub.endpoint, AIRKEN_HF_REVISION="main").source == "hub"
    seen = len(hub.requests)

    pinned = run_resolve(bundled, hf_home, hub.endpoint, HF_HUB_OFFLINE="1")
    assert (pinned.source, pinned.result["revision"], pinned.result["sha256"]) == ("hub", commit, _sha(V1))
    branch = run_resolve(bundled, hf_home, hub.endpoint, HF_HUB_OFFLINE="1", AIRKEN_HF_REVISION="main")
    assert branch.source == "hub" and branch.result["sha256"] == _sha(V2)  # via the cached refs/main
    assert len(hub.requests) == seen
    print(f"offline, warm cache: resolved in {pinned.result['seconds']:.3f} s")


def test_offline_with_empty_cache_uses_bundled_at_once(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    run = run_resolve(bundled, hf_home, hub.endpoint, HF_HUB_OFFLINE="1")
    assert run.source == "bundled", run.log
    assert hub.requests == []
    print(f"offline, empty cache: fell back in {run.result['seconds']:.3f} s")


def test_corrupt_cached_blob_is_detected_and_replaced(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    first = run_resolve(bundled, hf_home, hub.endpoint)
    assert first.source == "hub"
    blob = Path(first.result["path"]).resolve()
    blob.write_bytes(b"\0" * len(V1))  # same size, wrong content

    offline = run_resolve(bundled, hf_home, hub.endpoint, HF_HUB_OFFLINE="1")
    assert offline.source == "bundled", offline.log
    assert "discarding" in offline.log

    online = run_resolve(bundled, hf_home, hub.endpoint)
    assert online.source == "hub" and online.result["sha256"] == _sha(V1), online.log
    assert Path(online.result["path"]).read_bytes() == V1


def test_hub_step_can_be_disabled(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)))
    run = run_resolve(bundled, hf_home, hub.endpoint, AIRKEN_HUB="0")
    assert run.source == "bundled"
    assert hub.requests == []


# ---------------------------------------------------------------------------- local + bundled (in-process)


@pytest.fixture
def no_hub(monkeypatch):
    for name in [k for k in os.environ if k.startswith("AIRKEN_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AIRKEN_HUB", "0")
    return monkeypatch


def test_explicit_path_wins(tmp_path, no_hub):
    bundled = make_bundled(tmp_path / "models")
    model = tmp_path / "mine.tflite"
    model.write_bytes(V1)
    no_hub.setenv("AIRKEN_MODEL_PATH", str(model))

    src = resolve_model(bundled_dir=bundled)
    assert src == ModelSource(model.resolve(), "local", None, None, _sha(V1), "mine.tflite", verified=False)

    no_hub.setenv("AIRKEN_MODEL_SHA256", _sha(V1))
    assert resolve_model(bundled_dir=bundled).verified is True
    no_hub.setenv("AIRKEN_MODEL_SHA256", _sha(V2))
    with pytest.raises(ModelUnavailable, match="AIRKEN_MODEL_SHA256"):
        resolve_model(bundled_dir=bundled)


def test_missing_explicit_path_is_an_error_not_a_fallback(tmp_path, no_hub):
    bundled = make_bundled(tmp_path / "models")
    no_hub.setenv("AIRKEN_MODEL_PATH", str(tmp_path / "nope.tflite"))
    with pytest.raises(ModelUnavailable, match="AIRKEN_MODEL_PATH"):
        resolve_model(bundled_dir=bundled)


def test_bundled_copy_is_verified(tmp_path, no_hub, caplog):
    bundled = make_bundled(tmp_path / "models", pin=(REPO, "0" * 40, _sha(V1)))
    with caplog.at_level("INFO", logger="airken.core.weights"):
        src = resolve_model(bundled_dir=bundled)
    assert (src.source, src.sha256, src.filename, src.verified) == ("bundled", _sha(BUNDLED), FILE, True)
    assert src.path == bundled / FILE
    assert "model: bundled" in caplog.text and _sha(BUNDLED) in caplog.text


def test_bundled_dir_from_env(tmp_path, no_hub):
    bundled = make_bundled(tmp_path / "elsewhere")
    no_hub.setenv("AIRKEN_BUNDLED_DIR", str(bundled))
    assert resolve_model().path == bundled / FILE


@pytest.mark.parametrize("damage", ["no-manifest", "no-file"])
def test_missing_bundled_model_says_what_to_do(tmp_path, no_hub, damage):
    bundled = make_bundled(tmp_path / "models")
    (bundled / ("manifest.json" if damage == "no-manifest" else FILE)).unlink()
    with pytest.raises(RuntimeError) as err:
        resolve_model(bundled_dir=bundled)
    assert "Reinstall airken" in str(err.value) and "AIRKEN_MODEL_PATH" in str(err.value)


def test_corrupt_bundled_model_is_refused(tmp_path, no_hub):
    bundled = make_bundled(tmp_path / "models")
    (bundled / FILE).write_bytes(V1)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        resolve_model(bundled_dir=bundled)
    (bundled / FILE).write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 5\n")
    with pytest.raises(ModelUnavailable, match="git lfs pull"):
        resolve_model(bundled_dir=bundled)


def test_manifest_round_trip_and_validation(tmp_path):
    directory = make_bundled(tmp_path / "models", pin=(REPO, "a" * 40, _sha(V1)))
    manifest = read_manifest(directory)
    assert manifest["filename"] == FILE and manifest["sha256"] == sha256_file(directory / FILE)
    assert manifest["size"] == len(BUNDLED)
    assert manifest["hub"] == {"repo_id": REPO, "revision": "a" * 40, "filename": FILE, "sha256": _sha(V1)}
    assert read_manifest(tmp_path / "empty") == {}

    (directory / "manifest.json").write_text(json.dumps({"filename": FILE, "sha256": "xyz"}))
    with pytest.raises(ValueError, match="sha256"):
        read_manifest(directory)
    (directory / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="JSON"):
        read_manifest(directory)


# ---------------------------------------------------------------------------- files LiteRT cannot run

REAL_MODEL = REPO_ROOT / "airken" / "models" / FILE


def broken_copies(folder: Path) -> dict[str, Path]:
    """The real model as a text file, empty, cut in half, and with a damaged header."""
    real = REAL_MODEL.read_bytes()
    header = bytearray(real)
    header[4:8] = b"XXXX"  # the TFL3 file identifier
    header[8:64] = bytes(56)
    folder.mkdir(parents=True, exist_ok=True)
    copies = {"text": b"not a model\n" * 10, "empty": b"", "truncated": real[: len(real) // 2],
              "header": bytes(header)}
    for name, data in copies.items():
        (folder / f"{name}.tflite").write_bytes(data)
    return {name: folder / f"{name}.tflite" for name in copies}


@pytest.mark.parametrize("damage", ["text", "empty", "truncated", "header"])
def test_explicit_file_litert_cannot_run_is_an_error_like_a_missing_one(tmp_path, no_hub, damage):
    from airken.core.predictor import Predictor

    no_hub.setenv("AIRKEN_MODEL_PATH", str(broken_copies(tmp_path)[damage]))
    with pytest.raises(ModelUnavailable) as err:
        Predictor.load(instances=1)
    message = str(err.value)
    assert "AIRKEN_MODEL_PATH" in message and "not a model LiteRT can run" in message and "unset it" in message
    assert "\n" not in message


def test_bundled_file_litert_cannot_run_says_reinstall(tmp_path, no_hub):
    from airken.core.predictor import Predictor

    bundled = make_bundled(tmp_path / "models", data=broken_copies(tmp_path / "b")["truncated"].read_bytes())
    no_hub.setenv("AIRKEN_BUNDLED_DIR", str(bundled))
    with pytest.raises(ModelUnavailable, match="Reinstall airken"):
        Predictor.load(instances=1)


def test_hub_file_litert_cannot_run_gives_way_to_the_bundled_copy(tmp_path, hub, hf_home):
    commit = hub.add_commit(REPO, {FILE: V1})  # passes its sha256 check, but is no model
    bundled = make_bundled(tmp_path / "models", pin=(REPO, commit, _sha(V1)), data=REAL_MODEL.read_bytes())
    run = run_resolve(bundled, hf_home, hub.endpoint, load=True, AIRKEN_BUNDLED_DIR=str(bundled))
    assert run.source == "bundled", run.log
    assert "cannot be run" in run.log and "falling back" in run.log


@pytest.mark.parametrize("command", [["-m", "airken", "predict", str(EXAMPLES_DIR / "clear-kite.jpg")],
                                     ["app.py", "--port", "0"]], ids=["cli", "app"])
def test_broken_explicit_file_stops_cleanly(tmp_path, command):
    from conftest import offline_env

    env = offline_env(AIRKEN_MODEL_PATH=str(broken_copies(tmp_path)["truncated"]))
    done = subprocess.run([sys.executable, *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=SCENARIO_TIMEOUT_S)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "AIRKEN_MODEL_PATH" in done.stderr
