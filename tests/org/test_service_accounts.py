"""Service accounts (issue 16 part 4): client credentials for short-lived scoped tokens, RFC 6749 errors,
scopes checked on every operation, audited as the account, rotated and revoked by administrators."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import report_payload

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.models import ApiToken, ServiceAccount, Unit

TOKEN_URL = "/api/v1/oauth/token"


def _unit(kind: str = "youth_league") -> Unit:
    unit = db.session.scalars(sa.select(Unit).where(Unit.kind == kind).order_by(Unit.id)).first()
    assert unit is not None
    return unit


def _create(as_user: Any, scopes: list[str], name: str = "12355 hotline") -> dict[str, Any]:
    resp = as_user("admin").post("/api/v1/service-accounts",
                                 json={"name": name, "unit_id": _unit().id, "scopes": scopes})
    assert resp.status_code == 201, resp.get_json()
    return dict(resp.get_json())


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def _token(client: Any, account: dict[str, Any], **extra: str) -> Any:
    return client.post(TOKEN_URL, data={"grant_type": "client_credentials", **extra},
                       headers=_basic(account["client_id"], account["client_secret"]))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_secret_is_shown_once_and_stored_only_as_its_hash(as_user: Any) -> None:
    account = _create(as_user, ["reports:file"])
    assert account["client_id"].startswith("svc_") and account["client_secret"].startswith("lds_")
    assert account["scopes"] == ["reports:file"] and account["state"] == "active"
    row = db.session.get(ServiceAccount, account["id"])
    assert row is not None
    assert row.secret_hash == hashlib.sha256(account["client_secret"].encode()).hexdigest()
    listed = as_user("admin").get("/api/v1/service-accounts").get_json()["items"]
    assert [a["client_id"] for a in listed] == [account["client_id"]]
    assert "client_secret" not in listed[0]
    assert row.user.password_hash is None and row.user.unit_id == _unit().id  # it cannot sign in to pages


def test_a_client_gets_a_short_lived_token_by_form_with_basic_or_by_json(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["reports:file", "cases:read"])
    resp = _token(client, account)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "cases:read reports:file"
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    as_json = client.post(TOKEN_URL, json={"grant_type": "client_credentials", "client_id": account["client_id"],
                                           "client_secret": account["client_secret"], "scope": "reports:file"})
    assert as_json.status_code == 200 and as_json.get_json()["scope"] == "reports:file"
    row = db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert row is not None and row.scopes == "reports:file"
    assert row.expires_at - row.created_at == __import__("datetime").timedelta(hours=1)  # type: ignore[operator]


def test_a_token_ends_after_its_hour(client: Any, as_user: Any, clock: Any) -> None:
    account = _create(as_user, ["reports:file"])
    token = _token(client, account).get_json()["access_token"]
    assert client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token)).status_code == 201
    clock.advance(hours=1)
    assert client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token)).status_code == 401


@pytest.mark.parametrize(("send", "status", "error"), [
    ({"data": {"client_id": "x", "client_secret": "y"}}, 400, "invalid_request"),
    ({"data": {"grant_type": "password", "client_id": "x", "client_secret": "y"}}, 400, "unsupported_grant_type"),
    ({"data": {"grant_type": "client_credentials", "client_id": "svc_nobody", "client_secret": "y"}}, 401,
     "invalid_client"),
    ({"data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
    ({"json": ["grant_type"]}, 400, "invalid_request"),
    ({"json": {"grant_type": "client_credentials", "client_id": 7, "client_secret": None}}, 400, "invalid_request"),
    ({"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic %%%"}}, 401, "invalid_client"),
    ({"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Bearer abc"}}, 401,
     "invalid_client"),
])
def test_bad_token_requests_get_rfc_6749_errors_and_no_token(client: Any, as_user: Any, send: dict[str, Any],
                                                            status: int, error: str) -> None:
    before = db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken))
    resp = client.post(TOKEN_URL, **send)
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"] == error and body["error_description"] and body["message"]
    assert (body["code"], body["status"]) == (status, {400: "Bad Request", 401: "Unauthorized"}[status])
    assert resp.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == before


def test_a_wrong_secret_a_scope_not_granted_and_two_ways_of_authenticating_are_refused(
        client: Any, as_user: Any) -> None:
    account = _create(as_user, ["reports:file"])
    wrong = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        headers=_basic(account["client_id"], account["client_secret"] + "x"))
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "invalid_client")
    scope = _token(client, account, scope="reports:file cases:read")
    assert (scope.status_code, scope.get_json()["error"]) == (400, "invalid_scope")
    assert "cases:read" in scope.get_json()["error_description"]
    both = _token(client, account, client_secret=account["client_secret"])
    assert (both.status_code, both.get_json()["error"]) == (400, "invalid_request")


PEOPLE_ONLY_AND_OTHER_SCOPES = [
    ("get", "/api/v1/tasks"), ("get", "/api/v1/me"), ("get", "/api/v1/tokens"), ("get", "/api/v1/children"),
    ("get", "/api/v1/cases"), ("get", "/api/v1/me/reports"), ("get", "/api/v1/service-accounts"),
    ("post", "/api/v1/conferences"), ("get", "/api/v1/dashboard/tasks"), ("get", "/api/v1/duties/cycles"),
    ("get", "/api/v1/notifications"), ("post", "/api/v1/notifications/read"), ("get", "/api/v1/units"),
    ("get", "/api/v1/department-kinds"), ("get", "/api/v1/children/1"),
]


def test_a_lookups_account_reads_the_organisation_and_no_child(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["lookups:read"])
    token = _token(client, account).get_json()["access_token"]
    units = client.get("/api/v1/units", headers=_bearer(token), query_string={"kind": "police"})
    assert units.status_code == 200 and units.get_json()["total"] > 0
    assert client.get("/api/v1/regions/t01", headers=_bearer(token)).status_code == 200
    assert client.get("/api/v1/children", headers=_bearer(token)).status_code == 403


def test_a_notifications_account_reads_its_own_notes(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["notifications:read"])
    token = _token(client, account).get_json()["access_token"]
    listed = client.get("/api/v1/notifications", headers=_bearer(token))
    assert listed.status_code == 200, listed.get_json()
    assert client.post("/api/v1/notifications/read", headers=_bearer(token)).status_code == 200
    assert client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token)).status_code == 403


def test_a_reports_only_account_files_a_report_and_nothing_else(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["reports:file"])
    token = _token(client, account).get_json()["access_token"]
    filed = client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token))
    assert filed.status_code == 201, filed.get_json()
    case_id = filed.get_json()["case_id"]
    refused = [*PEOPLE_ONLY_AND_OTHER_SCOPES, ("get", f"/api/v1/cases/{case_id}"),
               ("get", f"/api/v1/cases/{case_id}/timeline")]
    for method, path in refused:
        # a body the operation would refuse does not matter: the scope is judged first
        resp = getattr(client, method)(path, headers=_bearer(token), query_string={"per_page": 0},
                                       **({"json": {"bad": 1}} if method == "post" else {}))
        assert resp.status_code == 403, (path, resp.get_data(as_text=True))
        body = resp.get_json()
        assert body["code"] == 403 and "scope" in body["message"] or "people only" in body["message"], body


def test_a_scoped_account_reads_what_its_unit_may_and_is_audited_as_itself(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["reports:file", "cases:read"])
    token = _token(client, account).get_json()["access_token"]
    filed = client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token)).get_json()
    user_id = db.session.get(ServiceAccount, account["id"]).user_id  # type: ignore[union-attr]
    # need to know still applies: a case someone else reported, where its unit (the youth league) has no task
    other = as_user("reporter_school").post("/api/v1/reports", json=report_payload()).get_json()
    assert client.get(f"/api/v1/cases/{other['case_id']}", headers=_bearer(token)).status_code == 403
    assert client.get(f"/api/v1/cases/{filed['case_id']}", headers=_bearer(token)).status_code == 200
    assert client.get("/api/v1/cases", headers=_bearer(token)).status_code == 200
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.user_id == user_id)
                              .order_by(AuditEvent.id)).all()
    assert rows[0].action == "token_issue" and rows[0].detail == {"scopes": ["cases:read", "reports:file"]}
    cases = {r.case_id for r in rows[1:]} - {None}  # None: the search, audited with its terms
    assert cases == {filed["case_id"]}  # the report and the case read, as the account; not the refused one


def test_rotating_stops_the_old_secret_and_its_tokens(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["reports:file"])
    token = _token(client, account).get_json()["access_token"]
    rotated = as_user("admin").post(f"/api/v1/service-accounts/{account['id']}/rotate")
    assert rotated.status_code == 200
    new = rotated.get_json()
    assert new["client_id"] == account["client_id"] and new["client_secret"] != account["client_secret"]
    assert _token(client, account).status_code == 401
    assert client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token)).status_code == 401
    fresh = _token(client, new).get_json()["access_token"]
    assert client.post("/api/v1/reports", json=report_payload(), headers=_bearer(fresh)).status_code == 201


def test_revoking_stops_the_account_for_good(client: Any, as_user: Any) -> None:
    account = _create(as_user, ["reports:file"])
    token = _token(client, account).get_json()["access_token"]
    admin = as_user("admin")
    assert admin.post(f"/api/v1/service-accounts/{account['id']}/revoke").get_json()["state"] == "revoked"
    assert admin.post(f"/api/v1/service-accounts/{account['id']}/revoke").status_code == 200  # idempotent
    assert client.post("/api/v1/reports", json=report_payload(), headers=_bearer(token)).status_code == 401
    assert _token(client, account).get_json()["error"] == "invalid_client"
    assert admin.post(f"/api/v1/service-accounts/{account['id']}/rotate").status_code == 409
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "service_account",
                                                                    AuditEvent.object_id == str(account["id"])))
    assert {"service_account_create", "token_issue", "service_account_revoke"} <= set(actions)


@pytest.mark.parametrize("body", [
    {"name": "x", "unit_id": 2**70, "scopes": ["reports:file"]},
    {"name": "x", "unit_id": 999999, "scopes": ["reports:file"]},
    {"name": "x", "unit_id": 1, "scopes": ["everything"]},
    {"name": "x", "unit_id": 1, "scopes": []},
    {"name": "", "unit_id": 1, "scopes": ["reports:file"]},
    {"name": "x" * 81, "unit_id": 1, "scopes": ["reports:file"]},
])
def test_a_bad_account_is_422_and_creates_nothing(as_user: Any, body: dict[str, Any]) -> None:
    resp = as_user("admin").post("/api/v1/service-accounts", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceAccount)) == 0


def test_only_administrators_manage_service_accounts(as_user: Any) -> None:
    resp = as_user("coordinator").post("/api/v1/service-accounts",
                                       json={"name": "x", "unit_id": 1, "scopes": ["reports:file"]})
    assert resp.status_code == 403
    assert as_user("police_t01").get("/api/v1/service-accounts").status_code == 403


def test_the_document_shows_each_operations_scope(client: Any, app: Flask) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    scheme = doc["components"]["securitySchemes"]["serviceAccount"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == TOKEN_URL
    assert "reports:file" in scheme["flows"]["clientCredentials"]["scopes"]
    assert doc["paths"]["/api/v1/reports"]["post"]["security"] == [{"bearerAuth": []},
                                                                   {"serviceAccount": ["reports:file"]}]
    assert doc["paths"]["/api/v1/tasks"]["get"]["security"] == [{"bearerAuth": []}]
    token = doc["paths"][TOKEN_URL]["post"]
    assert token["security"] == [] and {"200", "400", "401"} <= set(token["responses"])
    assert set(token["requestBody"]["content"]) == {"application/x-www-form-urlencoded", "application/json"}


def test_the_page_creates_an_account_shows_its_secret_once_rotates_and_revokes(page: Any, client: Any) -> None:
    admin = page("admin")
    created = admin.post("/admin/service-accounts", data={"name": "学校信息系统", "unit_id": str(_unit().id),
                                                          "scopes": ["reports:file", "lookups:read"]})
    assert created.status_code == 201
    row = db.session.scalars(sa.select(ServiceAccount)).one()
    html = created.get_data(as_text=True)
    secret = html.split("data-secret>")[1].split("<")[0]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in admin.get("/admin/service-accounts").get_data(as_text=True)  # shown once
    assert _token(client, {"client_id": row.client_id, "client_secret": secret}).status_code == 200
    refused = admin.post("/admin/service-accounts", data={"name": "学校信息系统", "unit_id": "x", "scopes": ["no"]})
    assert refused.status_code == 422 and db.session.scalar(sa.select(sa.func.count()).select_from(ServiceAccount)) == 1
    assert page("coordinator").post(f"/admin/service-accounts/{row.id}/rotate").status_code == 403
    rotated = admin.post(f"/admin/service-accounts/{row.id}/rotate")
    assert rotated.status_code == 200
    new_secret = rotated.get_data(as_text=True).split("data-secret>")[1].split("<")[0]
    assert new_secret != secret
    assert _token(client, {"client_id": row.client_id, "client_secret": secret}).status_code == 401
    assert admin.post(f"/admin/service-accounts/{row.id}/revoke").status_code == 302
    assert _token(client, {"client_id": row.client_id, "client_secret": new_secret}).status_code == 401
    assert admin.post("/admin/service-accounts/999999/revoke").status_code == 404


def test_the_cli_creates_lists_rotates_and_revokes(app: Flask, client: Any, demo: Any) -> None:
    runner = app.test_cli_runner()
    made = runner.invoke(args=["service-accounts", "create", "12355", "--unit", str(_unit().id),
                               "--scope", "reports:file"])
    assert made.exit_code == 0, made.output
    fields = dict(line.split(None, 1) for line in made.output.splitlines())
    account = {"client_id": fields["client_id"], "client_secret": fields["client_secret"]}
    assert _token(client, account).status_code == 200
    listed = runner.invoke(args=["service-accounts", "list"])
    assert fields["client_id"] in listed.output and fields["client_secret"] not in listed.output
    assert runner.invoke(args=["service-accounts", "create", "12355", "--unit", str(_unit().id),
                               "--scope", "reports:file"]).exit_code == 1  # the name is taken
    assert runner.invoke(args=["service-accounts", "rotate", fields["id"]]).exit_code == 0
    assert _token(client, account).status_code == 401
    assert runner.invoke(args=["service-accounts", "revoke", fields["id"]]).exit_code == 0
    assert runner.invoke(args=["service-accounts", "revoke", "424242"]).exit_code == 1


def test_the_created_and_rotated_account_is_the_listed_one_with_its_secret(as_user: Any) -> None:
    """Pinned key by key: ``ServiceAccountSecretOut`` dumps the account with the secret beside it."""
    account = _create(as_user, ["cases:read", "reports:file"])
    secret = account.pop("client_secret")
    assert set(account) == {"id", "name", "client_id", "username", "unit_id", "scopes", "state", "created_at",
                            "rotated_at", "revoked_at"}
    assert (account["name"], account["unit_id"], account["scopes"], account["state"], account["rotated_at"]) == (
        "12355 hotline", _unit().id, ["cases:read", "reports:file"], "active", None)
    listed = as_user("admin").get("/api/v1/service-accounts").get_json()["items"]
    assert listed == [account]
    rotated = as_user("admin").post(f"/api/v1/service-accounts/{account['id']}/rotate").get_json()
    assert rotated["client_secret"] != secret and rotated["rotated_at"] is not None
    assert {**rotated, "rotated_at": None, "client_secret": secret} == {**account, "client_secret": secret}
