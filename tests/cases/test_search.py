"""Find a child or a case (issue 15, part 1): every term, only what the user may open, every search audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import submit_report

from app.audit.models import AuditEvent
from app.cases.access import Basis, access_basis, visible_cases
from app.cases.models import Case, Child
from app.extensions import db
from app.org.models import User

ID = "370000201506010011"


def _file(as_user: Any) -> dict[str, Any]:
    """Three children: one in t01v01 (left behind, HIV), one in t02v01, one in the neighbouring county."""
    school = as_user("reporter_school")
    a = submit_report(school, "living_alone", "t01v01", name="李小明", id_number=ID, tags=["left_behind", "hiv"])
    b = submit_report(school, "missing", "t02v01", name="王小红", id_number="370000201601010022",
                      guardians=[{"name": "王大", "relation": "father", "phone": "139 0000 0002"}])
    c = submit_report(school, "living_alone", "t21v01", name="李小刚", id_number="370000201701010033")
    return {"a": a, "b": b, "c": c}


def _names(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.get_json()
    return [row["name"] for row in resp.get_json()["items"]]


def test_the_sql_rule_is_the_rule(as_user: Any) -> None:
    """``visible_cases`` (searches, lists) says exactly what ``access_basis`` (every page) says, per user."""
    _file(as_user)
    cases = list(db.session.scalars(sa.select(Case)))
    for user in db.session.scalars(sa.select(User)):
        expected = {c.id for c in cases if access_basis(user, c) not in (None, Basis.REPORTER)}
        assert set(db.session.scalars(visible_cases(user))) == expected, user.username


def test_each_term_finds_the_child(as_user: Any) -> None:
    _file(as_user)
    coordinator = as_user("coordinator")
    get = coordinator.get
    assert _names(get("/api/v1/children", query_string={"name": "小"})) == ["李小明", "王小红"]  # not c02's child
    assert _names(get("/api/v1/children", query_string={"id_number": "３７００００ 2015 0601 0011"})) == ["李小明"]
    number = db.session.scalar(sa.select(Case.number).join(Child).where(Child.name == "王小红"))
    assert _names(get("/api/v1/children", query_string={"case_number": number.lower()})) == ["王小红"]
    assert _names(get("/api/v1/children", query_string={"village": "t02v01"})) == ["王小红"]
    assert _names(get("/api/v1/children", query_string={"guardian_phone": "13900000002"})) == ["王小红"]
    assert _names(get("/api/v1/children", query_string={"tag": "hiv"})) == ["李小明"]
    for q in ("小明", ID, number, "139-0000-0002"):
        assert len(_names(get("/api/v1/children", query_string={"q": q}))) == 1, q
    # all terms must hold
    assert _names(get("/api/v1/children", query_string={"name": "李", "village": "t02v01"})) == []
    # paging
    page = get("/api/v1/children", query_string={"per_page": 1, "page": 2}).get_json()
    assert page["total"] == 2 and page["page"] == 2 and len(page["items"]) == 1
    cases = get("/api/v1/cases", query_string={"q": "王小红", "status": "open"}).get_json()
    assert [c["number"] for c in cases["items"]] == [number] and cases["total"] == 1


def test_only_what_the_user_may_open_is_found_and_masked(as_user: Any) -> None:
    found = _file(as_user)
    # the police of township t01 has a task on the first case only
    police = as_user("police_t01")
    rows = police.get("/api/v1/children", query_string={"name": "小"}).get_json()
    assert [r["name"] for r in rows["items"]] == ["李小明"] and rows["total"] == 1
    assert rows["items"][0]["id_number"] != ID and "hiv" not in rows["items"][0]["tags"]
    assert [c["id"] for c in rows["items"][0]["cases"]] == [found["a"]["case_id"]]
    # an ID number or phone of a child outside their basis finds nothing, not even a count
    for terms in ({"id_number": "370000201601010022"}, {"guardian_phone": "13900000002"},
                  {"q": found["b"]["case_number"]}):
        resp = police.get("/api/v1/children", query_string=terms).get_json()
        assert resp["items"] == [] and resp["total"] == 0, terms
    # the hidden tag cannot be searched by those who do not see it
    assert police.get("/api/v1/children", query_string={"tag": "hiv"}).status_code == 403
    # a reporter finds nothing (their reports are at /me/reports), the neighbouring county its own only
    assert as_user("reporter_school").get("/api/v1/children").get_json()["total"] == 0
    assert _names(as_user("coordinator_c02").get("/api/v1/children")) == ["李小刚"]
    assert as_user("coordinator_c02").get("/api/v1/cases", query_string={"q": "李小明"}).get_json()["total"] == 0


def test_every_search_is_audited_with_its_terms(as_user: Any) -> None:
    _file(as_user)
    as_user("coordinator").get("/api/v1/children", query_string={"name": "小", "tag": "left_behind"})
    as_user("police_t01").get("/api/v1/cases", query_string={"q": "王"})
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search")
                              .order_by(AuditEvent.id)).all()
    assert [(r.object_type, r.detail["terms"]) for r in rows] == [
        ("child", {"name": "小", "tag": "left_behind"}), ("case", {"q": "王"})]
    # the terms, never what was found
    assert all("李小明" not in str(r.detail) for r in rows)


def test_bad_search_input_is_a_clear_422(as_user: Any) -> None:
    api = as_user("coordinator")
    assert api.get("/api/v1/children", query_string={"tag": "nope"}).status_code == 422
    assert api.get("/api/v1/children", query_string={"name": "x" * 101}).status_code == 422
    assert api.get("/api/v1/cases", query_string={"status": "maybe"}).status_code == 422
    assert api.get("/api/v1/children", query_string={"q": "%_\\"}).status_code == 200
    assert api.get("/api/v1/children").status_code == 200


def test_the_openapi_document_describes_the_search_and_my_reports(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/children", "/api/v1/cases", "/api/v1/me/reports", "/api/v1/children/merges",
                 "/api/v1/children/merges/{merge_id}/undo"):
        assert path in doc["paths"], path
    children = doc["paths"]["/api/v1/children"]["get"]
    assert {p["name"] for p in children["parameters"]} >= {"q", "name", "id_number", "case_number", "village",
                                                           "guardian_phone", "tag", "page", "per_page"}
    schemas = doc["components"]["schemas"]
    assert {"ChildFoundOut", "CaseFoundOut", "MyReportOut", "LikelyMatchOut", "MergeOut"} <= set(schemas)
    assert "likely_matches" in schemas["ReportAccepted"]["properties"]
