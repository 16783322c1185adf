"""Reports open cases; the case view is need-to-know, masked and audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import open_tasks, report_payload, submit_report

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db


def test_report_opens_a_case_with_number_timeline_and_first_police_task(as_user: Any) -> None:
    accepted = submit_report(as_user("reporter_school"), "missing", "t03v02")
    assert accepted["created"] and accepted["case_number"].startswith("LD2026")
    case = as_user("coordinator").get(f"/api/v1/cases/{accepted['case_id']}").get_json()
    assert case["situation"] == "missing" and case["status"] == "open"
    assert case["child"]["village"] == "松林村" and case["child"]["township"] == "南山镇"
    assert case["reports"][0]["reporter_type"] == "school"
    [task] = case["open_tasks"]
    assert task["unit"]["name"] == "南山镇公安派出所"
    kinds = [e["kind"] for e in case["timeline"]]
    assert kinds[:3] == ["report_received", "process_started", "task_created"]


def test_retried_report_with_same_idempotency_key_returns_the_first_case(as_user: Any) -> None:
    api = as_user("hotline_12355")
    body = report_payload("domestic_violence") | {"idempotency_key": "hotline-call-20260310-0001"}
    first = api.post("/api/v1/reports", json=body)
    again = api.post("/api/v1/reports", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["case_id"] == again.get_json()["case_id"]
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 1


def test_invalid_reports_are_422_and_open_nothing(as_user: Any) -> None:
    api = as_user("reporter_school")
    bad_village = report_payload(village="nowhere")
    resp = api.post("/api/v1/reports", json=bad_village)
    assert resp.status_code == 422 and "child.village" in resp.get_json()["errors"]["json"]
    bad_situation = report_payload()
    bad_situation["report"]["situation"] = "bored"
    resp = api.post("/api/v1/reports", json=bad_situation)
    assert resp.status_code == 422 and resp.get_json()["errors"]["json"]["report.situation"]
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0


def test_need_to_know_per_role(as_user: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    path = f"/api/v1/cases/{case_id}"
    allowed = {
        "coordinator": "county",
        "director_t01v01": "jurisdiction",
        "supervisor_t01": "jurisdiction",
        "police_t01": "unit",
        "reporter_school": "reporter",
    }
    for username, basis in allowed.items():
        resp = as_user(username).get(path)
        assert resp.status_code == 200, username
        assert resp.get_json()["access"] == basis
    for username in ("police_t02", "director_t01v02", "supervisor_t03", "court_c01", "designer",
                     "village_committee_t02v01"):
        resp = as_user(username).get(path)
        assert resp.status_code == 403, username
        assert "need to know" in resp.get_json()["message"]


def test_reporter_sees_only_number_and_status(as_user: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    view = as_user("reporter_school").get(f"/api/v1/cases/{case_id}").get_json()
    assert view["number"] and view["status"] == "open"
    assert view["child"] is None and view["timeline"] == [] and view["open_tasks"] == []


def test_id_number_masked_for_liaisons_and_hiv_tag_hidden(as_user: Any) -> None:
    payload = report_payload(tags=["left_behind", "hiv"], id_number="370000201506010011")
    case_id = as_user("reporter_school").post("/api/v1/reports", json=payload).get_json()["case_id"]
    police = as_user("police_t01").get(f"/api/v1/cases/{case_id}").get_json()["child"]
    assert police["id_number"] != "370000201506010011" and police["id_number"].endswith("011")
    assert "hiv" not in police["tags"]
    director = as_user("director_t01v01").get(f"/api/v1/cases/{case_id}").get_json()["child"]
    assert director["id_number"] == "370000201506010011" and "hiv" in director["tags"]


def test_every_case_view_is_audited_with_who_and_why(as_user: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    as_user("police_t01").get(f"/api/v1/cases/{case_id}")
    as_user("police_t02").get(f"/api/v1/cases/{case_id}")  # refused: no row for a view that did not happen
    views = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.action == "view")).all()
    assert [(v.object_type, v.detail["basis"]) for v in views] == [("case", "unit")]
    assert views[0].address == "127.0.0.1"


def test_liaison_keeps_access_after_the_step_moves_on(as_user: Any) -> None:
    from flows.scenarios import SCENARIOS

    steps = SCENARIOS["living_alone_parents_reached_good_caring"].steps
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    police = as_user("police_t01")
    for step in steps[:3]:
        [task] = [t for t in open_tasks(police, case_id=case_id) if t["bpmn_id"] == step.bpmn_id]
        assert police.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step.data}).status_code == 200
    assert open_tasks(police, case_id=case_id) == []
    assert police.get(f"/api/v1/cases/{case_id}").status_code == 200


def test_naming_an_existing_child_by_id_needs_a_basis_on_that_child(as_user: Any) -> None:
    """A teacher who files reports (or a stolen token) cannot open cases on any child by guessing ids,
    nor learn which ids exist: without a basis the answer is the unknown child's 404, and nothing opens."""
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    child_id = db.session.get(Case, case_id).child_id
    by_id = {"child": {"id": child_id}, "report": {"reporter_type": "school", "situation": "missing"}}
    cases_before = db.session.scalar(sa.select(sa.func.count(Case.id)))
    for outsider in ("reporter_school", "police_t02", "director_t02v01"):
        resp = as_user(outsider).post("/api/v1/reports", json=by_id | {"confirm_duplicate": True})
        unknown = as_user(outsider).post("/api/v1/reports", json={**by_id, "child": {"id": 2_000_000_000}})
        assert resp.status_code == unknown.status_code == 404, outsider
        assert resp.get_json()["message"].replace(str(child_id), "N") == \
            unknown.get_json()["message"].replace("2000000000", "N")
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == cases_before
    for insider in ("director_t01v01", "police_t01", "coordinator"):
        resp = as_user(insider).post("/api/v1/reports", json=by_id | {"confirm_duplicate": True})
        assert resp.status_code == 201, (insider, resp.get_json())
