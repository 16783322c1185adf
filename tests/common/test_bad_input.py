"""Bad input gets a clear 4xx, never a 500, and changes nothing (issue 10 part 5)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import report_payload

from app.extensions import db

HUGE = 2**70
"""Beyond 64 bits: SQLite and PostgreSQL both overflow on it."""


def _count(model: Any) -> int:
    db.session.expire_all()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("path", [
    f"/api/v1/cases/{HUGE}", f"/api/v1/tasks/{HUGE}", f"/api/v1/conferences/{HUGE}",
    f"/api/v1/duties/children/{HUGE}", f"/api/v1/processes/drafts/{HUGE}",
    f"/api/v1/processes/test-runs/{HUGE}", f"/api/v1/cases/{2**31}",
])
def test_ids_beyond_the_column_are_not_found_in_api_paths(as_user: Any, path: str) -> None:
    resp = as_user("coordinator").get(path)
    assert resp.status_code == 404, resp.get_data(as_text=True)
    assert resp.get_json()["message"]


@pytest.mark.parametrize("path", [f"/cases/{HUGE}", f"/tasks/{HUGE}", f"/conferences/{HUGE}",
                                  f"/attachments/{HUGE}", f"/notifications/{HUGE}"])
def test_ids_beyond_the_column_are_not_found_on_pages(page: Any, path: str) -> None:
    resp = page("coordinator").get(path)
    assert resp.status_code == 404, resp.status_code


def test_huge_ids_in_bodies_and_filters_are_refused(as_user: Any) -> None:
    api = as_user("coordinator")
    for query in ({"case_id": HUGE}, {"unit_id": HUGE}, {"page": HUGE}, {"due_within_hours": "1e308"}):
        resp = api.get("/api/v1/tasks", query_string=query)
        assert resp.status_code == 422, (query, resp.get_data(as_text=True))
    resp = api.post("/api/v1/conferences", json={"case_id": HUGE, "scheduled_at": "2026-03-12T10:00:00+08:00",
                                                  "reason": "x"})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    body = report_payload()
    body["child"] = {"id": HUGE}
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    resp = api.get("/api/v1/dashboard/tasks", query_string={"township": HUGE})
    assert resp.status_code == 422, resp.get_data(as_text=True)


def test_every_integer_the_api_accepts_is_bounded(app: Flask) -> None:
    """The root of the class: an unbounded integer in a path, query or body reaches the database."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    components = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str] = frozenset()) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(components[name], f"{where}<{name}>", seen | {name})
            return
        if schema.get("type") == "integer" and "maximum" not in schema:
            unbounded.append(where)
        for key, sub in (schema.get("properties") or {}).items():
            walk(sub, f"{where}.{key}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)

    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if not isinstance(op, dict):
                continue
            for param in [*operations.get("parameters", []), *op.get("parameters", [])]:
                walk(param.get("schema", {}), f"{method.upper()} {path} {param['name']}")
            for media in (op.get("requestBody", {}).get("content") or {}).values():
                walk(media.get("schema", {}), f"{method.upper()} {path} body")
    assert not unbounded, "\n".join(unbounded)


def test_405_names_the_allowed_methods(as_user: Any, page: Any) -> None:
    resp = as_user("coordinator").client.delete("/api/v1/reports")
    assert resp.status_code == 405
    assert "POST" in resp.headers.get("Allow", "")
    resp = page("coordinator").client.put("/inbox")
    assert resp.status_code == 405
    assert "GET" in resp.headers.get("Allow", "")


@pytest.mark.parametrize("method,path,body", [
    ("post", "/api/v1/reports", {"child": "x"}),
    ("post", "/api/v1/conferences", {"case_id": "x"}),
    ("get", "/api/v1/tasks", None),
    ("post", "/api/v1/duties/enrolments", {"nonsense": 1}),
    ("post", "/api/v1/processes/drafts", {"nonsense": 1}),
])
def test_authentication_comes_before_the_body(client: Any, method: str, path: str, body: Any) -> None:
    kwargs: dict[str, Any] = {"json": body} if body is not None else {"query_string": {"page": "x"}}
    resp = getattr(client, method)(path, **kwargs)
    assert resp.status_code == 401, resp.get_data(as_text=True)
    resp = getattr(client, method)(path, headers={"Authorization": "Bearer nope"}, **kwargs)
    assert resp.status_code == 401, resp.get_data(as_text=True)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_deeply_nested_json_is_refused(as_user: Any, demo: Any) -> None:
    from app.cases.models import Case

    api = as_user("reporter_school")
    body = '{"child": ' + _nested(100_000) + "}"
    resp = api.client.post("/api/v1/reports", data=body, content_type="application/json", headers=api.headers)
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    assert "deep" in resp.get_json()["message"]
    body = '{"child": ' + _nested(200) + "}"
    resp = api.client.post("/api/v1/reports", data=body, content_type="application/json", headers=api.headers)
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)[:300]
    assert _count(Case) == 0


def test_lone_surrogates_are_refused_not_500(as_user: Any) -> None:
    from app.cases.models import Case

    api = as_user("reporter_school")
    body = report_payload()
    raw = __import__("json").dumps(body, ensure_ascii=False).replace("李小明", "\\ud800")
    resp = api.client.post("/api/v1/reports", data=raw, content_type="application/json", headers=api.headers)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert "surrogate" in resp.get_json()["message"]
    assert _count(Case) == 0
