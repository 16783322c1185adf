"""Behind a reverse proxy (``LIANDONG_PROXY_HOPS``): audit rows and the login rate limit see the client the
proxy names in ``X-Forwarded-For``; without the setting they see the peer, whatever the header says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import submit_report
from test_sessions import PASSWORD, _csrf, forget

from app import create_app
from app.audit.models import AuditEvent
from app.extensions import db, limiter

PROXY = "10.0.0.2"
"""The nginx in front of the app: the only peer the app sees when it is deployed behind one."""


@pytest.fixture
def proxied(app: Flask) -> Iterator[Flask]:
    """The session's app again (same database and key), deployed behind one proxy."""
    settings = app.config["LIANDONG"]
    behind = create_app({"database_url": settings.database_url, "instance_dir": settings.instance_dir,
                         "secret_key": "test-secret", "testing": True, "redis_url": None, "inline_loop": False,
                         "proxy_hops": 1, "extra": settings.extra})
    limiter.reset()
    yield behind
    with behind.app_context():
        db.session.remove()
        db.engine.dispose()
    limiter.reset()


def _view_addresses(case_id: int) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditEvent.address).where(
        AuditEvent.case_id == case_id, AuditEvent.action == "view").order_by(AuditEvent.id)))


def _view_case(client: FlaskClient, token_headers: dict[str, str], case_id: int, forwarded: str) -> None:
    resp = client.get(f"/api/v1/cases/{case_id}", headers={**token_headers, "X-Forwarded-For": forwarded},
                      environ_base={"REMOTE_ADDR": PROXY})
    assert resp.status_code == 200, resp.get_json()


def test_audit_rows_name_the_forwarded_client_only_behind_a_configured_proxy(
        app: Flask, proxied: Flask, as_user: Any) -> None:
    case_id = submit_report(as_user("reporter_school"))["case_id"]
    police = as_user("police_t01").headers
    _view_case(app.test_client(), police, case_id, "203.0.113.7")  # no setting: the header is anyone's text
    _view_case(proxied.test_client(), police, case_id, "203.0.113.7")
    # A client's own X-Forwarded-For comes first; the proxy appends the address it saw: that one counts.
    _view_case(proxied.test_client(), police, case_id, "198.51.100.66, 203.0.113.8")
    assert _view_addresses(case_id) == [PROXY, "203.0.113.7", "203.0.113.8"]


def _sign_in(app: Flask, password: str, forwarded: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    data = {"username": "police_t01", "password": password, "csrf_token": _csrf(client)}
    forget()
    return int(client.post("/login", data=data, headers={"X-Forwarded-For": forwarded}).status_code)


def test_login_rate_limit_counts_the_forwarded_client_only_behind_a_configured_proxy(
        app: Flask, proxied: Flask, demo: Any) -> None:
    # Behind the proxy: five guesses from one client; that client waits, another behind the same proxy does not.
    assert [_sign_in(proxied, "guess-wrong", "203.0.113.9") for _ in range(5)] == [200] * 5
    assert _sign_in(proxied, PASSWORD, "203.0.113.9") == 429
    assert _sign_in(proxied, PASSWORD, "198.51.100.7") == 302
    limiter.reset()
    # Without the setting, a guesser cannot shed the limit by writing a new X-Forwarded-For each time.
    assert [_sign_in(app, "guess-wrong", f"203.0.113.{n}") for n in range(5)] == [200] * 5
    assert _sign_in(app, PASSWORD, "198.51.100.8") == 429
