"""HTTP edges of the web app: security headers on every response, and clean answers where
Gradio would fail with a 500.

    launch(..., app_kwargs={"middleware": middleware(), "exception_handlers": exception_handlers()})

- Headers: a Content-Security-Policy whose frame-ancestors lets the page be embedded only
  by itself and by Hugging Face (a Space is served from *.hf.space inside a huggingface.co
  page, so X-Frame-Options DENY or SAMEORIGIN would break it), X-Content-Type-Options
  nosniff, and a referrer policy. Gradio's page needs inline scripts and styles, and runs
  the events' js snippets with eval, so script-src allows those; what it forbids is
  loading code from anywhere else, plugins, and changing the page's base URL.
- A Range header that is not a single "bytes=start-end" range is dropped (RFC 9110 lets a
  server ignore it), so the file is sent whole: Gradio's own parsing answered 500. Gradio's
  ranged (206) answers copy the request's headers into the response; the credentials among
  them (Cookie, Authorization) are taken out again.
- An unknown API name (POST /gradio_api/call/<name>) or event number (POST
  /gradio_api/queue/join with an unknown fn_index) answers 404, not 500.
- Uploads: a cut-off upload is deleted at once, and the upload folder has a size bound
  (airken.web.upload_guard).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from airken.web.upload_guard import UploadGuard

FRAME_ANCESTORS = "'self' https://huggingface.co https://*.huggingface.co https://*.hf.space"
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
    "font-src 'self' data: https://fonts.gstatic.com",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    f"frame-ancestors {FRAME_ANCESTORS}",
))
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
# Request headers that no response of ours carries (Gradio's ranged answers echo them).
_NEVER_ECHOED = {b"cookie", b"authorization", b"proxy-authorization"}
_SINGLE_RANGE = re.compile(rb"bytes=(\d+)-(\d*)|bytes=-\d+")

ASGIApp = Callable[..., Any]


class SecurityHeaders:
    """Pure ASGI (no response buffering, so event streams flow as before)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = _without_bad_range(scope)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _NEVER_ECHOED]
                names = {name.lower() for name, _ in headers}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _without_bad_range(scope: dict) -> dict:
    headers = scope.get("headers", [])
    ranges = [value for name, value in headers if name.lower() == b"range"]
    if not ranges or (len(ranges) == 1 and _valid_range(ranges[0].strip())):
        return scope
    return {**scope, "headers": [(n, v) for n, v in headers if n.lower() != b"range"]}


def _valid_range(value: bytes) -> bool:
    match = _SINGLE_RANGE.fullmatch(value)
    if match is None:
        return False
    first, last = match.groups()
    return not last or int(last) >= int(first)  # "bytes=5-2" is invalid too (RFC 9110 14.1.1)


def middleware() -> list[Middleware]:
    return [Middleware(SecurityHeaders), Middleware(UploadGuard)]  # the first is the outermost


def exception_handlers() -> dict:
    """Gradio raises FnIndexInferError for an API name no event has, and a KeyError for an
    unknown name on /call/v2/ or an unknown event number on /queue/join; any other KeyError
    stays a bug (500, traceback logged)."""
    from gradio.route_utils import FnIndexInferError

    async def unknown_api(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "No such API endpoint."}, status_code=404)

    async def unknown_event(request: Request, exc: Exception) -> JSONResponse:
        path = request.url.path
        if not (path.endswith("/queue/join") or "/call/v2/" in path):
            raise exc
        return JSONResponse({"detail": "No such event."}, status_code=404)

    return {FnIndexInferError: unknown_api, KeyError: unknown_event}
