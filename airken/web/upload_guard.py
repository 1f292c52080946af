"""Gradio's upload endpoint, guarded: an upload cut off mid-body is deleted at once, and the
upload folder has a size bound.

How Gradio 6 writes an upload (gradio.route_utils.upload_fn and GradioMultiPartParser): each
file of the multipart body streams into a NamedTemporaryFile(delete=False) directly in the
upload folder, and only when the body is complete is it renamed to <folder>/<sha256>/<name>.
A client that goes away mid-body raises ClientDisconnect out of the parser and leaves the
temp file behind, for the sweep to find 15 minutes later: a client cutting 30 MB uploads
in a loop could fill the disk.

UploadGuard, a pure ASGI middleware on POST .../upload:
- counts the body as it arrives. When a new upload would take the folder past
  AIRKEN_UPLOAD_DIR_MAX_BYTES (its Content-Length counted before a byte is read), the
  folder's older files make room (the sweeper's make_room, registered with when_full); when
  they cannot, the upload gets 503 with Retry-After. One that passes the bound while it
  streams is cut off and gets the same.
- when the body stops short (the client went away, or the bound cut it), or arrives whole
  but without the multipart's closing delimiter (Gradio then answers [] and never closes the
  file it began), deletes the temp files the request left: the ones directly in the folder
  that this process had open when the body stopped and has closed since. An upload still
  arriving keeps its file open, and one that completed was renamed into its own folder, so
  neither is touched. Linux only (/proc/self/fd); elsewhere the sweep still removes them.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from airken import settings
from airken.web.uploads import upload_folder

log = logging.getLogger(__name__)

BUSY = b"The server is busy: try again in a minute."
RETRY_AFTER_S = 60
DRAIN_MAX = 64 * 1024 * 1024
BUSY_ANSWER = (503, BUSY)
INCOMPLETE_ANSWER = (400, b"The upload ended before the file did: upload it again.")
MEASURE_EVERY_S = 1.0  # at most this often the folder is walked again when it looks full
# A cut-off upload's temp file closes when the request's frames are freed, a moment after
# the request ends; it is looked for again every step until the grace time is over.
DROP_STEP_S, DROP_GRACE_S = 0.05, 3.0
_FDS = Path("/proc/self/fd")
_TAIL = 128  # bytes of the body kept to look for the closing delimiter (a boundary has at most 70)


def folder_bytes(root: Path) -> int:
    """Bytes of the regular files under root (0 when it does not exist)."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):  # deleted while we walk
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


