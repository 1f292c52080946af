"""The server reads uploads only: every shape of file reference a request can send, through
every event a client can reach, against canary files the server must never open; plus the
HTTP edges (security headers, malformed Range, unknown endpoints) and the upload folder's
sweeping (cut-off uploads, shutdown).

The rule itself (airken.web.uploads) is tested here directly too, without a server.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from conftest import AppServer

from airken.core.classes import CLASSES, LABELS, WORDS
from airken.core.words import UNSURE_HEADLINE
from airken.examples import EXAMPLES_DIR
from airken.web import sweeper, uploads
from bench.fixtures.gradio_http import GradioHTTP, api_prefix_of, http_get, predict_data

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = EXAMPLES_DIR / "clear-mountains-picos-de-europa.jpg"
SECRET = "CANARY-SECRET-7f3a"  # in the canary text file; must never appear in an answer

# ---------------------------------------------------------------- the rule, directly


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """An upload folder with one upload, an examples folder, and canaries outside both."""
    up, ex, out = tmp_path / "uploads", tmp_path / "examples", tmp_path / "outside"
    for d in (up / "abc", ex, out / "dir"):
        d.mkdir(parents=True)
    shutil.copy(EXAMPLE, up / "abc" / "sky.jpg")
    shutil.copy(EXAMPLE, ex / "example.jpg")
    shutil.copy(EXAMPLE, out / "canary.jpg")
    (up / "abc" / "to-canary.jpg").symlink_to(out / "canary.jpg")
    (up / "abc" / "to-sky.jpg").symlink_to(up / "abc" / "sky.jpg")
    (up / "to-outside").symlink_to(out)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(up))
    return up, ex, out


def test_uploads_and_examples_are_accepted_in_every_shape(folders, monkeypatch):
    up, ex, _ = folders
    sky = str((up / "abc" / "sky.jpg").resolve())
    accepted = [
        sky,
        {"path": sky},
        {"path": sky, "meta": {"_type": "gradio.FileData"}, "url": "http://elsewhere/x.jpg"},
        {"path": str(up / "abc" / ".." / "abc" / "sky.jpg")},  # ".." that stays inside
        {"path": str(up / "abc" / "to-sky.jpg")},  # a symlink to another upload
    ]
    for value in accepted:
        assert uploads.uploaded_path(value, ex) == sky, value
    assert uploads.uploaded_path({"path": str(ex / "example.jpg")}, ex) == str((ex / "example.jpg").resolve())
    monkeypatch.chdir(up)
    assert uploads.uploaded_path("abc/sky.jpg", ex) == sky  # relative to where the app runs


@pytest.mark.parametrize("shape", [
    "outside", "outside-dict", "outside-meta", "dotdot", "relative", "symlink-out", "symlink-dir",
    "folder", "upload-folder", "missing", "nul", "long", "number", "list", "url-only", "file-url",
    "tilde", "examples-without-examples",
])
def test_anything_else_gets_one_refusal(folders, monkeypatch, shape):
    up, ex, out = folders
    canary = str(out / "canary.jpg")
    monkeypatch.chdir(up / "abc")
    value = {
        "outside": canary,
        "outside-dict": {"path": canary},
        "outside-meta": {"path": canary, "meta": {"_type": "gradio.FileData"}},
        "dotdot": {"path": str(up / "abc" / ".." / ".." / "outside" / "canary.jpg")},
        "relative": {"path": "../../outside/canary.jpg"},
        "symlink-out": {"path": str(up / "abc" / "to-canary.jpg")},
        "symlink-dir": {"path": str(up / "to-outside" / "canary.jpg")},
        "folder": {"path": str(up / "abc")},
        "upload-folder": {"path": str(up)},
        "missing": {"path": str(up / "abc" / "nope.jpg")},
        "nul": {"path": str(up / "abc" / "sky.jpg") + "\x00.png"},
        "long": {"path": str(up / ("x" * 5000))},
        "number": {"path": 7},
        "list": [str(up / "abc" / "sky.jpg")],
        "url-only": {"url": "http://127.0.0.1/gradio_api/file=" + canary},
        "file-url": {"path": "file://" + canary},
        "tilde": {"path": "~/" + canary},
        "examples-without-examples": {"path": str(ex / "example.jpg")},
    }[shape]
    examples = None if shape == "examples-without-examples" else ex
    with pytest.raises(uploads.NotAnUpload) as err:
        uploads.uploaded_path(value, examples)
    assert str(err.value) == uploads.NOT_AN_UPLOAD


@pytest.mark.parametrize("value", [None, "", {}, {"path": None}, {"path": ""}])
def test_no_file_at_all_is_not_a_refusal(folders, value):
    assert uploads.uploaded_path(value) is None


def test_the_refusal_is_an_image_rejection_with_one_line():
    assert issubclass(uploads.NotAnUpload, uploads.ImageRejected)
    assert "\n" not in uploads.NOT_AN_UPLOAD


# ---------------------------------------------------------------- sweeping, directly


def _aged(path: Path, seconds: float, data: bytes | None = None) -> Path:
    """path (written with data, if given) last modified `seconds` ago."""
    if data is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def test_sweep_removes_stale_untracked_files_only(tmp_path):
    root = tmp_path / "uploads"
    cut_off = _aged(root / "tmpab12cd", 1000, b"half an upload")
    stale = _aged(root / "old" / "photo.jpg", 1000, b"x")
    kept = _aged(root / "old" / "example.jpg", 1000, b"x")
    fresh = _aged(root / "new" / "photo.jpg", 0, b"x")
    _aged(root / "old", 1000)
    assert sweeper.sweep_untracked(root, [str(kept)], max_age_s=900) == 2
    assert not cut_off.exists() and not stale.exists()
    assert kept.exists() and fresh.exists()
    kept.unlink()
    _aged(root / "old", 1000)
    sweeper.sweep_untracked(root, [], max_age_s=900)
    assert not (root / "old").exists() and (root / "new").exists()  # emptied and idle: gone


def test_sweep_at_shutdown_takes_only_cut_off_uploads(tmp_path):
    root = tmp_path / "uploads"
    cut_off = _aged(root / "tmpab12cd", sweeper.CUT_OFF_IDLE_S + 5, b"half an upload")
    arriving = _aged(root / "tmpzz99yy", 0, b"still arriving")
    other = _aged(root / "abc" / "photo.jpg", 5000, b"x")  # another server's upload, if they share the folder
    assert sweeper.sweep_untracked(root, [], max_age_s=-1, at_shutdown=True) == 1
    assert not cut_off.exists() and arriving.exists() and other.exists()


# ---------------------------------------------------------------- a live server


@pytest.fixture(scope="module")
def canaries(tmp_path_factory) -> Path:
    """Files the server can read but must never open: a readable sky photo (it would be
    classified if the rule failed), a text file, a folder."""
    folder = tmp_path_factory.mktemp("canary")
    shutil.copy(EXAMPLE, folder / "canary.jpg")
    (folder / "canary.txt").write_text(f"{SECRET}\n" * 20)
    (folder / "dir").mkdir()
    shutil.copy(EXAMPLE, folder / "dir" / "inside.jpg")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory, canaries):
    folder = tmp_path_factory.mktemp("secure-app")
    app = AppServer(folder, audit=[canaries, folder / "uploads"]).wait_until_up()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def client(server) -> GradioHTTP:
    return GradioHTTP(server.url, api_prefix_of(server.url))


@pytest.fixture(scope="module")
def fn_index(server) -> dict[str, int]:
    """Event numbers by function name, as the page's config lists them (private ones too)."""
    _, body = http_get(server.url.rstrip("/") + "/config")
    return {d["api_name"]: d["id"] for d in json.loads(body)["dependencies"]}


