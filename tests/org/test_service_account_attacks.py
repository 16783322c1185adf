"""Hostile review (docs/security.md, "Hostile review of issue 16"): a service account acts for its unit through a
user row with the liaison's role, so nothing may treat that row as a person: no task is handed to it (one by one,
in bulk, or as an absent colleague's substitute), and its token opens no page and no person's operation."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import open_tasks, submit_report
from webhelpers import PageClient

from app.audit.models import AuditEvent
from app.extensions import db, limiter
from app.org.models import Absence, User
from app.org.queries import user_by_username
from app.tasks import operations
from app.tasks.models import Task

HEAD, LIAISON = "police_t01_head", "police_t01"


def _machine(as_user: Any, scopes: list[str]) -> tuple[dict[str, Any], User]:
    unit_id = user_by_username(LIAISON).unit_id  # type: ignore[union-attr]
    resp = as_user("admin").post("/api/v1/service-accounts",
                                 json={"name": "派出所接警系统", "unit_id": unit_id, "scopes": scopes})
    assert resp.status_code == 201, resp.get_json()
    account = resp.get_json()
    user = user_by_username(account["username"])
    assert user is not None
    return account, user


def _token(client: Any, account: dict[str, Any]) -> str:
    resp = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}, headers={
        "Authorization": "Basic " + base64.b64encode(f"{account['client_id']}:{account['client_secret']}".encode()).decode()})
    assert resp.status_code == 200
    return str(resp.get_json()["access_token"])


def test_no_task_is_handed_to_a_service_account_one_by_one_or_in_bulk(as_user: Any) -> None:
    """Before: a unit head could move a step to the unit's machine client, which can never complete it; the step
    sat there while its reminders went to a machine."""
    _, machine = _machine(as_user, ["cases:read", "notifications:read"])
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    [task] = open_tasks(as_user(HEAD))
    bulk = as_user(HEAD).post("/api/v1/tasks/bulk/reassign", json={"tasks": [{"id": task["id"]}],
                                                                   "to_user_id": machine.id})
    assert bulk.status_code == 403 and "to_user_id" in str(bulk.get_json()["errors"])
    row = db.session.get(Task, task["id"])
    assert row is not None and row.assignee_id is None and row.version == task["version"]
    head = user_by_username(HEAD)
    assert head is not None
    try:
        operations.reassign(row, machine, head)
        raise AssertionError("reassigned to a machine")
    except Exception as exc:  # noqa: BLE001 - the refusal's class is the point below
        assert type(exc).__name__ == "Forbidden"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "reassign")) == 0


def test_a_service_account_is_no_substitute_and_an_unknown_id_reads_as_another_units(
        as_user: Any, clock: Any) -> None:
    _, machine = _machine(as_user, ["cases:read"])
    liaison = user_by_username(LIAISON)
    assert liaison is not None
    now = clock.now()

    def away(substitute_id: int) -> Any:
        return as_user(LIAISON).put(f"/api/v1/users/{liaison.id}/absence", json={
            "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
            "substitute_id": substitute_id})

    refused = away(machine.id)
    assert refused.status_code == 422 and "service account" in refused.get_json()["errors"]["json"]["substitute_id"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Absence)) == 0
    unknown, foreign = away(2**31 - 1), away(user_by_username("police_t02").id)  # type: ignore[union-attr]
    assert unknown.status_code == foreign.status_code == 422
    assert unknown.get_json()["errors"] == foreign.get_json()["errors"]  # which ids exist is not told


def test_the_choosers_on_the_inbox_and_absence_pages_list_people_only(as_user: Any, app: Any) -> None:
    _, machine = _machine(as_user, ["cases:read"])
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")  # the inbox offers a chooser with rows
    for path in ("/inbox", "/absence"):
        html = PageClient(app, HEAD).get(path).get_data(as_text=True)
        assert f'value="{machine.id}"' not in html and "派出所接警系统" not in html, path
        assert f'value="{user_by_username(LIAISON).id}"' in html, path  # type: ignore[union-attr]


def test_a_machine_token_opens_no_page_and_no_persons_operation(as_user: Any, client: Any) -> None:
    account, machine = _machine(as_user, ["cases:read", "notifications:read"])
    bearer = {"Authorization": f"Bearer {_token(client, account)}"}
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    case_id = open_tasks(as_user(HEAD))[0]["case_id"]
    for path in ("/inbox", f"/cases/{case_id}", "/notifications", "/absence", "/admin/users"):
        resp = client.get(path, headers=bearer)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path
    for method, path in (("get", "/api/v1/me"), ("get", "/api/v1/tokens"), ("put", f"/api/v1/users/{machine.id}/absence"),
                         ("put", "/api/v1/notification-channels/preferences"), ("post", "/api/v1/saved-views"),
                         ("post", "/api/v1/tasks/bulk/claim")):
        resp = getattr(client, method)(path, headers=bearer, json={})
        assert resp.status_code == 403 and "people only" in resp.get_json()["message"], (method, path)
    assert client.get(f"/api/v1/cases/{case_id}", headers=bearer).status_code == 200  # what its scope opens


@pytest.fixture
def fresh_limits() -> Any:
    limiter.reset()
    yield
    limiter.reset()


def test_guessing_client_secrets_is_slowed_per_address_right_secret_or_not(
        app: Any, client: Any, as_user: Any, monkeypatch: pytest.MonkeyPatch, fresh_limits: None) -> None:
    """Before: the token endpoint answered every wrong secret 401 at full speed (the secret's 256 bits make a hit
    hopeless, but nothing else on the API takes guesses unthrottled)."""
    monkeypatch.setattr(app.config["LIANDONG"], "token_failure_limit", "3 per minute")
    account, _ = _machine(as_user, ["lookups:read"])
    env = {"REMOTE_ADDR": "203.0.113.9"}

    def ask(secret: str, environ: dict[str, str]) -> Any:
        return client.post("/api/v1/oauth/token", environ_base=environ, data={
            "grant_type": "client_credentials", "client_id": account["client_id"], "client_secret": secret})

    assert [ask(f"lds_guess{i}", env).status_code for i in range(3)] == [401, 401, 401]
    slowed = ask(account["client_secret"], env)  # over the limit: the right secret is not even checked
    assert slowed.status_code == 429 and 1 <= int(slowed.headers["Retry-After"]) <= 60
    assert slowed.get_json()["error"] == "invalid_client" and slowed.get_json()["code"] == 429
    assert ask(account["client_secret"], {"REMOTE_ADDR": "198.51.100.7"}).status_code == 200  # another address
    issued = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "token_issue"))
    assert issued == 1


def test_an_admin_cannot_turn_a_service_accounts_user_into_a_person_or_widen_it(
        as_user: Any, app: Any, clock: Any) -> None:
    """Before: the users page reset the machine's password (it then signed in to pages as a liaison, acting under
    the account's name) and changed its roles (a coordinator's role would have opened the whole county to its
    `cases:read` token)."""
    account, machine = _machine(as_user, ["cases:read"])
    admin = PageClient(app, "admin")
    reset = admin.post(f"/admin/users/{machine.id}/password", data={"password": "a-long-password-1"})
    assert reset.status_code == 409
    changed = admin.post(f"/admin/users/{machine.id}", data={
        "display_name": "x", "roles": ["county_coordinator"], "unit_id": str(machine.unit_id or ""),
        "region_id": "", "active": "1"})
    assert changed.status_code == 409
    db.session.expire_all()
    row = db.session.get(User, machine.id)
    assert row is not None and row.password_hash is None and row.display_name == "派出所接警系统"
    assert sorted(r.value for r in row.roles) == ["liaison", "reporter"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(["password_reset", "user_update"]))) == 0
    person = user_by_username(LIAISON)
    assert admin.post(f"/admin/users/{person.id}/password",  # type: ignore[union-attr]
                      data={"password": "a-long-password-1"}).status_code == 302  # people as before
