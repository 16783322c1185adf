"""A reporter follows the report (issue 15, part 4): case number, status, each stage's date, and nothing more."""

from __future__ import annotations

from typing import Any

from flows.scenarios import SCENARIOS
from helpers import open_tasks, report_payload, submit_report, unit_user

STAGES = ["reported", "accepted", "police_handled", "assessed", "help_decided", "closed"]


def _reached(api: Any) -> list[list[str]]:
    resp = api.get("/api/v1/me/reports")
    assert resp.status_code == 200, resp.get_json()
    return [[s for s in STAGES if row["stages"][s]] for row in resp.get_json()["items"]]


def test_each_stage_is_dated_as_the_case_moves(as_user: Any) -> None:
    school = as_user("reporter_school")
    filed = submit_report(school, "living_alone", "t01v01")
    assert _reached(school) == [["reported"]]
    scenario = SCENARIOS["living_alone_parents_reached_good_caring"]
    expect = {"police_triage": "accepted", "police_legal_disposition": "police_handled",
              "township_assessment": "assessed", "village_caring_help": "help_decided",
              "township_case_closure": "closed"}
    seen = ["reported"]
    for step in scenario.steps:
        api = as_user(unit_user(step.lane, "t01v01"))
        [task] = [t for t in open_tasks(api, case_id=filed["case_id"]) if t["bpmn_id"] == step.bpmn_id]
        assert api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step.data}).status_code == 200
        if step.bpmn_id in expect:
            seen.append(expect[step.bpmn_id])
        assert _reached(school) == [seen], step.bpmn_id
    [row] = school.get("/api/v1/me/reports").get_json()["items"]
    assert row["case_number"] == filed["case_number"] and row["status"] == "closed"
    # nothing more: no names, no narrative, no steps
    assert set(row) == {"report_id", "situation", "reported_at", "case_id", "case_number", "status", "stages"}
    assert "李" not in str(row) and "独自" not in str(row)


def test_only_ones_own_reports_and_the_page(as_user: Any, page: Any) -> None:
    school, hotline = as_user("reporter_school"), as_user("hotline_12355")
    first = submit_report(school, id_number="370000201506010011")
    # the hotline's report about the same child joins the case; each sees only their own report
    body = report_payload("missing", id_number="370000201506010011")
    body["report"]["reporter_type"] = "hotline_12355"
    assert hotline.post("/api/v1/reports", json=body).status_code == 201
    mine = school.get("/api/v1/me/reports").get_json()
    theirs = hotline.get("/api/v1/me/reports").get_json()
    assert mine["total"] == theirs["total"] == 1
    assert mine["items"][0]["situation"] == "living_alone" and theirs["items"][0]["situation"] == "missing"
    assert theirs["items"][0]["case_number"] == first["case_number"]
    assert as_user("police_t01").get("/api/v1/me/reports").get_json()["total"] == 0
    text = page("reporter_school").get("/reports/mine").get_data(as_text=True)
    assert first["case_number"] in text and 'id="my-reports"' in text and "李小明" not in text
    assert "孩子连续三天独自在家" not in text