@pytest.fixture(scope="module")
def uploaded(server, client) -> str:
    return client.upload("sky.jpg", EXAMPLE.read_bytes())


def _shapes(canaries: Path, uploads_dir: Path, uploaded: str) -> dict[str, object]:
    canary = str(canaries / "canary.jpg")
    link_dir = uploads_dir / "links"
    link_dir.mkdir(exist_ok=True)
    for name, target in (("to-canary.jpg", canaries / "canary.jpg"), ("to-dir", canaries / "dir")):
        if not (link_dir / name).is_symlink():
            (link_dir / name).symlink_to(target)
    meta = {"_type": "gradio.FileData"}
    return {
        "bare string": canary,
        "FileData without meta": {"path": canary},
        "FileData with meta": {"path": canary, "meta": meta},
        "FileData with another meta": {"path": canary, "meta": {"_type": "other"}},
        "FileData with a url": {"path": canary, "url": "http://127.0.0.1:9/x.jpg", "orig_name": "sky.jpg"},
        "url only": {"url": f"/gradio_api/file={canary}"},
        "text file": {"path": str(canaries / "canary.txt")},
        "folder": {"path": str(canaries / "dir")},
        "missing file": {"path": str(canaries / "nope.jpg")},
        "dotdot from the upload folder": {"path": str(uploads_dir / ".." / ".." / canaries.name / "canary.jpg")},
        "dotdot after an upload": {"path": f"{Path(uploaded).parent}/../../../{canaries.name}/canary.jpg"},
        "relative": {"path": os.path.relpath(canary, REPO_ROOT)},
        "symlink in the upload folder": {"path": str(link_dir / "to-canary.jpg")},
        "symlinked folder": {"path": str(link_dir / "to-dir" / "inside.jpg")},
        "system file": {"path": "/etc/passwd"},
        "proc file": {"path": "/proc/self/environ"},
        "file url": {"path": "file://" + canary},
        "NUL byte": {"path": canary + "\x00.jpg"},
        "upload folder itself": {"path": str(uploads_dir)},
        "non-string path": {"path": 7},
    }


