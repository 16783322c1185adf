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


def test_nul_characters_are_refused_in_json_query_and_forms(as_user: Any, page: Any) -> None:
    """PostgreSQL text cannot hold NUL: a 500 there before (SQLite stored it)."""
    from app.cases.models import Case

    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload(name="李\x00小明"))
    assert resp.status_code == 422 and "NUL" in resp.get_json()["message"], resp.get_data(as_text=True)[:300]
    resp = as_user("police_t01").get("/api/v1/tasks", query_string={"step": "a\x00b"})
    assert resp.status_code == 400 and "NUL" in resp.get_json()["message"]
    assert page("coordinator").get("/audit", query_string={"user": "a\x00b"}).status_code == 400
    assert as_user("designer").get("/api/v1/processes/a%00b/versions").status_code == 404
    assert page("designer").get("/designer/processes/a%00b").status_code == 404
    resp = page("reporter_school").post("/reports/new", {"reporter_type": "school", "situation": "living_alone",
                                                          "name": "李\x00小明", "sex": "male", "village": "t01v01"})
    assert resp.status_code == 422
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


@pytest.mark.parametrize("child", [{}, {"name": "李小明"}, {"name": "李小明", "sex": "male"}, {"village": "t01v01"}])
def test_a_report_with_an_incomplete_child_is_refused(as_user: Any, child: dict[str, Any]) -> None:
    from app.cases.models import Case

    body = report_payload()
    body["child"] = child
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert "required for a new child" in str(resp.get_json()["errors"])
    assert _count(Case) == 0


def test_the_report_page_with_an_incomplete_child_is_refused(page: Any) -> None:
    from app.cases.models import Case

    resp = page("reporter_school").post("/reports/new", data={"reporter_type": "school", "situation": "living_alone",
                                                               "idempotency_key": "k" * 20})
    assert resp.status_code == 422
    assert _count(Case) == 0


@pytest.mark.parametrize("query", [
    {"start": "0001-01-01"}, {"end": "9999-12-31"}, {"start": "0001-01-01", "end": "9999-12-31"},
    {"start": "2001-01-01", "end": "2026-03-10"},
])
def test_out_of_range_dates_and_unbounded_periods_on_the_dashboard(as_user: Any, page: Any,
                                                                   query: dict[str, str]) -> None:
    api = as_user("coordinator")
    for path in ("/api/v1/dashboard", "/api/v1/dashboard/trend", "/api/v1/dashboard/export/trend.csv"):
        resp = api.get(path, query_string=query)
        assert resp.status_code == 422, (path, resp.get_data(as_text=True)[:300])
        assert resp.get_json()["message"]
    for path in ("/dashboard/", "/dashboard/export/trend.csv"):
        resp = page("coordinator").get(path, query_string=query)
        assert resp.status_code == 422, (path, resp.status_code)


def test_a_long_but_bounded_period_still_answers(as_user: Any) -> None:
    resp = as_user("coordinator").get("/api/v1/dashboard/trend", query_string={"start": "2025-03-11",
                                                                               "end": "2026-03-10"})
    assert resp.status_code == 200 and len(resp.get_json()["rows"]) == 365


@pytest.mark.parametrize("query", [{"from": "0001-01-01"}, {"to": "9999-12-31"}])
def test_out_of_range_dates_on_the_audit_page(page: Any, query: dict[str, str]) -> None:
    resp = page("coordinator").get("/audit", query_string=query)
    assert resp.status_code == 422, resp.status_code


def test_huge_numbers_in_page_queries_and_forms(page: Any) -> None:
    coordinator = page("coordinator")
    assert page("police_t01").get("/inbox", query_string={"page": str(HUGE), "per_page": str(HUGE)}).status_code == 200
    assert coordinator.get("/audit", query_string={"case": str(HUGE), "page": str(HUGE)}).status_code == 200
    assert coordinator.get("/dashboard/tasks", query_string={"township": str(HUGE), "page": "²"}).status_code == 200
    assert coordinator.get("/conferences/team", query_string={"unit_id": str(HUGE)}).status_code in (200, 403)
    assert page("designer").get("/designer/processes/four_in_one/diff",
                                query_string={"from": str(HUGE), "to": "1"}).status_code == 404
    head = page("police_t01")
    assert head.post("/inbox/reassign", data={"task_ids": [str(HUGE), "²"], "to_user_id": str(HUGE)}).status_code < 500
    assert head.post("/notifications/read", data={"ids": [str(HUGE), "²"]}).status_code < 500


