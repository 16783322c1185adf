"""A real receiving system for signed posts: an HTTP server thread on a free port of 127.0.0.1.

It does what docs/api.md asks of a subscriber: verify the Standard Webhooks signature with the shared
secret (refusing a bad one with 401), de-duplicate by ``webhook-id``, answer 2xx. A test scripts its
answers (``fail_next``: that many 500s first) and reads what arrived.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.common.signed_http import SignatureError, verify


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int


@dataclass
class Receiver:
    secret: str
    fail_next: int = 0
    redirect_to: str | None = None
    arrivals: list[Arrival] = field(default_factory=list)
    events: dict[str, Any] = field(default_factory=dict)
    """Accepted events by ``webhook-id``: each once, however often it was posted."""
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            try:
                payload = verify(self.secret, body, headers)
                verified = True
            except SignatureError:
                payload, verified = None, False
            if self.redirect_to:
                status = 307
            elif not verified:
                status = 401
            elif self.fail_next > 0:
                self.fail_next -= 1
                status = 500
            else:
                self.events.setdefault(headers["webhook-id"], payload)
                status = 204
            self.arrivals.append(Arrival(path, headers, body, verified, status))
            return status

    def payloads(self) -> list[Any]:
        return [json.loads(a.body) for a in self.arrivals]


@contextmanager
def receiving(secret: str) -> Iterator[Receiver]:
    """A ``Receiver`` serving at ``receiver.url`` (``http://127.0.0.1:<port>/hook``) for the block."""
    receiver = Receiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle(self.path, headers, body)
            self.send_response(status)
            if status == 307 and receiver.redirect_to:
                self.send_header("Location", receiver.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
