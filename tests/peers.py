"""Fixtures for the real peers a test talks to: the app on an HTTP server thread, Debian's Chromium, an
SMTP server. The server thread and the browser's sign-in use connections of their own, so tests using
``live_server`` are marked ``committing`` (tests/rollback.py); the fixture refuses to start otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from deadline_helpers import Mailbox, free_port
from flask import Flask
from webhelpers import ARGS, CHROMIUM, serving
from werkzeug.serving import make_server

from app.extensions import db, limiter


@pytest.fixture(scope="session")
def _server(app: Flask) -> Iterator[str]:
    """One HTTP server thread for the run (per xdist worker), started by the first test that needs it: it
    serves the session's one app, so nothing about it belongs to a test. Stopping one after every test cost
    that test up to half a second (``serve_forever`` notices a shutdown at its next poll). Between tests no
    request reaches it: ``browser`` closes every page a test opened before the test's data go."""
    with serving(make_server("127.0.0.1", 0, app, threaded=True)) as base:
        yield base


@pytest.fixture
def live_server(request: pytest.FixtureRequest, _server: str, demo: dict[str, Any]) -> str:
    """The test app on a real HTTP server thread (same database as the test, committed), its rate limits
    counted afresh."""
    if request.node.get_closest_marker("committing") is None:
        pytest.fail("live_server serves from another thread and connection: mark the test "
                    "@pytest.mark.committing")
    db.session.commit()
    limiter.reset()
    return _server


@pytest.fixture(scope="session")
def _chromium() -> Iterator[Any]:
    """One Chromium for the run (per xdist worker), started by the first test that needs it."""
    from playwright.sync_api import sync_playwright

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
