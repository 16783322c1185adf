"""Sentry: an unhandled error reaches a real HTTP ingest peer (DSN on 127.0.0.1) and carries no child data."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk
from flask import Flask, request

from app import create_app
from app.extensions import csrf, db

CHILD = "欧阳晓燕"
NARRATIVE = "邻居说她夜里一个人哭到天亮"
ID_NUMBER = "370000201506010029"


class Ingest(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint, as far as a client can tell: stores every envelope it is sent."""

    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def ingest() -> Iterator[tuple[str, list[bytes]]]:
    Ingest.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42", Ingest.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def reporting_app(app: Flask, ingest: tuple[str, list[bytes]]) -> Iterator[Flask]:
    """The session's app again (same database) with a DSN, and a view that fails holding a child's data."""
    settings = app.config["LIANDONG"]
    reporting = create_app({"database_url": settings.database_url, "instance_dir": settings.instance_dir,
                            "secret_key": "test-secret", "testing": True, "redis_url": None,
                            "sentry_dsn": ingest[0], "sentry_environment": "test", "extra": settings.extra})
    reporting.config["PROPAGATE_EXCEPTIONS"] = False  # a real server answers 500, it does not re-raise

    def failing_view() -> str:
        child = {"name": request.form.get("name") or request.args.get("name"), "story": NARRATIVE}
        raise RuntimeError(f"could not file the report of {child['name']} ({ID_NUMBER})")

    csrf.exempt(failing_view)  # a form post that reaches the view, as a valid token would
    reporting.add_url_rule("/boom", "boom", failing_view, methods=["GET", "POST"])
    reporting.add_url_rule("/api/v1/boom", "api_boom", failing_view, methods=["POST"])
    yield reporting
    sentry_sdk.init(dsn=None)  # reporting off again for the rest of the session
    with reporting.app_context():
        db.session.remove()
        db.engine.dispose()


def events(received: list[bytes]) -> list[dict[str, Any]]:
    found = []
    for envelope in received:
        for line in envelope.split(b"\n"):
            if line.strip().startswith(b"{"):
                item = json.loads(line)
                if "exception" in item:
                    found.append(item)
    return found


def test_an_unhandled_error_is_reported_without_the_child(reporting_app: Flask,
                                                           ingest: tuple[str, list[bytes]]) -> None:
    client = reporting_app.test_client()
    client.set_cookie("draft", CHILD)
    page = client.post(f"/boom?name={CHILD}", data={"name": CHILD, "narrative": NARRATIVE},
                       headers={"Accept": "text/html", "X-Request-ID": "req-sentry-1"})
    assert page.status_code == 500 and "text/html" in page.content_type  # the HTML 500 page
    assert CHILD not in page.get_data(as_text=True)
    api = client.post("/api/v1/boom", json={"name": CHILD}, headers={"X-Request-ID": "req-sentry-2"})
    assert api.status_code == 500 and api.is_json
    sentry_sdk.flush(timeout=10)
    _, received = ingest
    reported = events(received)
    assert len(reported) == 2, received
    raw = b"".join(received).decode()
    for secret in (CHILD, NARRATIVE, ID_NUMBER):
        assert secret not in raw and json.dumps(secret)[1:-1] not in raw, secret
    for event in reported:
        assert event["exception"]["values"][-1]["type"] == "RuntimeError"
        assert event["exception"]["values"][-1]["stacktrace"]["frames"][-1]["function"] == "failing_view"
        assert event["environment"] == "test"
    assert {e["tags"]["request_id"] for e in reported} == {"req-sentry-1", "req-sentry-2"}
    assert "publickey" not in json.dumps(reported)


def failing_job(name: str) -> None:
    """A job that fails holding a child's name (real jobs take ids; this one tests the scrubbing)."""
    raise ValueError(f"no guardian found for {name}")


@pytest.mark.redis
def test_a_failed_job_is_reported_with_its_id_and_without_its_arguments(reporting_app: Flask,
                                                                         ingest: tuple[str, list[bytes]]) -> None:
    import os

    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue("liandong-sentrytest", connection=connection)
    job = queue.enqueue(failing_job, CHILD)
    try:
        SimpleWorker([queue], connection=connection).work(burst=True)
        sentry_sdk.flush(timeout=10)
    finally:
        queue.delete(delete_jobs=True)
    _, received = ingest
    [event] = events(received)
    raw = b"".join(received).decode()
    assert CHILD not in raw and json.dumps(CHILD)[1:-1] not in raw
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["contexts"]["rq-job"]["job_id"] == event["tags"]["job_id"] == job.id
