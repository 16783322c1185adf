"""Who may call each operation is declared, never implied (issue 16's leftovers, part 1): every endpoint names
the scope a service account's token needs or ``PEOPLE_ONLY``, and the OpenAPI document says which."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import report_payload

from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint
from app.common.scopes import PEOPLE_ONLY_EXTENSION, SCOPES
from app.extensions import db
from app.org.models import Region, Unit

METHODS = ("get", "put", "post", "patch", "delete")


def test_every_api_operation_declares_a_scope_or_people_only(app: Flask, client: Any) -> None:
    undeclared = []
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        if not rule.rule.startswith("/api/") or view_class is None or getattr(view_class, "client_authenticated",
                                                                                False):
            continue  # the document itself, and the token endpoint (the client's credentials, RFC 6749)
        for method in METHODS:
            function = getattr(view_class, method, None)
            if function is not None and getattr(function, "_scope", None) not in {*SCOPES, PEOPLE_ONLY}:
                undeclared.append(f"{method.upper()} {rule.rule}")
    assert undeclared == []

    document = client.get("/api/v1/openapi.json").get_json()
    neither, both, machine = [], [], set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method not in METHODS or op.get("security") == []:
                continue
            scopes = [s["serviceAccount"] for s in op["security"] if "serviceAccount" in s]
            people_only = op.get(PEOPLE_ONLY_EXTENSION) is True
            (both if scopes and people_only else neither if not scopes and not people_only else []).append(path)
            machine.update(scope for listed in scopes for scope in listed)
    assert neither == [] and both == []
    assert machine == set(SCOPES)  # every scope an administrator can grant opens something


def test_an_endpoint_without_a_declaration_fails_at_import() -> None:
    blp = ApiBlueprint("scopeless", __name__)
    with pytest.raises(TypeError):
        blp.endpoint()  # type: ignore[call-arg]  # the missing argument is the point
    for wrong in ("webhooks:everything", None, ""):
        with pytest.raises(ValueError):
            blp.endpoint(scope=wrong)  # type: ignore[arg-type]


def _account(as_user: Any, client: Any, kind: str, region: str, scopes: list[str]) -> dict[str, str]:
    unit = db.session.scalars(sa.select(Unit).join(Region, Region.id == Unit.region_id)
                              .where(Unit.kind == kind, Region.code == region)).one()
    created = as_user("admin").post("/api/v1/service-accounts",
                                    json={"name": f"{kind} system", "unit_id": unit.id, "scopes": scopes})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials",
                                                     "client_id": body["client_id"],
                                                     "client_secret": body["client_secret"]})
    assert token.status_code == 200, token.get_json()
    return {"Authorization": f"Bearer {token.get_json()['access_token']}"}


def test_an_education_system_reads_the_findings_routed_to_its_bureau_and_answers_none(
        as_user: Any, client: Any, clock: Any) -> None:
    body = report_payload(village="t01v01")
    body["report"]["learned_at"] = (clock.now() - timedelta(hours=40)).isoformat()
    case = as_user("reporter_school").post("/api/v1/reports", json=body).get_json()
    finding = as_user("coordinator").post("/api/v1/findings", json={
        "case_id": case["case_id"], "report_id": case["report_id"], "kind": "delayed", "person": "班主任",
        "knew_since": (clock.now() - timedelta(hours=40)).isoformat(), "facts": "周一得知，周三才报告。"}).get_json()

    bureau = _account(as_user, client, "education", "c01", ["findings:read"])
    listed = client.get("/api/v1/findings", headers=bureau)
    assert listed.status_code == 200 and [f["id"] for f in listed.get_json()["items"]] == [finding["id"]]
    assert client.get(f"/api/v1/findings/{finding['id']}", headers=bureau).get_json()["kind"] == "delayed"
    answer = client.post(f"/api/v1/findings/{finding['id']}/answer", json={"response": "已约谈"}, headers=bureau)
    assert answer.status_code == 403 and "people only" in answer.get_json()["message"]
    assert as_user("education_c01").get(f"/api/v1/findings/{finding['id']}").get_json()["response"] is None

    health = _account(as_user, client, "health", "c01", ["findings:read"])  # routed elsewhere: not its business
    assert client.get("/api/v1/findings", headers=health).get_json()["items"] == []
    assert client.get(f"/api/v1/findings/{finding['id']}", headers=health).status_code == 404


ISSUE_16_PEOPLE_ONLY = [
    ("post", "/api/v1/findings"), ("get", "/api/v1/reports/late"), ("get", "/api/v1/saved-views"),
    ("post", "/api/v1/saved-views"), ("get", "/api/v1/notification-channels/preferences"),
    ("put", "/api/v1/notification-channels/preferences"), ("get", "/api/v1/notification-channels/deliveries"),
    ("get", "/api/v1/users/1/absence"), ("put", "/api/v1/users/1/absence"), ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"), ("get", "/api/v1/service-accounts"), ("post", "/api/v1/tasks/bulk/claim"),
]


def test_issue_16s_people_only_operations_refuse_a_token_with_every_scope(as_user: Any, client: Any) -> None:
    everything = _account(as_user, client, "civil_affairs", "c01", sorted(SCOPES))
    for method, path in ISSUE_16_PEOPLE_ONLY:
        resp = getattr(client, method)(path, headers=everything, **({"json": {}} if method != "get" else {}))
        assert resp.status_code == 403 and "people only" in resp.get_json()["message"], (method, path)
