"""Bearer tokens: a 30-day default, last use recorded (at most once a minute), listed and revoked by CLI,
admin page and API, and cut off by a password reset, deactivation or an access change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from app.extensions import db
from app.org.models import ApiToken
from app.org.operations import issue_token, set_password, update_user
from app.org.queries import user_by_username


def _token(username: str, name: str = "cli") -> tuple[str, ApiToken]:
    user = user_by_username(username)
    assert user is not None
    raw = issue_token(user, name=name)
    db.session.commit()
    row = db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == user.id)
                             .order_by(ApiToken.id.desc())).first()
    assert row is not None
    return raw, row


def _me(client: Any, raw: str) -> Any:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})


def test_default_lifetime_is_30_days_and_capped(demo: Any, clock: Any) -> None:
    from app.common.errors import Invalid

    _, row = _token("police_t01")
    assert row.expires_at - row.created_at == timedelta(days=30)  # type: ignore[operator]
    user = user_by_username("police_t01")
    try:
        issue_token(user, ttl_days=10_000)  # type: ignore[arg-type]
    except Invalid:
        pass
    else:
        raise AssertionError("a token beyond token_max_days was issued")


def test_last_used_is_recorded_at_most_once_a_minute(client: Any, demo: Any, clock: Any) -> None:
    from app.common.clock import now

    raw, row = _token("police_t01")
    assert row.last_used_at is None
    first = now()
    assert _me(client, raw).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at == first  # type: ignore[union-attr]
    clock.advance(seconds=30)
    assert _me(client, raw).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at == first  # type: ignore[union-attr]  # not rewritten
    clock.advance(seconds=40)
    assert _me(client, raw).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at == now()  # type: ignore[union-attr]


def test_password_reset_deactivation_and_access_change_revoke_tokens(client: Any, demo: Any) -> None:
    tokens = {name: _token(name)[0] for name in ("police_t01", "township_t01", "education_c01", "health_c01")}
    set_password(user_by_username("police_t01"), "a-brand-new-password")  # type: ignore[arg-type]
    township = user_by_username("township_t01")
    update_user(township, display_name=township.display_name, roles=township.roles,  # type: ignore[union-attr]
                unit=township.unit, region=township.region, active=False)  # type: ignore[union-attr]
    education = user_by_username("education_c01")
    from app.org.roles import Role

    update_user(education, display_name=education.display_name,  # type: ignore[union-attr]
                roles={Role.LIAISON, Role.UNIT_HEAD}, unit=education.unit,  # type: ignore[union-attr]
                region=education.region, active=True)  # type: ignore[union-attr]
    health = user_by_username("health_c01")
    update_user(health, display_name="改名", roles=health.roles, unit=health.unit,  # type: ignore[union-attr]
                region=health.region, active=True)  # type: ignore[union-attr]
    db.session.commit()
    for name in ("police_t01", "township_t01", "education_c01"):
        assert _me(client, tokens[name]).status_code == 401, name
    assert _me(client, tokens["health_c01"]).status_code == 200
    states = {t.user.username: t.revoked_reason for t in db.session.scalars(db.select(ApiToken))}
    assert states == {"police_t01": "password_reset", "township_t01": "deactivated",
                      "education_c01": "access_changed", "health_c01": None}
    township.active = True  # type: ignore[union-attr]  # reactivating does not bring old tokens back
    db.session.commit()
    assert _me(client, tokens["township_t01"]).status_code == 401


def test_tokens_listed_and_revoked_through_the_api(client: Any, demo: Any) -> None:
    raw, row = _token("police_t01", "phone")
    spare, spare_row = _token("police_t01", "laptop")
    admin_raw, _ = _token("admin")
    other_raw, _ = _token("police_t02")
    auth = {"Authorization": f"Bearer {raw}"}
    listed = client.get("/api/v1/tokens", headers=auth).get_json()["items"]
    assert {t["name"] for t in listed} == {"phone", "laptop"}
    assert all("hash" not in key for t in listed for key in t) and all(t["state"] == "active" for t in listed)
    police_id = user_by_username("police_t01").id  # type: ignore[union-attr]
    assert client.get(f"/api/v1/tokens?user_id={police_id}",
                      headers={"Authorization": f"Bearer {other_raw}"}).status_code == 403
    assert client.post(f"/api/v1/tokens/{spare_row.id}/revoke",
                       headers={"Authorization": f"Bearer {other_raw}"}).status_code == 404  # not theirs
    assert client.get("/api/v1/tokens?user_id=99999999999999999999", headers=auth).status_code == 422
    revoked = client.post(f"/api/v1/tokens/{spare_row.id}/revoke", headers=auth)
    assert revoked.status_code == 200 and revoked.get_json()["state"] == "revoked"
    assert _me(client, spare).status_code == 401
    by_admin = client.get(f"/api/v1/tokens?user_id={police_id}", headers={"Authorization": f"Bearer {admin_raw}"})
    assert {t["name"]: t["state"] for t in by_admin.get_json()["items"]} == {"phone": "active", "laptop": "revoked"}
    assert client.post(f"/api/v1/tokens/{row.id}/revoke",
                       headers={"Authorization": f"Bearer {admin_raw}"}).status_code == 200
    assert _me(client, raw).status_code == 401


def test_tokens_listed_and_revoked_by_cli(app: Flask, demo: Any, client: Any) -> None:
    raw, row = _token("police_t01", "sync-job")
    second, _ = _token("police_t01", "other")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["users", "tokens", "police_t01"])
    assert listed.exit_code == 0 and "sync-job" in listed.output and "active" in listed.output
    assert raw not in listed.output and row.token_hash not in listed.output
    revoked = runner.invoke(args=["users", "revoke-token", str(row.id)])
    assert revoked.exit_code == 0 and "revoked 1" in revoked.output, revoked.output
    db.session.expire_all()
    assert _me(client, raw).status_code == 401 and _me(client, second).status_code == 200
    assert "revoked" in runner.invoke(args=["users", "tokens", "police_t01"]).output
    assert runner.invoke(args=["users", "revoke-token", "--user", "police_t01"]).exit_code == 0
    db.session.expire_all()
    assert _me(client, second).status_code == 401
    assert runner.invoke(args=["users", "revoke-token", "424242"]).exit_code == 1
    made = runner.invoke(args=["users", "token", "police_t01", "--days", "7"])
    assert made.exit_code == 0 and made.output.startswith("ld_")
    assert runner.invoke(args=["users", "token", "police_t01", "--days", "9999"]).exit_code == 2


def test_tokens_listed_and_revoked_on_the_admin_page(page: Any, client: Any) -> None:
    raw, row = _token("police_t01", "hotline-bridge")
    admin = page("admin")
    user_id = row.user_id
    body = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "hotline-bridge" in body and f'data-token="{row.id}"' in body
    assert page("coordinator").post(f"/admin/users/{user_id}/tokens/{row.id}/revoke").status_code == 403
    assert admin.post(f"/admin/users/{user_id}/tokens/999999/revoke").status_code == 404
    assert admin.post(f"/admin/users/{user_id}/tokens/{row.id}/revoke").status_code == 302
    assert _me(client, raw).status_code == 401
    police = page("police_t01")
    assert police.get("/inbox").status_code == 200
    assert admin.post(f"/admin/users/{user_id}/sessions/end").status_code == 302
    assert police.get("/inbox").status_code == 302  # signed out everywhere
