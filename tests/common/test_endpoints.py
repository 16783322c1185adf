"""The one endpoint pattern (issue 12 part 5): ``@blp.endpoint`` on every operation, flask-smorest pagination
with the answer's shape unchanged, role refusals before any parsing, one transaction per call."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import submit_report

from app.extensions import db

METHODS = ("get", "post", "put", "patch", "delete")


def test_every_api_operation_goes_through_the_endpoint_decorator(app: Flask) -> None:
    bare = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("api-docs"):
            continue
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        assert view_class is not None, f"{rule.rule} is not a MethodView"
        if getattr(view_class, "client_authenticated", False):
            assert rule.rule == "/api/v1/oauth/token"  # the client's credentials, not a bearer token (RFC 6749)
            continue
        for method in METHODS:
            function = getattr(view_class, method, None)
            if function is not None and not getattr(function, "_bearer_required", False):
                bare.append(f"{method.upper()} {rule.rule}")
    assert bare == []


@pytest.fixture
def police(as_user: Any) -> Any:
    for n, village in enumerate(("t01v01", "t01v02", "t01v01")):
        submit_report(as_user("reporter_school"), "living_alone", village, name=f"测试{n}",
                      id_number=f"37000020150601001{n}")
    return as_user("police_t01")


def test_a_page_keeps_its_body_shape_and_sends_no_pagination_header(police: Any) -> None:
    everything = police.get("/api/v1/tasks").get_json()
    assert everything["page"] == 1 and everything["per_page"] == 50 and everything["total"] >= 2
    resp = police.get("/api/v1/tasks", query_string={"per_page": 1, "page": 2})
    assert resp.status_code == 200
    assert "X-Pagination" not in resp.headers
    body = resp.get_json()
    assert set(body) == {"items", "total", "more", "page", "per_page"}
    assert (body["page"], body["per_page"], body["total"]) == (2, 1, everything["total"])
    assert [t["id"] for t in body["items"]] == [everything["items"][1]["id"]]
    past = police.get("/api/v1/tasks", query_string={"page": 99}).get_json()
    assert past["items"] == [] and past["total"] == everything["total"]


@pytest.mark.parametrize("query", [{"per_page": 0}, {"per_page": 501}, {"page": 0}, {"page": 10**7},
                                   {"per_page": "many"}])
def test_bad_paging_is_422(police: Any, query: dict[str, Any]) -> None:
    resp = police.get("/api/v1/tasks", query_string=query)
    assert resp.status_code == 422, resp.get_json()
    assert next(iter(query)) in resp.get_json()["errors"]["query"]


def test_the_document_names_each_paging_parameter_once_with_its_cap(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, default in (("/api/v1/tasks", 50), ("/api/v1/duties/cycles", 100), ("/api/v1/dashboard/tasks", 50)):
        params = [p for p in doc["paths"][path]["get"]["parameters"] if p["in"] == "query"]
        names = [p["name"] for p in params]
        assert names.count("page") == 1 and names.count("per_page") == 1, (path, names)
        per_page = next(p for p in params if p["name"] == "per_page")["schema"]
        assert (per_page["maximum"], per_page["default"]) == (500, default)
        assert "X-Pagination" not in doc["paths"][path]["get"]["responses"]["200"].get("headers", {})


def test_a_role_refusal_comes_before_the_query_is_judged(as_user: Any) -> None:
    resp = as_user("police_t01").get("/api/v1/dashboard/tasks", query_string={"per_page": 0})
    assert resp.status_code == 403
    assert resp.get_json()["message"] == "the dashboard is for county coordinators and admins"


def test_a_refused_call_commits_nothing_a_successful_one_commits_once(as_user: Any) -> None:
    from app.cases.models import Case

    reporter = as_user("reporter_school")
    bad = reporter.post("/api/v1/reports", json={"situation": "living_alone"})
    assert bad.status_code == 422
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    submit_report(reporter)
    db.session.rollback()  # what another connection sees: committed, not merely flushed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