@pytest.mark.parametrize("field,value", [("birth_date", "9999-12-31"), ("birth_date", "0001-01-01")])
def test_out_of_range_dates_in_bodies(as_user: Any, field: str, value: str) -> None:
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload(**{field: value}))
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    resp = as_user("coordinator").post("/api/v1/conferences", json={
        "case_id": 1, "title": "t", "scheduled_at": "9999-12-31T23:59:59-10:00", "invited": [{"department_kind": "police"}]})
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]


@pytest.mark.parametrize("name,fallback,encoded", [
    ("告诫书.pdf", 'filename="download.pdf"', "filename*=UTF-8''%E5%91%8A%E8%AF%AB%E4%B9%A6.pdf"),
    ("Ärger 2026.pdf", 'filename="Arger 2026.pdf"', "filename*=UTF-8''%C3%84rger%202026.pdf"),
    ('say "hi"\r\nX-Evil: 1.pdf', 'filename="say hiX-Evil_ 1.pdf"', "filename*=UTF-8''say%20hiX-Evil%3A%201.pdf"),
])
def test_attachment_names_outside_ascii_download_with_rfc5987(page: Any, as_user: Any, name: str, fallback: str,
                                                             encoded: str) -> None:
    import io

    from webhelpers import first_open_task, open_case

    task = first_open_task(open_case(as_user)["case_id"])
    police = page("police_t01")
    resp = police.post(f"/tasks/{task.id}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 x"), "x.pdf")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    from app.tasks.models import Attachment

    attachment = db.session.scalars(sa.select(Attachment)).one()
    attachment.original_name = name  # as stored from any client; the multipart parser may not pass every name
    db.session.commit()
    resp = police.get(f"/attachments/{attachment.id}")
    assert resp.status_code == 200 and resp.data == b"%PDF-1.4 x"
    header = resp.headers["Content-Disposition"]
    assert header.startswith("attachment; ") and fallback in header and encoded in header, header
    header.encode("latin-1")
    resp.close()


def test_bpmn_file_names_outside_ascii_download(as_user: Any) -> None:
    from pathlib import Path

    mini = (Path(__file__).resolve().parents[1] / "data" / "mini.bpmn").read_text(encoding="utf-8")
    api = as_user("designer")
    draft = api.post("/api/v1/processes/drafts", json={"files": {"四合一.bpmn": mini}}).get_json()
    resp = api.get(f"/api/v1/processes/drafts/{draft['id']}/files/四合一.bpmn")
    assert resp.status_code == 200, resp.status_code
    assert "filename*=UTF-8''%E5%9B%9B%E5%90%88%E4%B8%80.bpmn" in resp.headers["Content-Disposition"]


def test_every_api_route_answers_401_before_looking_at_the_body(app: Flask, client: Any) -> None:
    """Every route that needs a token, every method: no token and a nonsense body or query is 401, not 422."""
    import re

    checked, wrong = 0, []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule).replace("1.1", "trend.csv")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            address = f"10.5.{checked // 200}.{checked % 200 + 1}"  # one address each: refused tokens are throttled
            resp = client.open(path, method=method, json={"nonsense": "x" * 3, "page": "x"},
                               query_string={"page": "x", "start": "x"}, environ_base={"REMOTE_ADDR": address})
            checked += 1
            if resp.status_code != 401:
                wrong.append(f"{method} {path}: {resp.status_code}")
    assert checked > 50 and not wrong, wrong


def test_405_carries_allow_on_every_api_route(app: Flask, client: Any) -> None:
    import re

    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        allowed = (rule.methods or set()) - {"HEAD", "OPTIONS"}
        if "PATCH" in allowed:
            continue
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        resp = client.patch(path)
        if resp.status_code == 405:
            assert resp.headers.get("Allow"), path
