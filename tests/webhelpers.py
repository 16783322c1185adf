"""Helpers for page tests: sign in a demo user's browser session, open a case, walk its steps; and for
browser tests, serving an app on a thread and signing in through Debian's Chromium (the fixtures
``page``, ``live_server`` and ``browser`` are in tests/conftest.py and tests/peers.py)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from flask import Flask
from helpers import report_payload

from app.extensions import db
from app.org.demo import DEMO_PASSWORD
from app.org.sessions import EPOCH_KEY, SEEN_KEY, SINCE_KEY

CHROMIUM = "/usr/bin/chromium-headless-shell"
"""Debian's Chromium (never ``playwright install``), as its headless shell (package ``chromium-headless-shell``:
the same Blink and V8 without the desktop browser around them, what Playwright itself runs headless). The full
``chromium --headless`` cost 24.8 core-seconds of the machine for the four browser tests of issue 12's A/B,
the shell 15.2 (bench/README.md, session 13). Browser tests FAIL when it is missing, never skip."""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
CSRF_FIELD = "csrf_token"
"""Where Flask-WTF keeps a session's CSRF secret (``WTF_CSRF_FIELD_NAME``'s default, which the app keeps)."""


class PageClient:
    """A browser-like test client signed in as one demo user, with the page's CSRF token.

    It stands for a user who keeps working: before each request its session is marked as just used
    (tests move the clock by hours), so idle and absolute lifetimes never end it; tests of those
    lifetimes sign in through ``/login`` instead. Its epoch is the user's at creation, so signing
    out, a password reset or an access change do end it.
    """

    def __init__(self, app: Flask, username: str | None):
        self.client = app.test_client()
        self.username = username
        self._csrf: tuple[str, str] | None = None  # (the session's CSRF secret, the page's token signing it)
        if username:
            from app.org.queries import user_by_username

            user = user_by_username(username)
            assert user is not None, username
            with self.client.session_transaction() as sess:
                sess["_user_id"] = str(user.id)
                sess["_fresh"] = True
                sess[EPOCH_KEY] = user.session_epoch
            self._keep_alive()  # stamped now too: some tests use ``.client`` directly

    def _keep_alive(self, csrf: bool = False) -> str | None:
        """Marks the session as just used; with ``csrf``, returns the CSRF secret it holds (None before a
        page made one)."""
        if not self.username and not csrf:
            return None
        at = int(self.client.application.extensions["liandong.clock"].now().timestamp())
        with self.client.session_transaction() as sess:
            if self.username and "_user_id" in sess:
                sess[SINCE_KEY] = sess[SEEN_KEY] = at
            return sess.get(CSRF_FIELD)

    @staticmethod
    def _forget_cached_user() -> None:
        """Requests reuse the test's app context, where Flask-Login and Flask-Babel cache per request data."""
        from flask import g, has_app_context

        if has_app_context():
            g.pop("_login_user", None)
            g.pop("_flask_babel", None)
            g.pop("csrf_token", None)

    def get(self, path: str, **kw: Any) -> Any:
        self._forget_cached_user()
        self._keep_alive()
        return self.client.get(path, **kw)

    def csrf(self) -> str:
        """The CSRF token a page gives this session, read from a page the first time and reused while the
        session keeps the secret it signs, as a browser keeps its open page's token: one page render per
        client instead of one per POST (the login page, or the inbox it redirects to, was a third of a page
        test's requests). Signing in or out replaces the session, and with it the secret: read again then."""
        self._forget_cached_user()
        secret = self._keep_alive(csrf=True)
        if self._csrf is not None and secret is not None and self._csrf[0] == secret:
            return self._csrf[1]
        page = self.client.get("/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "no CSRF token on the page"
        secret = self._keep_alive(csrf=True)
        self._csrf = (secret, match.group(1)) if secret is not None else None
        return match.group(1)

    def post(self, path: str, data: Any = None, csrf: bool = True, **kw: Any) -> Any:
        data = dict(data or {}) if not isinstance(data, list) else data
        if csrf:
            token = self.csrf()
            if isinstance(data, list):
                data = [*data, ("csrf_token", token)]
            else:
                data["csrf_token"] = token
        if isinstance(data, list):
            from werkzeug.datastructures import MultiDict

            data = MultiDict(data)
        self._forget_cached_user()
        self._keep_alive()
        return self.client.post(path, data=data, **kw)


def open_case(as_user: Any, situation: str = "living_alone", village: str = "t01v01", **child: Any) -> dict[str, Any]:
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload(situation, village, **child))
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def first_open_task(case_id: int) -> Any:
    import sqlalchemy as sa

    from app.tasks.models import Task

    db.session.expire_all()
    return db.session.scalars(sa.select(Task).where(Task.case_id == case_id, Task.state == "open")
                              .order_by(Task.id)).first()


@contextlib.contextmanager
def serving(server: Any) -> Iterator[str]:
    """Run an HTTP server (werkzeug's or ``http.server``'s) on a thread; its base URL while inside."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def browser_login(browser: Any, base: str, username: str, service_workers: str = "allow",
                  viewport: tuple[int, int] = (1400, 1000)) -> Any:
    """A new browser context signed in as a demo user, on their inbox.

    The context signs in as the login form does, over HTTP from the context itself (Playwright's
    ``context.request`` keeps the context's cookies): it reads the form's CSRF token from ``/login`` and posts
    the form's fields; the app's session and device cookies land in the context. Only the inbox is rendered:
    drawing the sign-in page and the form's submission in Chromium was about half of a browser test's page
    loads (the browser flow signs in four users). The sign-in page itself, typed into in Chromium, is the
    subject of the accessibility, offline and installable tests, which sign in through it.

    The test's own session is committed first: on SQLite a read transaction left open by an API call made
    from the test would hold the database's shared lock, and the server thread's sign-in could not commit.
    ``service_workers="block"`` (Playwright's option: the page's ``register`` does nothing) is for tests that
    are not about the installable app or offline use: every signed-in page otherwise installs the offline
    worker, whose script, Workbox and precached pages were 90 of the browser flow's 242 requests.
    """
    from flask import has_app_context

    if has_app_context():
        db.session.commit()
    width, height = viewport
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height},
                                  timezone_id="Asia/Shanghai", service_workers=service_workers)
    context.set_default_timeout(15_000)
    home = _sign_in(context, base, username)
    page = context.new_page()
    page.goto(urljoin(base, home))
    page.wait_for_url(re.compile(r".*/inbox.*"))
    return page


def _sign_in(context: Any, base: str, username: str) -> str:
    """Posts the sign-in form's fields from ``context`` (with the token its page gave); where the app sends
    the user next."""
    form = context.request.get(f"{base}/login")
    assert form.ok, form.status
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text())
    assert token, "no CSRF token on the sign-in page"
    signed_in = context.request.post(f"{base}/login", max_redirects=0, form={
        "csrf_token": token.group(1), "next": "", "username": username, "password": DEMO_PASSWORD})
    assert signed_in.status == 302, (signed_in.status, username)
    return str(signed_in.headers["location"])


def evaluate_until(page: Any, script: str, ready: Any, seconds: float = 15) -> Any:
    """``page.evaluate(script)`` polled every 100 ms until ``ready(value)`` holds; the value (an assertion
    naming the last value after ``seconds``). For state a page keeps asynchronously (IndexedDB, the
    service worker's caches), which no locator can wait for."""
    deadline = time.monotonic() + seconds
    while True:
        value = page.evaluate(script)
        if ready(value):
            return value
        assert time.monotonic() < deadline, value
        page.wait_for_timeout(100)
