"""Sessions that can be cut off: sign-out, password reset, deactivation, access change, idle and absolute
lifetimes. Every browser here signs in through ``/login`` as a person would, then replays its cookie."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db, limiter
from app.org.queries import user_by_username

PASSWORD = "liandong-demo"


def forget() -> None:
    """The client's requests reuse the test's app context, where per-request caches live."""
    from flask import g

    for key in ("_login_user", "_flask_babel", "csrf_token", "login_failed"):
        g.pop(key, None)


def _csrf(client: FlaskClient) -> str:
    forget()
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login", follow_redirects=True).get_data(as_text=True))
    assert match
    return match.group(1)


def sign_in(app: Flask, username: str, address: str = "10.1.0.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    data = {"username": username, "password": PASSWORD, "csrf_token": _csrf(client)}
    forget()
    resp = client.post("/login", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert signed_in(client)
    return client


def signed_in(client: FlaskClient) -> bool:
    forget()
    resp = client.get("/inbox")
    return resp.status_code == 200


def copy_cookies(source: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding a stolen copy of ``source``'s cookies."""
    thief = app.test_client()
    for cookie in source._cookies.values():
        thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return thief


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app: Flask, demo: Any) -> None:
    from app.org.operations import issue_token

    limiter.reset()
    token = issue_token(user_by_username("police_t01"))  # type: ignore[arg-type]
    db.session.commit()
    api = app.test_client()
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    browser = sign_in(app, "police_t01")
    stolen = copy_cookies(browser, app)
    other_browser = sign_in(app, "police_t01", "10.1.0.2")
    assert signed_in(stolen)
    data = {"csrf_token": _csrf(browser)}
    forget()
    resp = browser.post("/logout", data=data)
    assert resp.status_code == 302
    assert not signed_in(stolen)  # the cookie replayed after the sign-out
    assert not signed_in(other_browser)  # sign-out ends every session of the user
    forget()
    assert api.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401  # and tokens
    assert signed_in(sign_in(app, "police_t01"))  # signing in again works


def test_password_reset_deactivation_and_access_change_end_sessions(app: Flask, demo: Any, page: Any) -> None:
    limiter.reset()
    admin = page("admin")
    victims = {name: sign_in(app, name) for name in ("police_t01", "township_t01", "education_c01", "health_c01")}
    bystander = sign_in(app, "police_t02")
    ids = {name: user_by_username(name).id for name in victims}  # type: ignore[union-attr]

    admin.post(f"/admin/users/{ids['police_t01']}/password", {"password": "a-brand-new-one"})
    township = user_by_username("township_t01")
    admin.post(f"/admin/users/{ids['township_t01']}", [  # same everything, but no longer active
        ("display_name", township.display_name), ("roles", "liaison"),  # type: ignore[union-attr]
        ("unit_id", str(township.unit_id))])  # type: ignore[union-attr]
    education = user_by_username("education_c01")
    admin.post(f"/admin/users/{ids['education_c01']}", [  # a role added
        ("display_name", education.display_name), ("roles", "liaison"), ("roles", "unit_head"),  # type: ignore[union-attr]
        ("unit_id", str(education.unit_id)), ("active", "1")])  # type: ignore[union-attr]
    health = user_by_username("health_c01")
    admin.post(f"/admin/users/{ids['health_c01']}", [  # only the display name: not an access change
        ("display_name", "新名字"), ("roles", "liaison"), ("unit_id", str(health.unit_id)),  # type: ignore[union-attr]
        ("region_id", str(health.region_id)), ("active", "1")])  # type: ignore[union-attr]

    assert not signed_in(victims["police_t01"])
    assert not signed_in(victims["township_t01"])
    assert not signed_in(victims["education_c01"])
    assert signed_in(victims["health_c01"])
    assert signed_in(bystander)


def test_idle_timeout_and_absolute_lifetime(app: Flask, demo: Any, clock: Any) -> None:
    limiter.reset()
    settings = app.config["LIANDONG"]
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)
    idle = sign_in(app, "police_t01")
    clock.advance(minutes=29)
    assert signed_in(idle)  # used within the idle time: goes on
    clock.advance(minutes=31)
    forget()
    resp = idle.get("/inbox")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    forget()
    assert 'role="alert"' in idle.get("/login").get_data(as_text=True)  # the login page says why

    busy = sign_in(app, "police_t01")
    for _ in range(24):  # working all day, never idle for more than 30 minutes
        clock.advance(minutes=29)
        assert signed_in(busy)
    clock.advance(minutes=29)  # 12 h 5 min after sign-in
    assert not signed_in(busy)


def test_lifetimes_are_settings(app: Flask) -> None:
    from app.config import Settings

    settings = Settings.from_env({"LIANDONG_SESSION_IDLE_MINUTES": "15", "LIANDONG_SESSION_MAX_HOURS": "8",
                                  "LIANDONG_TOKEN_TTL_DAYS": "7", "LIANDONG_SECRET_KEY": "x"})
    assert (settings.session_idle_minutes, settings.session_max_hours, settings.token_ttl_days) == (15, 8, 7)


def test_a_session_without_the_stamps_is_not_a_session(app: Flask, demo: Any) -> None:
    """A cookie made before this change (or by hand with the key) carries no epoch: it does not sign in."""
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_by_username("police_t01").id)  # type: ignore[union-attr]
        sess["_fresh"] = True
    assert not signed_in(client)
    db.session.rollback()