class FolderBudget:
    """The upload folder's size: what the last walk found, plus the body bytes that came in
    since (files Gradio deletes itself make it an overestimate until the next walk)."""

    def __init__(self, root: Path, limit: int) -> None:
        self.root, self.limit = root, limit
        self.measured, self.since = 0, 0
        self.measured_at = -math.inf
        self._walking = asyncio.Lock()

    @property
    def used(self) -> int:
        return self.measured + self.since

    def add(self, n: int) -> None:
        self.since += n

    async def admit(self, incoming: int) -> bool:
        """Whether `incoming` more bytes fit. The folder is walked at the first upload and
        again (at most every MEASURE_EVERY_S) when it looks full, and then older files make
        room, with a tenth of the bound to spare so that not every upload has to wait for it."""
        if self.used + incoming <= self.limit and self.measured_at > -math.inf:
            return True
        async with self._walking:
            if time.monotonic() - self.measured_at >= MEASURE_EVERY_S:
                since = self.since
                self.measured = await asyncio.to_thread(folder_bytes, self.root)
                self.since -= since  # what arrived during the walk may be counted twice: safe side
                self.measured_at = time.monotonic()
                make_room = _room_makers.get(str(self.root))
                over = self.used + incoming - self.limit
                if over > 0 and make_room is not None:
                    self.measured -= await asyncio.to_thread(make_room, over + self.limit // 10)
        return self.used + incoming <= self.limit


_room_makers: dict[str, Callable[[int], int]] = {}


def when_full(root: Path, make_room: Callable[[int], int]) -> None:
    """Have make_room(n) free about n bytes of the upload folder `root` when an upload would
    not fit (airken.web.server registers the sweeper's, which knows what the page still serves)."""
    _room_makers[str(root)] = make_room


def open_top_files(root: Path) -> set[str]:
    """Files directly in root that this process has open (empty where /proc is missing)."""
    found = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(_FDS):
            with contextlib.suppress(OSError):
                target = os.readlink(_FDS / fd)
                if os.path.dirname(target) == str(root):
                    found.add(target)
    return found


class _Upload:
    """One upload request as the guard sees it."""

    def __init__(self, scope: dict) -> None:
        _, params = parse_options_header(_header(scope, b"content-type"))
        # What a whole multipart body ends with (an epilogue after it is legal, and rare)
        self.closing = b"\r\n--" + params.get(b"boundary", b"") + b"--"
        self.tail = b""  # the body's last bytes
        self.received = 0
        self.arrived = False  # the whole body arrived
        self.complete = False  # ... and Gradio had all of it
        self.cut_off = False  # the client went away before the body was complete
        self.refusal: tuple[int, bytes] | None = None  # the answer, when the guard ends the body itself
        self.suspects: set[str] = set()  # temp files open when the body stopped
        self.status = 0


class UploadGuard:
    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._budget: FolderBudget | None = None
        self._warned_at = -math.inf

    @property
    def budget(self) -> FolderBudget:
        if self._budget is None:  # GRADIO_TEMP_DIR is read when the first upload comes
            self._budget = FolderBudget(upload_folder(), settings.current().upload_dir_max_bytes)
        return self._budget

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/upload"):
            await self.app(scope, receive, send)
            return
        budget = self.budget
        if not await budget.admit(_content_length(scope)):
            if time.monotonic() - self._warned_at > RETRY_AFTER_S:  # one line a minute, not one a request
                self._warned_at = time.monotonic()
                log.warning("uploads refused: the upload folder is at its bound (%d bytes)", budget.limit)
            await _drain(receive)
            await _answer(send, *BUSY_ANSWER)
            return
        upload = _Upload(scope)
        try:
            await self.app(scope, self._receiver(upload, receive), _status_keeper(upload, send))
        except ClientDisconnect:
            if not (upload.cut_off or upload.refusal):
                raise
        if upload.status not in (0, 200):  # refused by Gradio (too big, malformed): nothing was kept
            budget.since -= upload.received
        if upload.suspects:
            _drop_later(budget, upload.suspects, time.monotonic() + DROP_GRACE_S)
        if upload.refusal and not upload.status:
            if not upload.arrived:
                await _drain(receive)
            await _answer(send, *upload.refusal)

    def _receiver(self, upload: _Upload, receive: Callable) -> Callable:
        """`receive` as Gradio sees it. To end a body itself, the guard hands Gradio the
        chunk it has (so that the temp file exists), then a disconnect."""
        root, budget = self.budget.root, self.budget

        async def counted() -> dict:
            if upload.refusal is not None:
                upload.suspects = upload.suspects or open_top_files(root)
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                upload.received += len(body)
                budget.add(len(body))
                upload.tail = (upload.tail + body[-_TAIL:])[-_TAIL:]
                whole = upload.arrived = not message.get("more_body", False)
                if not whole and budget.used > budget.limit:
                    upload.refusal = BUSY_ANSWER
                elif whole and upload.closing not in upload.tail:
                    upload.refusal = INCOMPLETE_ANSWER
                if upload.refusal is not None:
                    return {**message, "more_body": True}
                upload.complete = whole
            elif message["type"] == "http.disconnect" and not upload.complete:
                upload.cut_off, upload.suspects = True, open_top_files(root)
            return message

        return counted


def _status_keeper(upload: _Upload, send: Callable) -> Callable:
    async def keep(message: dict) -> None:
        if message["type"] == "http.response.start":
            upload.status = message["status"]
        await send(message)

    return keep


def _header(scope: dict, name: bytes) -> bytes:
    return next((value for key, value in scope.get("headers", ()) if key == name), b"")


def _content_length(scope: dict) -> int:
    try:
        return max(0, int(_header(scope, b"content-length") or 0))
    except ValueError:
        return 0


async def _drain(receive: Callable) -> None:
    """Read (and drop) what is left of a refused body, so that a client that sends all of it
    before it reads gets to read the answer rather than a reset connection; at most DRAIN_MAX."""
    left = DRAIN_MAX
    while left > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        left -= len(message.get("body", b""))


async def _answer(send: Callable, status: int, text: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(text)).encode()),
               (b"connection", b"close")]  # a refused body may not have been read to its end
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def _drop_later(budget: FolderBudget, suspects: set[str], deadline: float) -> None:
    """Delete the suspects that are closed and still in the folder's top level; look again
    for the others until the deadline. Runs on the event loop, as Gradio's upload handler
    does, so no upload is ever closed and renamed between the look and the delete."""
    still_open = open_top_files(budget.root) & suspects
    for path in suspects - still_open:
        try:
            size = os.lstat(path).st_size
            os.remove(path)
        except FileNotFoundError:
            continue  # completed and renamed, or gone already
        except OSError as err:
            log.warning("could not delete cut-off upload %s: %s", path, err)
            continue
        budget.since -= size
        log.debug("deleted cut-off upload %s (%d bytes)", os.path.basename(path), size)
    if still_open and time.monotonic() < deadline:
        asyncio.get_running_loop().call_later(DROP_STEP_S, _drop_later, budget, still_open, deadline)
