"""What the tests' fake web services share (the Hub in hub_server.py, Open-Meteo in
openmeteo_server.py): threaded HTTP/1.1 servers on free 127.0.0.1 ports, started and stopped
together, a `release` event that lets a handler told to hang return at stop, and a quiet
handler with one way to answer.

    class Fake(LocalService):
        def __init__(self):
            super().__init__(_Handler)          # or (_Handler, 2) for two origins
    with Fake() as fake: ...                   # fake.urls[0] is "http://127.0.0.1:PORT"

A handler reaches its service as ``self.server.owner``.
"""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: object, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.owner = owner

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (a timeout test) is no error; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalService:
    """`count` servers answering with `handler`, each in its own thread while started."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], count: int = 1) -> None:
        self.release = threading.Event()  # set on stop: lets hanging handlers return
        self._servers = [LocalServer(self, handler) for _ in range(count)]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self._servers]

    def start(self):
        for server in self._servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real services

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False) -> None:
        """Answer `status` with `body` (its headers only, for a HEAD request)."""
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
