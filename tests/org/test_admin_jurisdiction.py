"""Administrators act inside their jurisdiction (``app.org.jurisdiction``; docs/security.md, "Administrators and
their jurisdiction"): the second county's administrator can neither see nor change the first county's users,
tokens, service accounts and webhook subscribers, nor create any for it or for every county (``*``), nor list
its people's SMS / chat deliveries or the deployment's failed background jobs; a province's administrator
manages both. Objects outside are answered as unknown ids (404, the same body),
choices outside are 403, nothing changes, and every refusal leaves an ``admin_refused`` audit row.

Before the rule, every request below that is refused here was accepted (the hostile review's finding)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.common.clock import now
from app.extensions import db
from app.notifications.models import Delivery, Notification
from app.org.demo import DEMO_PASSWORD
from app.org.models import ApiToken, ServiceAccount, Unit, User
from app.org.operations import create_user, issue_token
from app.org.queries import region_by_code, user_by_username
from app.org.roles import Role
from app.org.service_accounts import create_account
from app.webhooks import operations as webhooks
from app.webhooks.models import WebhookDelivery, WebhookSubscription

HOOK = {"name": "县热线系统", "url": "http://127.0.0.1:9/hook", "kinds": ["report.accepted"]}


@pytest.fixture
def world(demo: Any) -> dict[str, Any]:
    """Administrators of the second county, of the province and of nowhere; what the first county has."""
    for username, code in (("admin_c02", "c02"), ("admin_p01", "p01"), ("admin_nowhere", None)):
        create_user(username, username, DEMO_PASSWORD, {Role.ADMIN}, None, region_by_code(code) if code else None)
    police = user_by_username("police_t01")
    assert police is not None and police.unit is not None
    account, _ = create_account(None, "东城派出所接警系统", police.unit, ["reports:file"])
    c01_hook, _ = webhooks.subscribe(None, county="c01", **HOOK)
    every_hook, _ = webhooks.subscribe(None, county="*", **{**HOOK, "name": "省平台"})
    token = issue_token(police, ttl_days=30)
    db.session.commit()
    return {"police": police, "account": account, "c01_hook": c01_hook, "every_hook": every_hook, "token": token,
            "c01_unit": police.unit, "c02_unit": _unit("police", "t21")}


def _unit(kind: str, code: str) -> Unit:
    region = region_by_code(code)
    assert region is not None
    unit = db.session.scalar(sa.select(Unit).where(Unit.kind == kind, Unit.region_id == region.id))
    assert unit is not None
    return unit


def _refusals(username: str) -> int:
    user = user_by_username(username)
    assert user is not None
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.user_id == user.id, AuditEvent.action == "admin_refused")) or 0)


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _page_text(answer: Any) -> str:
    """A page without its per-request tokens (CSRF) and its own path (the language links name it), to compare
    two answers."""
    return re.sub(r'[\w.-]{40,}|/admin/users/[^"&]*', "", answer.get_data(as_text=True))


def _unit_ids(page_text: str) -> set[str]:
    """The unit ids a form's unit chooser offers."""
    chooser = re.search(r'<select name="unit_id".*?</select>', page_text, re.S)
    assert chooser is not None
    return set(re.findall(r'value="(\d+)"', chooser.group(0)))


def test_a_county_admin_cannot_reach_another_countys_accounts_through_the_api(world: Any, as_user: Any) -> None:
    admin = as_user("admin_c02")
    account, police = world["account"], world["police"]
    accounts, users = _count(ServiceAccount), _count(User)

    refused = admin.post("/api/v1/service-accounts", json={"name": "x", "unit_id": world["c01_unit"].id,
                                                           "scopes": ["reports:file"]})
    assert refused.status_code == 403 and _count(ServiceAccount) == accounts and _count(User) == users
    mine = admin.post("/api/v1/service-accounts", json={"name": "北岭派出所系统", "unit_id": world["c02_unit"].id,
                                                        "scopes": ["reports:file"]})
    assert mine.status_code == 201
    assert [a["id"] for a in admin.get("/api/v1/service-accounts").get_json()["items"]] == [mine.get_json()["id"]]
    assert {a["id"] for a in as_user("admin").get("/api/v1/service-accounts").get_json()["items"]} == {account.id}

    unknown = admin.post("/api/v1/service-accounts/999999/rotate")
    for path in (f"/api/v1/service-accounts/{account.id}/rotate", f"/api/v1/service-accounts/{account.id}/revoke"):
        answer = admin.post(path)
        assert (answer.status_code, answer.get_json()) == (404, unknown.get_json()), path
    db.session.expire_all()
    assert account.revoked_at is None and account.rotated_at is None

    theirs = admin.get("/api/v1/tokens", query_string={"user_id": police.id})
    assert theirs.status_code == 200 and theirs.get_json() == {"items": []}
    assert admin.get("/api/v1/tokens", query_string={"user_id": 999999}).get_json() == {"items": []}
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == police.id).order_by(ApiToken.id.desc()))
    assert token is not None
    assert admin.post(f"/api/v1/tokens/{token.id}/revoke").status_code == 404
    assert admin.post("/api/v1/tokens/999999/revoke").get_json()["message"].lower().startswith("no such token")
    db.session.expire_all()
    assert token.revoked_at is None
    assert len(as_user("admin").get("/api/v1/tokens", query_string={"user_id": police.id}).get_json()["items"]) >= 1
    assert _refusals("admin_c02") == 5


