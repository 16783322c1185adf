"""Police who detain a parent record the minor children needing care as an intake of its own kind (situation
``parent_detained``, issue 15 part 6c), which goes from the station's triage to the care arrangement."""

from __future__ import annotations

from typing import Any

from helpers import open_tasks, report_payload


def test_the_police_intake_starts_the_care_arrangement(as_user: Any) -> None:
    police = as_user("police_t01")
    payload = report_payload("parent_detained", "t01v01", name="赵小雨")
    payload["report"].update({"reporter_type": "police", "reporter_name": "城关派出所王警官",
                              "description": "依法刑事拘留其父赵某，母亲外出务工，孩子无人照料。"})
    filed = police.post("/api/v1/reports", json=payload)
    assert filed.status_code == 201, filed.get_json()
    case_id = filed.get_json()["case_id"]
    case = as_user("coordinator").get(f"/api/v1/cases/{case_id}").get_json()
    assert case["situation"] == "parent_detained"
    [triage] = [t for t in open_tasks(police, case_id=case_id)]
    assert triage["bpmn_id"] == "police_triage"
    done = police.post(f"/api/v1/tasks/{triage['id']}/complete", json={"data": {
        "situation": "parent_detained", "urgency": "urgent", "police_station": "城关派出所",
        "dispatched_at": "2025-03-03T08:20:00+08:00", "officers": "王警官", "reporter_contacted": True}})
    assert done.status_code == 200, done.get_json()
    [care] = open_tasks(police, case_id=case_id)
    assert care["bpmn_id"] == "police_guardian_incapable"  # the care arrangement, nothing in between


def test_a_situation_outside_the_list_is_refused_and_files_nothing(as_user: Any) -> None:
    police = as_user("police_t01")
    payload = report_payload("parents_detained", "t01v01")
    refused = police.post("/api/v1/reports", json=payload)
    assert refused.status_code == 422
    mine = police.get("/api/v1/me/reports")
    assert mine.status_code in (200, 403) and "parents_detained" not in mine.get_data(as_text=True)
