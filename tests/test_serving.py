"""What the app adds to Gradio's server: sessions that build their config on demand
(airken.web.sessions), and the upload guard (airken.web.upload_guard): an upload cut off
mid-body is deleted within seconds, and the upload folder has a size bound, past which a new
upload is answered "busy" while the folder has room again once files go."""
from __future__ import annotations

import asyncio
import http.client
import shutil
import socket
import time
import uuid
from pathlib import Path

import gradio as gr
import pytest
from conftest import AppServer
from gradio.state_holder import SessionState

from airken.core.predictor import get_predictor
from airken.web import server, sessions, sweeper, ui, upload_guard
from bench.fixtures.gradio_http import GradioHTTP, api_prefix_of

EXAMPLE = Path(__file__).resolve().parents[1] / "assets" / "examples" / "clear-mountains-picos-de-europa.jpg"
BOUND = 4_000_000  # the test server's bound: Gradio's copies of the examples (2.6 MB), and two or three photos
GONE_WITHIN_S = 5.0

# Gradio's queue still calls pandas options that pandas 3 deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*")


# ---------------------------------------------------------------- sessions


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    return ui.build_demo(get_predictor())


def test_a_session_builds_block_configs_only_for_a_deep_link(demo):
    lazy, eager = sessions.LazySessionState(demo), SessionState(demo)
    textbox = next(k for k, b in demo.blocks.items() if isinstance(b, gr.Textbox))
    for state in (lazy, eager):
        state._update_value_in_config(textbox, "x")  # what an event does for its inputs and outputs
    assert lazy.config_values == {}
    assert {c["id"]: c for c in lazy.components} == {c["id"]: c for c in eager.components}
    assert lazy.config_values[textbox]["props"]["value"] == "x"