def test_a_county_admin_manages_webhook_subscribers_of_their_county_only(world: Any, as_user: Any) -> None:
    admin, c01_hook, every_hook = as_user("admin_c02"), world["c01_hook"], world["every_hook"]
    subscribers = _count(WebhookSubscription)
    for county in ("c01", "*"):
        assert admin.post("/api/v1/webhooks", json={**HOOK, "county": county}).status_code == 403, county
    assert _count(WebhookSubscription) == subscribers
    mine = admin.post("/api/v1/webhooks", json={**HOOK, "county": "c02"})
    assert mine.status_code == 201
    mine_id = mine.get_json()["subscription"]["id"]
    assert [s["id"] for s in admin.get("/api/v1/webhooks").get_json()["items"]] == [mine_id]
    assert admin.patch(f"/api/v1/webhooks/{mine_id}", json={"county": "c01"}).status_code == 403
    assert admin.patch(f"/api/v1/webhooks/{mine_id}", json={"county": "*"}).status_code == 403

    delivery = WebhookDelivery(subscription_id=c01_hook.id, event_id="evt_x", kind="report.accepted", body="{}",
                               status="delivered", attempts=1, created_at=c01_hook.created_at)
    db.session.add(delivery)
    db.session.commit()
    unknown = admin.get("/api/v1/webhooks/999999").get_json()
    for sub in (c01_hook, every_hook):
        for method, path in (("get", f"/api/v1/webhooks/{sub.id}"), ("patch", f"/api/v1/webhooks/{sub.id}"),
                             ("post", f"/api/v1/webhooks/{sub.id}/secret"),
                             ("get", f"/api/v1/webhooks/{sub.id}/deliveries")):
            answer = getattr(admin, method)(path, **({"json": {"url": "http://127.0.0.1:9/mine"}}
                                                    if method == "patch" else {}))
            assert (answer.status_code, answer.get_json()) == (404, unknown), path
    assert admin.post(f"/api/v1/webhooks/deliveries/{delivery.id}/redeliver").status_code == 404
    db.session.expire_all()
    assert c01_hook.url == HOOK["url"] and delivery.status == "delivered"
    assert as_user("admin").post("/api/v1/webhooks", json={**HOOK, "county": "*"}).status_code == 403
    assert as_user("admin").get(f"/api/v1/webhooks/{every_hook.id}").status_code == 404
    assert _refusals("admin_c02") == 13


def test_a_province_admin_manages_every_county_and_an_admin_of_nowhere_nothing(world: Any, as_user: Any) -> None:
    province = as_user("admin_p01")
    assert province.post("/api/v1/webhooks", json={**HOOK, "county": "*"}).status_code == 201
    assert {world["c01_hook"].id, world["every_hook"].id} <= {
        s["id"] for s in province.get("/api/v1/webhooks").get_json()["items"]}
    assert province.post("/api/v1/service-accounts", json={"name": "y", "unit_id": world["c01_unit"].id,
                                                           "scopes": ["reports:file"]}).status_code == 201
    assert province.get("/api/v1/tokens", query_string={"user_id": world["police"].id}).get_json()["items"]

    nowhere = as_user("admin_nowhere")
    assert nowhere.get("/api/v1/webhooks").get_json()["items"] == []
    assert nowhere.get("/api/v1/service-accounts").get_json()["items"] == []
    assert nowhere.post("/api/v1/webhooks", json={**HOOK, "county": "c01"}).status_code == 403


