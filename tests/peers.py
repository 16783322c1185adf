"""Fixtures for the real peers a test talks to: the app on an HTTP server thread, Debian's Chromium, an
SMTP server. The server thread and the browser's sign-in use connections of their own, so tests using
``live_server`` are marked ``committing`` (tests/rollback.py); the fixture refuses to start otherwise."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from deadline_helpers import Mailbox, free_port
from flask import Flask
from webhelpers import ARGS, CHROMIUM, serving
from werkzeug.serving import make_server

from app.extensions import db, limiter


class _Gate:
    """The served app, open only while a test holds ``live_server``. A browser's context is closed after its
    test, but a request it had sent (a page still loading, the service worker's fetch) can still be running on a
    server thread; with one server for the whole run, such a request met the next test's reset of the database
    (PostgreSQL: a deadlock with ``TRUNCATE``). So a test's end shuts the gate and gives the requests it started
    a few seconds to end (as a per-test server's shutdown did, by its poll); a request between tests gets a 503
    without touching the database. It does not wait longer: a request can be waiting on a lock that only the
    test's own teardown releases."""

    def __init__(self, app: Flask) -> None:
        self.app, self.open, self.test = app, False, 0
        self.running: dict[int, int] = {}
        self.changed = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        key = id(environ)
        with self.changed:
            if not self.open:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
                return [b"between tests"]
            self.running[key] = self.test
        try:
            return _Response(self.app(environ, start_response), lambda: self._done(key))
        except BaseException:
            self._done(key)
            raise

    def _done(self, key: int) -> None:
        with self.changed:
            self.running.pop(key, None)
            self.changed.notify_all()

    def let_in(self) -> None:
        with self.changed:
            self.test += 1
            self.open = True

    def shut(self, timeout: float = 5.0) -> None:
        with self.changed:
            self.open = False
            self.changed.wait_for(lambda: self.test not in self.running.values(), timeout)


class _Response:
    """The app's response to one request through the gate, closed (the app's request teardown: its database
    session given back) and let out of the gate as soon as its last chunk was handed to the server.

    Werkzeug's server closes a response only after reading off whatever the client left on the socket, and when
    that read fails (Chromium reset the connection after a form's POST) the response is never closed: its
    request stayed "running" and the test's end waited the gate's whole 5 s for it, two of the four browser tests
    of issue 12's A/B ids in every run (and the request's app context was left to the garbage collector)."""

    def __init__(self, response: Iterable[bytes], done: Callable[[], None]) -> None:
        self.response, self.done, self.closed = response, done, False
        self.chunks = iter(response)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self.chunks)
        except BaseException:  # the last chunk was sent (StopIteration) or the response failed: it is over
            self.close()
            raise

    def close(self) -> None:
        """The server's close after its read-off, when it gets there, finds the response closed already."""
        if self.closed:
            return
        self.closed = True
        try:
            close = getattr(self.response, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


@pytest.fixture(scope="session")
def _server(app: Flask) -> Iterator[tuple[str, _Gate]]:
    """One HTTP server thread for the run (per xdist worker), started by the first test that needs it: it
    serves the session's one app, so nothing about it belongs to a test. Stopping one after every test cost
    that test up to half a second (``serve_forever`` notices a shutdown at its next poll). Between tests its
    gate is shut (``_Gate``)."""
    gate = _Gate(app)
    with serving(make_server("127.0.0.1", 0, gate, threaded=True)) as base:
        yield base, gate


@pytest.fixture
def live_server(request: pytest.FixtureRequest, _server: tuple[str, _Gate], demo: dict[str, Any]) -> Iterator[str]:
    """The test app on a real HTTP server thread (same database as the test, committed), its rate limits
    counted afresh; after the test, no request of it is still running when its data go."""
    if request.node.get_closest_marker("committing") is None:
        pytest.fail("live_server serves from another thread and connection: mark the test "
                    "@pytest.mark.committing")
    db.session.commit()
    limiter.reset()
    base, gate = _server
    gate.let_in()
    try:
        yield base
    finally:
        gate.shut()


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    """One Chromium for the run (per xdist worker), started by the first test that needs it. Playwright's
    ``expect`` waits as long as a page's actions do (``browser_login``'s 15 s), not its default 5 s: on a loaded
    2-core machine a page's script or an htmx swap can take longer than 5 s to show."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser(_chromium: Any) -> Iterator[Any]:
    """Debian's Chromium; every context (cookies, storage, pages) a test opened is closed after it, so
    the next test starts from a browser with nothing in it."""
    yield _chromium
    for context in list(_chromium.contexts):
        context.close()


@pytest.fixture
def smtp(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """The app's SMTP settings point at a live aiosmtpd on 127.0.0.1 for the test."""
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = app.config["LIANDONG"]
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_from", "liandong@county.example")
    try:
        yield box
    finally:
        controller.stop()
