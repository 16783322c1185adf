"""A conference action still open keeps a protection case open after its main process ends;
the case closes when its last instance does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flows.scenarios import SCENARIOS
from helpers import open_tasks, report_payload, unit_user

from app.org.queries import user_by_username

VILLAGE = "t02v01"


def test_case_closes_when_its_last_instance_ends(as_user: Any, clock: Any) -> None:
    scenario = SCENARIOS["missing_not_found_case_filed_closed"]
    payload = report_payload("missing", VILLAGE)
    resp = as_user("reporter_school").post("/api/v1/reports", json=payload)
    case_id = resp.get_json()["case_id"]
    meeting = clock.at + timedelta(days=1)
    conference = as_user("coordinator").post("/api/v1/conferences", json={
        "case_id": case_id, "title": "失踪儿童查找会商", "scheduled_at": meeting.isoformat(),
        "convening_unit_id": user_by_username("civil_affairs_c01").unit_id,
        "invited": [{"department_kind": "police"}, {"department_kind": "township"}]}).get_json()
    clock.at = meeting
    held = as_user("civil_affairs_c01").post(f"/api/v1/conferences/{conference['id']}/minutes", json={
        "minutes": "公安继续查找，乡镇做好家属安抚。",
        "decisions": [{"decision": "乡镇每周向家属通报查找进展", "department_kind": "township", "deadline": "P30D"}]})
    assert held.status_code == 200, held.get_json()

    for step in scenario.steps:
        api = as_user(unit_user(step.lane, VILLAGE))
        [task] = [t for t in open_tasks(api, case_id=case_id) if t["bpmn_id"] == step.bpmn_id]
        assert api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step.data}).status_code == 200
    case = as_user("coordinator").get(f"/api/v1/cases/{case_id}").get_json()
    assert case["status"] == "open"  # the four-in-one process ended, the conference's action has not
    assert {i["process"]: i["status"] for i in case["instances"]}["four_in_one"] == "completed"

    township = as_user(unit_user("township", VILLAGE))
    [action] = open_tasks(township, case_id=case_id, step="carry_out_decision")
    done = township.post(f"/api/v1/tasks/{action['id']}/complete",
                         json={"data": {"outcome": "done", "actions_taken": "每周电话通报。"}})
    assert done.status_code == 200, done.get_json()
    case = as_user("coordinator").get(f"/api/v1/cases/{case_id}").get_json()
    assert case["status"] == "closed" and case["closed_at"] is not None
    assert datetime.fromisoformat(case["closed_at"]) >= meeting.astimezone(UTC)


def test_openapi_lists_conference_and_duty_endpoints(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/conferences", "/api/v1/conferences/{conference_id}/minutes",
                 "/api/v1/conferences/{conference_id}/actions", "/api/v1/conferences/team",
                 "/api/v1/duties/enrolments", "/api/v1/duties/enrolments/{enrolment_id}/end",
                 "/api/v1/duties/dropouts", "/api/v1/duties/entrustments", "/api/v1/duties/cycles",
                 "/api/v1/duties/children/{child_id}/assessments", "/api/v1/duties/frequencies"):
        assert path in paths, path