def test_the_server_serves_lazy_sessions(demo, tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    app = gr.routes.App.create_app(demo, app_kwargs=server.app_kwargs(demo))
    with TestClient(app):
        assert isinstance(app.state_holder, sessions.LazyStateHolder)
        assert demo.state_holder is app.state_holder
        assert isinstance(app.state_holder["some-session"], sessions.LazySessionState)


# ---------------------------------------------------------------- room in the upload folder


def test_at_the_bound_the_oldest_files_of_the_app_make_room(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    with gr.Blocks() as page:
        example = gr.Image()
    uploads = []
    for name in ("a1", "b2", "c3"):  # arriving in this order
        uploads.append(tmp_path / name / "photo.jpg")
        uploads[-1].parent.mkdir()
        uploads[-1].write_bytes(bytes(100))
        time.sleep(0.02)
    kept, stranger = tmp_path / "ex" / "example.jpg", tmp_path / "zz" / "other-app.jpg"
    for f in (kept, stranger):
        f.parent.mkdir()
        f.write_bytes(bytes(1000))
    page.upload_file_set.update(str(f) for f in (*uploads, kept))
    example.keep_in_cache.add(str(kept))
    assert sweeper.make_room(page, 10**6) == 0  # nothing is a minute old yet
    assert sweeper.make_room(page, 150, min_age_s=0) == 200
    assert [f.exists() for f in uploads] == [False, False, True] and not uploads[0].parent.exists()
    assert kept.exists() and stranger.exists()


def test_an_upload_that_would_not_fit_asks_for_room_first(tmp_path):
    old = tmp_path / "a1" / "photo.jpg"
    old.parent.mkdir()
    old.write_bytes(bytes(900))
    asked = []

    def make_room(need: int) -> int:
        asked.append(need)
        old.unlink()
        return 900

    upload_guard.when_full(tmp_path, make_room)
    budget = upload_guard.FolderBudget(tmp_path, limit=1000)
    assert asyncio.run(budget.admit(300)) and asked == [200 + 100]  # the need, and a tenth of the bound
    assert asyncio.run(budget.admit(600)) and budget.used == 0


# ---------------------------------------------------------------- the upload guard, live


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> AppServer:
    app = AppServer(tmp_path_factory.mktemp("guarded-app"), AIRKEN_UPLOAD_DIR_MAX_BYTES=str(BOUND)).wait_until_up()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def client(guarded) -> GradioHTTP:
    return GradioHTTP(guarded.url, api_prefix_of(guarded.url))


def _top_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_file()} if folder.is_dir() else set()


def _request_head(client: GradioHTTP, boundary: str, length: int | None) -> bytes:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST {client.prefix}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n{size}\r\n\r\n").encode()


def _part_head(boundary: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"sky.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()


def _appears(folder: Path, before: set[str]) -> set[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = _top_files(folder) - before
        if new:
            return new
        time.sleep(0.02)
    return set()


def _gone(folder: Path, names: set[str]) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while any((folder / name).exists() for name in names):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _cut_off_upload(guarded: AppServer, client: GradioHTTP, sent: int) -> set[str]:
    """Send part of a multipart upload, wait until its temp file is in the upload folder,
    then close the connection; returns the temp file's name."""
    before = _top_files(guarded.uploads)
    with socket.create_connection(("127.0.0.1", guarded.port)) as sock:
        boundary = uuid.uuid4().hex
        sock.sendall(_request_head(client, boundary, sent * 2) + _part_head(boundary) + b"\xff\xd8" + bytes(sent))
        arrived = _appears(guarded.uploads, before)
    assert arrived, "the upload's temp file never appeared: nothing to test"
    return arrived


def _upload_status(guarded: AppServer, client: GradioHTTP, data: bytes) -> tuple[int, dict, bytes]:
    boundary = uuid.uuid4().hex
    return _post(guarded, client, boundary, _part_head(boundary) + data + f"\r\n--{boundary}--\r\n".encode())


def _post(guarded: AppServer, client: GradioHTTP, boundary: str, body: bytes) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", guarded.port, timeout=30)
    try:
        conn.request("POST", f"{client.prefix}/upload", body,
                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_a_cut_off_upload_is_gone_within_seconds_and_leaves_the_bound_alone(guarded, client):
    for _ in range(10):  # 2.5 MB in all: past the bound, were they counted or kept
        left = _cut_off_upload(guarded, client, 250_000)
        assert _gone(guarded.uploads, left), f"{left} still there {GONE_WITHIN_S} s after the cut"
    assert Path(client.upload("sky.jpg", EXAMPLE.read_bytes())).is_file()
    assert "Traceback" not in guarded.log()  # a cut-off is a client's doing, not a server error


def test_a_whole_body_without_its_closing_delimiter_leaves_nothing(guarded, client):
    """Gradio would answer [] for it and never close the file it began: the guard answers 400."""
    before = _top_files(guarded.uploads)
    boundary = uuid.uuid4().hex
    status, _, text = _post(guarded, client, boundary, _part_head(boundary) + b"\xff\xd8" + bytes(100_000))
    assert (status, text) == upload_guard.INCOMPLETE_ANSWER
    assert _gone(guarded.uploads, _top_files(guarded.uploads) - before)


def test_a_body_that_streams_past_the_bound_is_cut_off(guarded, client):
    before = _top_files(guarded.uploads)
    with socket.create_connection(("127.0.0.1", guarded.port), timeout=10) as sock:
        boundary = uuid.uuid4().hex
        sock.sendall(_request_head(client, boundary, None))
        body = _part_head(boundary) + b"\xff\xd8" + bytes(2 * BOUND)
        for i in range(0, len(body), 1 << 16):
            chunk = body[i : i + (1 << 16)]
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
        answer = sock.recv(4096)  # the rest of the body was read (and dropped) before the answer
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    assert _gone(guarded.uploads, _top_files(guarded.uploads) - before)


def test_an_upload_past_the_bound_is_busy_until_files_go(guarded, client):
    photo = EXAMPLE.read_bytes()
    statuses = []
    for i in range(BOUND // len(photo) + 2):
        status, headers, text = _upload_status(guarded, client, photo + f"fill-{i}".encode())
        statuses.append(status)
        if status != 200:
            break
    assert statuses[0] == 200 and statuses[-1] == 503, statuses
    assert text.decode() == upload_guard.BUSY.decode() and int(headers["retry-after"]) > 0
    for folder in [p for p in guarded.uploads.iterdir() if p.is_dir()]:
        shutil.rmtree(folder)  # what the sweep does when their time is up
    time.sleep(upload_guard.MEASURE_EVERY_S)
    assert _upload_status(guarded, client, photo + b"after")[0] == 200
