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
- Plain-HTTP calls of the public endpoints (POST /gradio_api/call/<name> with {"data": [...]},
  /call/v2/<name> with named inputs) reach the app's own checks: Gradio runs an event only with
  every input present, and refuses a bare path string or a reference outside its upload folder,
  each with {"error": null} and nothing else. So the optional inputs a call leaves out become
  null (`{"data": [photo]}` works), a file reference is handed to the app's upload rule
  (airken.web.uploads), which answers with a message, and what no rule can mend (too many
  inputs, an unknown name, a number for a photo) answers 422 with the inputs it takes.
- Uploads: a cut-off upload is deleted at once, and the upload folder has a size bound
  (airken.web.upload_guard).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
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


_CALL = re.compile(r".*/gradio_api/call/(?P<v2>v2/)?(?P<name>[^/]+)/?")
_MAX_CALL_BYTES = 1 << 20  # a call is a few references and numbers; larger bodies pass as they came


class BadCall(ValueError):
    """A call no rule can mend; args[0] says which inputs the endpoint takes."""


@dataclass(frozen=True)
class Endpoint:
    """A public endpoint's inputs, in order, as its "Use via API" page names them."""

    name: str
    inputs: tuple[str, ...]
    required: tuple[str, ...]  # the inputs without a default (the app says what is missing)
    files: dict[int, Any]  # position of each file input -> its Gradio data model (ImageData, FileData)

    def mend(self, body: Any, named: bool) -> Any:
        """The body with left-out inputs null and file references as the app's rule reads them
        (None: not a call this knows how to read; Gradio answers it as before)."""
        if named:
            if not isinstance(body, dict):
                return None
            unknown = sorted(set(body) - set(self.inputs) - {"oauth_token"})  # Gradio's own, for gated apps
            if unknown:
                raise BadCall(f"{self.name} has no input called {unknown[0]!r}: {self._takes()}")
            values = self._values([body.get(n) for n in self.inputs])
            return {**body, **dict(zip(self.inputs, values, strict=True))}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return None
        if len(data) > len(self.inputs):
            raise BadCall(f"{self.name} takes {len(self.inputs)} inputs, this call sent {len(data)}: {self._takes()}")
        return {**body, "data": self._values(data + [None] * (len(self.inputs) - len(data)))}

    def _values(self, values: list) -> list:
        for i, model in self.files.items():
            values[i] = self._reference(self.inputs[i], values[i], model)
        return values

    def _takes(self) -> str:
        verb = "is" if len(self.required) == 1 else "are"
        needs = f"{' and '.join(self.required)} {verb} required, the others" if self.required else "each"
        return f"it takes {', '.join(self.inputs)}, in this order; {needs} may be null or left out."

    def _reference(self, input_name: str, value: Any, model: Any) -> Any:
        # Gradio checks only references carrying its "meta" marker, and refuses them without a
        # message; without it the app's own rule (uploads.uploaded_path) checks every one.
        if value is None:
            return None
        reference = {"path": value} if isinstance(value, str) else value
        if isinstance(reference, dict):
            reference = {k: v for k, v in reference.items() if k != "meta"}
            try:
                model.model_validate(reference)  # what Gradio checks next: a field of the wrong type
                return reference
            except ValueError:  # pydantic's ValidationError
                pass
        raise BadCall(f"{input_name} must be a file: upload it (POST /gradio_api/upload), then send "
                      '{"path": <the path that answered>, "meta": {"_type": "gradio.FileData"}}.')


class PublicCalls:
    """Pure ASGI: mends plain-HTTP calls of the public endpoints (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._endpoints: dict[str, Endpoint] | None = None  # read from the app at its first call

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        match = _CALL.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        endpoint = self._endpoint(scope, match["name"]) if match and scope.get("method") == "POST" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        body, receive = await _buffered(receive)
        try:
            mended = _mended(endpoint, body, named=bool(match["v2"]))
        except BadCall as err:
            await JSONResponse({"detail": str(err)}, status_code=422)(scope, receive, send)
            return
        if mended is not None:
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(mended)).encode())]}
            receive = _replay([mended], receive, complete=True)
        await self.app(scope, receive, send)

    def _endpoint(self, scope: dict, name: str) -> Endpoint | None:
        if self._endpoints is None:
            self._endpoints = _public_endpoints(scope.get("app"))
        return self._endpoints.get(name)


def _mended(endpoint: Endpoint, body: bytes | None, named: bool) -> bytes | None:
    """The call's body mended, or None to pass it on as it came (too large, not JSON: FastAPI
    says so itself). Raises BadCall."""
    try:
        parsed = json.loads(body) if body is not None else None
    except ValueError:
        return None
    mended = endpoint.mend(parsed, named) if parsed is not None else None
    return None if mended is None else json.dumps(mended).encode()


def _public_endpoints(app: Any) -> dict[str, Endpoint]:
    """The public named endpoints of the Gradio app serving the request, their inputs named as
    on its "Use via API" page."""
    if not hasattr(app, "get_blocks"):
        return {}
    blocks = app.get_blocks()
    named = blocks.get_api_info()["named_endpoints"]
    found = {}
    for fn in blocks.fns.values():
        info = named.get(f"/{fn.api_name}") if fn.api_visibility == "public" else None
        if info is not None:
            params = info["parameters"]
            models = [getattr(block, "data_model", None) for block in fn.inputs]
            files = {i: m for i, m in enumerate(models) if m is not None and "path" in getattr(m, "model_fields", {})}
            found[fn.api_name] = Endpoint(fn.api_name, tuple(p["parameter_name"] for p in params),
                                          tuple(p["parameter_name"] for p in params if not p["parameter_has_default"]),
                                          files)
    return found


async def _buffered(receive: Callable) -> tuple[bytes | None, Callable]:
    """The whole request body when it is small (else None), and a receive that replays what
    was read before it hands on to the request's own."""
    chunks, size, more = [], 0, True
    while more and size <= _MAX_CALL_BYTES:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return None, _replay(chunks, receive, complete=False, then=message)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
    return (None if more else b"".join(chunks)), _replay(chunks, receive, complete=not more)


def _replay(chunks: list[bytes], receive: Callable, complete: bool, then: dict | None = None) -> Callable:
    pending = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    if complete:
        pending[-1]["more_body"] = False
    if then is not None:
        pending.append(then)

    async def replay() -> dict:
        return pending.pop(0) if pending else await receive()  # after the body: the disconnect, when it comes

    return replay


def middleware() -> list[Middleware]:
    return [Middleware(SecurityHeaders), Middleware(UploadGuard), Middleware(PublicCalls)]  # the first is the outermost


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
