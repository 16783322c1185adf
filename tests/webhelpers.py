"""Helpers for page tests: sign in a demo user's browser session, open a case, walk its steps."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from helpers import report_payload

from app.extensions import db, limiter


class PageClient:
    """A browser-like test client signed in as one demo user, with the page's CSRF token."""

    def __init__(self, app: Flask, username: str | None):
        self.client = app.test_client()
        self.username = username
        if username:
            from app.org.queries import user_by_username

            user = user_by_username(username)
            assert user is not None, username
            with self.client.session_transaction() as sess:
                sess["_user_id"] = str(user.id)
                sess["_fresh"] = True

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
        return self.client.get(path, **kw)

    def csrf(self) -> str:
        self._forget_cached_user()
        page = self.client.get("/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, "no CSRF token on the page"
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
        return self.client.post(path, data=data, **kw)


@pytest.fixture
def page(app: Flask, demo: dict[str, Any]) -> Any:
    """``page("police_t01")`` -> a signed-in PageClient; ``page(None)`` -> anonymous."""
    limiter.reset()

    def make(username: str | None) -> PageClient:
        return PageClient(app, username)

    return make


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
