"""A stand-in for the Hugging Face Hub's file endpoints, served on 127.0.0.1.

It speaks what `huggingface_hub.hf_hub_download` (2.x) uses for a large (LFS) file:

* ``HEAD|GET /{repo_id}/resolve/{revision}/{filename}`` on the Hub origin answers
  ``302`` with ``X-Repo-Commit``, ``X-Linked-Etag`` (the file's sha256), ``X-Linked-Size``
  and a ``Location`` on a separate "CDN" origin (another port), as the real Hub does.
  Unknown repos answer 401 ``RepositoryNotFound``, unknown revisions 404
  ``RevisionNotFound``, missing files 404 ``EntryNotFound`` (with ``X-Repo-Commit``).
* ``GET /cdn/{sha256}`` on the CDN origin answers the bytes (``Range: bytes=N-`` too).

For uploads (what ``HfApi.create_repo``, ``create_commit`` and ``upload_folder`` send, as
CommitScheduler and train.push do):

* ``POST /api/repos/create`` answers the repo URL (existing repos too).
* ``POST /api/validate-yaml`` (a README's metadata, checked by ``upload_folder``) finds no fault.
* ``POST /api/{type}s/{repo_id}/preupload/{revision}`` answers ``uploadMode: "regular"`` for
  every file, so their bytes come inline, base64, in the commit.
* ``POST /api/{type}s/{repo_id}/commit/{revision}`` reads the ndjson commit (header, then one
  ``file`` line per file), stores it as a new commit on that revision and answers its
  ``commitOid`` and ``commitUrl``. ``FakeHub.commit_log`` keeps (repo_id, summary, paths).

Switches for failure tests: ``error500`` (every request answers 500), ``hang_download``
(the CDN never answers a GET), ``tamper`` (the CDN serves altered bytes of the same size).
`HangingServer` accepts TCP connections and never answers; `closed_port()` gives a port
where nothing listens.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from bench.fixtures.local_http import LocalService, QuietHandler

_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)")
_UPLOAD = re.compile(r"/api/(?:models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)/(?P<verb>preupload|commit)/(?P<rev>[^/]+)")


@dataclass
class FakeRepo:
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> {filename: bytes}
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit

    def resolve(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        return revision if revision in self.commits else None


class FakeHub(LocalService):
    """Two threaded HTTP servers (Hub and CDN origins) sharing the repos below."""

    def __init__(self) -> None:
        super().__init__(_Handler, count=2)
        self.repos: dict[str, FakeRepo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> bytes
        self.requests: list[tuple[str, str]] = []  # (method, path) in arrival order
        self.commit_log: list[tuple[str, str, list[str]]] = []  # (repo_id, summary, paths) per commit
        self.error500 = False
        self.hang_download = False
        self.tamper = False

    # --- content

    def add_commit(self, repo_id: str, files: dict[str, bytes], *, ref: str | None = "main") -> str:
        """Add a commit holding `files`; point `ref` at it. Returns the 40-hex commit id."""
        repo = self.repos.setdefault(repo_id, FakeRepo())
        commit = hashlib.sha1(f"{repo_id}:{len(repo.commits)}".encode() + b"".join(files.values())).hexdigest()
        repo.commits[commit] = dict(files)
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data
        if ref:
            repo.refs[ref] = commit
        return commit

    # --- lifecycle

    @property
    def endpoint(self) -> str:
        return self.urls[0]

    @property
    def cdn(self) -> str:
        return self.urls[1]


class _Handler(QuietHandler):
    @property
    def hub(self) -> FakeHub:
        return self.server.owner

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_POST(self) -> None:
        hub = self.hub
        hub.requests.append(("POST", self.path))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if hub.error500:
            return self.send(500, b"Internal Error", {"X-Error-Message": "Internal Error"}, False)
        path = urlsplit(self.path).path
        if path == "/api/validate-yaml":  # upload_folder asks before it uploads a README.md
            return self._json({"errors": [], "warnings": []})
        if path == "/api/repos/create":
            ask = json.loads(body)
            kind = {"dataset": "datasets/", "space": "spaces/"}.get(ask.get("type"), "")
            repo_id = f"{ask['organization']}/{ask['name']}" if ask.get("organization") else ask["name"]
            hub.repos.setdefault(repo_id, FakeRepo())
            return self._json({"url": f"{hub.endpoint}/{kind}{repo_id}"})
        match = _UPLOAD.fullmatch(path)
        if match is None:
            return self.send(404, b"Not Found", {}, False)
        if match["verb"] == "preupload":
            files = json.loads(body)["files"]
            return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                         for f in files]})
        self._commit(match["repo"], unquote(match["rev"]), body)

    def _commit(self, repo_id: str, revision: str, body: bytes) -> None:
        hub = self.hub
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        summary = next((line["value"]["summary"] for line in lines if line["key"] == "header"), "")
        files = {line["value"]["path"]: base64.b64decode(line["value"]["content"])
                 for line in lines if line["key"] == "file"}
        repo = hub.repos.setdefault(repo_id, FakeRepo())
        parent = repo.resolve(revision)
        merged = {**(repo.commits.get(parent, {}) if parent else {}), **files}
        commit = hub.add_commit(repo_id, merged, ref=revision)
        hub.commit_log.append((repo_id, summary, sorted(files)))
        self._json({"commitOid": commit, "commitUrl": f"{hub.endpoint}/{repo_id}/commit/{commit}", "success": True})

    def _json(self, value: object) -> None:
        self.send(200, json.dumps(value).encode(), {"Content-Type": "application/json"}, False)

    def _handle(self, head: bool) -> None:
        hub = self.hub
        hub.requests.append((self.command, self.path))
        if hub.error500:
            return self.send(500, b"Internal Error", {"X-Error-Message": "Internal Error"}, head)
        path = urlsplit(self.path).path
        if path.startswith("/cdn/"):
            return self._cdn(path.removeprefix("/cdn/"), head)
        match = _RESOLVE.fullmatch(path)
        if match is None:
            return self.send(404, b"Not Found", {}, head)
        self._resolve(match["repo"], unquote(match["rev"]), unquote(match["file"]), head)

    def _resolve(self, repo_id: str, revision: str, filename: str, head: bool) -> None:
        hub = self.hub
        repo = hub.repos.get(repo_id)
        if repo is None:
            error = {"X-Error-Code": "RepositoryNotFound", "X-Error-Message": "Repository not found"}
            return self.send(401, b'{"error":"Repository not found"}', error, head)
        commit = repo.resolve(revision)
        if commit is None:
            error = {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}
            return self.send(404, b'{"error":"Invalid rev id"}', error, head)
        data = repo.commits[commit].get(filename)
        if data is None:
            error = {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found", "X-Repo-Commit": commit}
            return self.send(404, b'{"error":"Entry not found"}', error, head)
        sha = hashlib.sha256(data).hexdigest()
        headers = {
            "X-Repo-Commit": commit,
            "X-Linked-Etag": f'"{sha}"',
            "X-Linked-Size": str(len(data)),
            "ETag": f'"{hashlib.sha1(sha.encode()).hexdigest()}"',  # etag of the LFS pointer
            "Location": f"{hub.cdn}/cdn/{sha}?expires=9999999999&signature=test",
        }
        self.send(302, b"", headers, head)

    def _cdn(self, sha: str, head: bool) -> None:
        hub = self.hub
        data = hub.blobs.get(sha)
        if data is None:
            return self.send(404, b"NoSuchKey", {}, head)
        if hub.hang_download and not head:
            hub.release.wait(60)  # never answer while the test runs
            self.close_connection = True
            return
        if hub.tamper:
            data = bytes(b ^ 0xFF for b in data)
        start = _range_start(self.headers.get("Range"))
        if start:
            body = data[start:]
            extra = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
            return self.send(206, body, extra, head)
        self.send(200, data, {"ETag": f'"{sha}"'}, head)

def _range_start(value: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", value or "")
    return int(match[1]) if match else 0


class HangingServer:
    """Listens on 127.0.0.1 and never accepts: connects succeed (backlog), requests get no answer."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