def test_the_users_pages_list_and_open_only_the_admins_own_people(world: Any, page: Any) -> None:
    admin, police = page("admin_c02"), world["police"]
    listed = admin.get("/admin/users").get_data(as_text=True)
    assert "police_t21" in listed and "police_t01" not in listed and "admin_p01" not in listed
    unknown = admin.get("/admin/users/999999")
    for answer in (admin.get(f"/admin/users/{police.id}"),
                   admin.post(f"/admin/users/{police.id}/password", {"password": "taken-over-1234"}),
                   admin.post(f"/admin/users/{police.id}/sessions/end"),
                   admin.post(f"/admin/users/{police.id}", [("display_name", "x"), ("roles", "admin"),
                                                            ("active", "1")])):
        assert answer.status_code == 404 and _page_text(answer) == _page_text(unknown)
    db.session.expire_all()
    assert police.display_name != "x" and Role.ADMIN not in police.roles

    offered = _unit_ids(admin.get("/admin/users/new").get_data(as_text=True))
    assert str(world["c02_unit"].id) in offered and str(world["c01_unit"].id) not in offered
    users = _count(User)
    for placement in ([("unit_id", str(world["c01_unit"].id))], [("region_id", str(region_by_code("p01").id))],
                      []):
        answer = admin.post("/admin/users/new", [("username", "hijack"), ("password", "first-password"),
                                                 ("display_name", "x"), ("roles", "admin"), ("active", "1"),
                                                 *placement])
        assert answer.status_code == 403, placement
    assert _count(User) == users
    made = admin.post("/admin/users/new", [("username", "police_t21_b"), ("password", "first-password"),
                                           ("display_name", "新联络员"), ("roles", "liaison"), ("active", "1"),
                                           ("unit_id", str(world["c02_unit"].id))])
    assert made.status_code == 302
    mine = user_by_username("police_t21_b")
    assert mine is not None
    moved = admin.post(f"/admin/users/{mine.id}", [("display_name", "x"), ("roles", "liaison"), ("active", "1"),
                                                   ("unit_id", str(world["c01_unit"].id))])
    assert moved.status_code == 403
    db.session.expire_all()
    assert mine.unit_id == world["c02_unit"].id
    assert _refusals("admin_c02") == 8


def test_the_admin_pages_offer_only_what_the_jurisdiction_holds(world: Any, page: Any) -> None:
    admin = page("admin_c02")
    accounts = admin.get("/admin/service-accounts").get_data(as_text=True)
    assert world["account"].name not in accounts and str(world["c01_unit"].id) not in _unit_ids(accounts)
    hooks = admin.get("/admin/webhooks").get_data(as_text=True)
    assert world["c01_hook"].name not in hooks and world["every_hook"].name not in hooks
    form = admin.get("/admin/webhooks/new").get_data(as_text=True)
    assert 'value="*"' not in form and 'value="c01"' not in form and 'value="c02"' in form
    assert admin.get(f"/admin/webhooks/{world['c01_hook'].id}").status_code == 404
    assert 'value="*"' in page("admin_p01").get("/admin/webhooks/new").get_data(as_text=True)


def _delivery_to(username: str) -> int:
    """A queued SMS delivery to ``username`` (its notification's title names no child: the lists never show it)."""
    user = user_by_username(username)
    assert user is not None
    note = Notification(user_id=user.id, kind="conference", title="个案会商", created_at=now())
    db.session.add(note)
    db.session.flush()
    row = Delivery(notification_id=note.id, user_id=user.id, channel="sms", kind="conference", state="queued",
                   created_at=now())
    db.session.add(row)
    db.session.flush()
    return row.id


def test_a_county_admin_lists_the_deliveries_of_their_county_only(world: Any, as_user: Any, page: Any) -> None:
    """``?everyone=`` was every user's deliveries to any administrator; now those of the people they manage."""
    c01, c02 = _delivery_to("police_t01"), _delivery_to("police_t21")
    db.session.commit()
    path = "/api/v1/notification-channels/deliveries"
    for username, seen in (("admin_c02", [c02]), ("admin", [c01]), ("admin_p01", [c02, c01]), ("admin_nowhere", [])):
        listed = as_user(username).get(path, query_string={"everyone": "true"})
        assert listed.status_code == 200 and [d["id"] for d in listed.get_json()["items"]] == seen, username
    assert as_user("admin_c02").get(path, query_string={"everyone": "true", "channel": "sms"}).get_json()[
        "total"] == 1
    c01_user, c02_user = user_by_username("police_t01"), user_by_username("police_t21")
    assert c01_user is not None and c02_user is not None
    shown = page("admin_c02").get("/notifications/channels/deliveries?everyone=1")
    assert shown.status_code == 200
    cells = re.findall(r"<tr><td>(\d+)</td>", shown.get_data(as_text=True))
    assert cells == [str(c02_user.id)]
    cells = re.findall(r"<tr><td>(\d+)</td>", page("admin_p01").get(
        "/notifications/channels/deliveries?everyone=1").get_data(as_text=True))
    assert cells == [str(c02_user.id), str(c01_user.id)]
    assert _refusals("admin_c02") == 0  # a list holds what the jurisdiction holds: nothing was refused


def test_failed_jobs_are_for_an_admin_over_every_county_only(world: Any, as_user: Any) -> None:
    """A failed job names no county to check (docs/security.md): a county's administrator is refused (403,
    audited), a province's reads the registry (here without Redis: nothing can fail, the answer says so)."""
    for username in ("admin_c02", "admin", "admin_nowhere"):
        refused = as_user(username).get("/api/v1/jobs/failed")
        assert refused.status_code == 403 and "全部县" in refused.get_json()["message"], username
    assert _refusals("admin_c02") == 1
    row = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "admin_refused")
                            .order_by(AuditEvent.id.desc()))
    assert row is not None and (row.object_type, row.detail["status"]) == ("failed_jobs", 403)
    allowed = as_user("admin_p01").get("/api/v1/jobs/failed")
    assert (allowed.status_code, allowed.get_json()) == (200, {"redis": False, "items": []})