def _answer(outcome: tuple[str, object]) -> str:
    """'class', 'refused: <message>' (an API error, or the page's card in its error state),
    'gradio refused' (before our code, no message), or http."""
    event, payload = outcome
    if event == "complete" and html.escape(uploads.NOT_AN_UPLOAD) in html.escape(html.unescape(str(payload))):
        return f"refused: {uploads.NOT_AN_UPLOAD}"  # the page shows the refusal in its card or table
    if event == "complete":
        first = payload[0] if isinstance(payload, list) else payload
        card = re.search(r'data-state="error".*?<p class="ak-advice">(.*?)</p>', str(first))
        if card:
            return f"refused: {html.unescape(card[1])}"
        label = first.get("label") if isinstance(first, dict) else None
        return "class" if label in LABELS or "data-label" in str(first) else f"complete: {str(first)[:80]}"
    if event == "error":
        message = payload.get("error") if isinstance(payload, dict) else None
        return "gradio refused" if message is None else f"refused: {message}"
    if event == "http 422":  # a reference no file can be named by (middleware.PublicCalls)
        return f"refused: {json.loads(payload)['detail']}"
    return f"{event}: {payload}"


def test_no_reference_reaches_a_file_outside_the_uploads(server, client, fn_index, canaries, uploaded):
    shapes = _shapes(canaries, server.uploads, uploaded)
    calls = {
        "/call/predict": lambda v: client.call("predict", predict_data(v)),
        "/call/read": lambda v: client.call("read", [v, None, None]),  # photo, place, calibration profile
        "queue/join read": lambda v: client.join(fn_index["read"], [v, None, None]),
        "queue/join reread": lambda v: client.join(fn_index["reread"], [v, None, None]),  # a new place or profile
        "queue/join read_batch": lambda v: client.join(fn_index["read_batch"], [[v], None]),  # files, place
    }
    ours = f"refused: {uploads.NOT_AN_UPLOAD}"
    answers = {}
    for door, call in calls.items():
        for shape, value in shapes.items():
            outcome = call(value)
            answers[door, shape] = _answer(outcome)
            assert SECRET not in json.dumps(outcome), (door, shape)
    assert len(shapes) >= 20
    malformed = "refused: image must be a file: upload it (POST /gradio_api/upload), then send"
    wrong = {k: v for k, v in answers.items() if v not in (ours, "gradio refused") and not v.startswith(malformed)}
    assert not wrong, wrong
    # The public API answers every shape with a message (Gradio's own refusals carry none).
    assert not [k for k, v in answers.items() if k[0] == "/call/predict" and v == "gradio refused"]
    # Where our rule answers, it says the same thing whatever lies at the path.
    assert answers["/call/predict", "FileData without meta"] == ours
    assert answers["/call/predict", "text file"] == answers["/call/predict", "missing file"] == ours
    assert answers["queue/join read", "symlink in the upload folder"] == ours
    assert answers["queue/join reread", "dotdot after an upload"] == ours
    # The canaries were never opened, listed or copied (the hook does see the uploads: below).
    assert [line for line in server.audited() if str(canaries) in line] == []
    assert "Traceback" not in "".join(answers.values())


