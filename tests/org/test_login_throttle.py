"""Login throttling: guessing is slowed down (429 + Retry-After, a growing wait) without locking the real
user out, and unknown and known user names cost the same work."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from test_sessions import PASSWORD, _csrf, forget, sign_in

from app.extensions import db, limiter


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    limiter.reset()


def attempt(app: Flask, username: str, password: str, address: str, client: FlaskClient | None = None) -> Any:
    client = client or app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    data = {"username": username, "password": password, "csrf_token": _csrf(client)}
    forget()
    return client.post("/login", data=data)


def test_guessing_one_account_gets_429_but_the_real_user_signs_in_elsewhere(app: Flask, demo: Any) -> None:
    for _ in range(5):
        resp = attempt(app, "police_t01", "guess-wrong", "203.0.113.9")
        assert resp.status_code == 200 and "Retry-After" not in resp.headers
    blocked = attempt(app, "police_t01", PASSWORD, "203.0.113.9")  # even the right password waits now
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert "<html" in blocked.get_data(as_text=True)  # a page, not a bare error
    assert attempt(app, "police_t01", PASSWORD, "198.51.100.7").status_code == 302  # the real user, elsewhere
    assert attempt(app, "police_t02", PASSWORD, "203.0.113.9").status_code == 302  # other accounts there


def test_the_wait_grows_with_each_tier(app: Flask, demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # the first tier's window is wide enough that three attempts (each a password hash) fit in it on a busy machine
    monkeypatch.setattr(app.config["LIANDONG"], "login_limit_per_attempt", "2 per 6 seconds; 4 per 1 hour")
    for _ in range(2):
        assert attempt(app, "police_t01", "nope-nope", "203.0.113.9").status_code == 200
    first = attempt(app, "police_t01", "nope-nope", "203.0.113.9")
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= 7
    time.sleep(6.1)
    for _ in range(2):
        assert attempt(app, "police_t01", "nope-nope", "203.0.113.9").status_code == 200
    second = attempt(app, "police_t01", "nope-nope", "203.0.113.9")
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 600


def test_only_failures_count(app: Flask, demo: Any) -> None:
    for _ in range(8):  # a busy office behind one address signing in all morning
        assert attempt(app, "police_t01", PASSWORD, "192.0.2.1").status_code == 302


def test_spraying_many_accounts_from_one_address(app: Flask, demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.config["LIANDONG"], "login_limit_per_address", "4 per minute")
    for name in ("police_t01", "police_t02", "township_t01", "no_such_user"):
        assert attempt(app, name, "Password1", "203.0.113.50").status_code == 200
    assert attempt(app, "education_c01", "Password1", "203.0.113.50").status_code == 429
    assert attempt(app, "education_c01", PASSWORD, "198.51.100.50").status_code == 302


def test_many_addresses_against_one_account_spare_a_browser_it_used_before(
        app: Flask, demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.config["LIANDONG"], "login_limit_per_account", "6 per hour")
    own_browser = sign_in(app, "police_t01", "192.0.2.10")  # signed in here before: has the device cookie
    forget()
    own_browser.post("/logout", data={"csrf_token": _csrf(own_browser)})
    for i in range(6):  # a botnet, one guess per address
        assert attempt(app, "police_t01", "guess-guess", f"203.0.113.{100 + i}").status_code == 200
    assert attempt(app, "police_t01", PASSWORD, "198.51.100.99").status_code == 429  # a new browser waits
    assert attempt(app, "police_t01", PASSWORD, "192.0.2.10", client=own_browser).status_code == 302
    assert attempt(app, "police_t02", PASSWORD, "198.51.100.99").status_code == 302


def test_unknown_inactive_and_known_names_all_verify_one_hash(app: Flask, demo: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import extract_parameters

    from app.org import operations
    from app.org.queries import user_by_username

    verified: list[str] = []
    real = operations._hasher()

    class Spy:
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return real.verify(hash_, password)

        def hash(self, password: str) -> str:
            return real.hash(password)

    monkeypatch.setattr(operations, "_hasher", Spy)
    inactive = user_by_username("township_t01")
    inactive.active = False  # type: ignore[union-attr]
    db.session.commit()
    bodies = {}
    for name, password in (("police_t01", "wrong-password"), ("nobody_here", "wrong-password"),
                           ("township_t01", PASSWORD), ("", "x")):
        verified.clear()
        resp = attempt(app, name, password, "192.0.2.77")
        assert resp.status_code == 200
        assert len(verified) == 1, name  # exactly one argon2 verification, whoever asks
        bodies[name] = re.sub(r'"X-CSRFToken": "[^"]+"|value="[^"]*"', "", resp.get_data(as_text=True))
        params = extract_parameters(verified[0])
        genuine = extract_parameters(user_by_username("police_t01").password_hash)  # type: ignore[union-attr, arg-type]
        assert (params.time_cost, params.memory_cost, params.parallelism) == \
            (genuine.time_cost, genuine.memory_cost, genuine.parallelism)
    assert bodies["police_t01"] == bodies["nobody_here"] == bodies["township_t01"]


def test_refused_bearer_tokens_get_429_with_retry_after(app: Flask, client: FlaskClient, as_user: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.config["LIANDONG"], "token_failure_limit", "3 per minute")
    good = as_user("police_t01")
    bad = {"Authorization": "Bearer ld_guess"}
    env = {"REMOTE_ADDR": "203.0.113.200"}
    for _ in range(3):
        assert client.get("/api/v1/me", headers=bad, environ_base=env).status_code == 401
    refused = client.get("/api/v1/me", headers=bad, environ_base=env)
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.is_json and refused.get_json()["message"]
    assert client.get("/api/v1/me", headers=good.headers, environ_base=env).status_code == 200
    assert client.get("/api/v1/me", headers=bad, environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 401