def test_real_uploads_and_examples_still_read(server, client, fn_index, uploaded):
    link = server.uploads / "links" / "to-upload.jpg"
    link.parent.mkdir(exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(uploaded)
    meta = {"_type": "gradio.FileData"}
    # (A bare string is refused by Gradio itself before our code: the Image input wants a dict.)
    for value in ({"path": uploaded, "meta": meta}, {"path": uploaded}, {"path": str(link)}, {"path": str(EXAMPLE)}):
        assert _answer(client.call("predict", predict_data(value))) == "class", value
    assert _answer(client.join(fn_index["read"], [{"path": uploaded, "meta": meta}, None, None])) == "class"
    rows = client.join(fn_index["read_batch"], [[{"path": uploaded, "meta": meta}], None])
    verdict = re.search(r'<td data-col="Verdict">(.*?)</td>', rows[1][0])  # the batch table's HTML
    leans = re.search(r'<td data-col="Leans to">(.*?)</td>', rows[1][0])
    read = {html.escape(c.headline, quote=True) for c in CLASSES} | {html.escape(UNSURE_HEADLINE, quote=True)}
    assert rows[0] == "complete" and verdict and verdict[1] in read  # not "Can't use this file" or refused
    assert leans and leans[1] in WORDS.values()
    assert f"open {uploaded}" in server.audited()  # the audit hook sees what the server reads


def test_a_calibration_profile_reference_follows_the_upload_rule(server, client, fn_index, canaries, uploaded):
    meta = {"_type": "gradio.FileData"}
    photo = {"path": uploaded, "meta": meta}
    for profile in ({"path": str(canaries / "canary.jpg")}, {"path": "/etc/passwd"}, {"path": "../../etc/hosts"}):
        answer = _answer(client.join(fn_index["read"], [photo, None, profile]))
        assert answer in (f"refused: {uploads.NOT_AN_UPLOAD}", "gradio refused"), (profile, answer)
    assert [line for line in server.audited() if str(canaries) in line] == []


def test_security_headers_keep_the_page_embeddable_by_hugging_face(server):
    import urllib.request

    with urllib.request.urlopen(server.url, timeout=10) as resp:
        headers = resp.headers
        assert resp.status == 200
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://huggingface.co" in csp and "https://*.hf.space" in csp
    assert "object-src 'none'" in csp and "base-uri 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] is None  # DENY/SAMEORIGIN would break the Spaces iframe


@pytest.mark.parametrize("value, status", [
    ("bytes=0-1-2", 200), ("bytes=0-1,4-5", 200), ("bytes=abc", 200), ("bytes=9-2", 200),
    ("bytes=0-9", 206), ("bytes=-5", 206),
])
def test_range_headers_never_fail(server, client, uploaded, value, status):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", f"{client.prefix}/file={uploaded}", headers={"Range": value, "Cookie": "session=s3cret"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == status
    assert "s3cret" not in str(resp.headers)  # Gradio's 206 copies request headers into the answer
    assert len(body) == (EXAMPLE.stat().st_size if status == 200 else int(resp.headers["Content-Length"]))


def test_unknown_endpoints_answer_404(client):
    assert client.call("no_such_api", [1])[0] == "http 404"
    assert client.join(9999, [1])[0] == "http 404"


def test_cut_off_upload_is_swept_at_shutdown(server):
    """Runs last: it stops the server. A cut-off upload is deleted at once (tests/test_serving.py);
    one that a killed server left behind, directly in the upload folder, goes at the next shutdown."""
    server.uploads.mkdir(parents=True, exist_ok=True)
    left = _aged(server.uploads / "tmpcutoff1", sweeper.CUT_OFF_IDLE_S + 5, b"\xff\xd8" + bytes(200_000))
    assert server.stop() == 0
    assert not left.exists()
