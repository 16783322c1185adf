"""Test runs of a draft: stepped through as each lane, entirely in the sandbox (no case, task or notice)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS

from app.extensions import db

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

P = "/api/v1/processes"
SCENARIO = SCENARIOS["living_alone_parents_reached_good_caring"]
REAL_TABLES = ("case_file", "process_instance", "task", "timer", "timeline_entry", "notification", "audit_event")


def _counts() -> dict[str, int]:
    return {t: db.session.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in REAL_TABLES}


def _draft(api: Any) -> int:
    resp = api.post(f"{P}/drafts", json={"process_key": "four_in_one"})
    assert resp.status_code == 201
    return int(resp.get_json()["id"])


def test_a_test_run_walks_the_whole_path_as_each_lane_and_touches_nothing_real(as_user: Any) -> None:
    api = as_user("designer")
    draft_id = _draft(api)
    before = _counts()
    resp = api.post(f"{P}/drafts/{draft_id}/test-runs", json={"data": SCENARIO.start})
    assert resp.status_code == 201, resp.get_json()
    run = resp.get_json()
    assert [t["bpmn_id"] for t in run["ready"]] == ["police_triage"]
    assert run["forms"]["four_in_one/police_triage.json"]["type"] == "object"
    for step in SCENARIO.steps:
        task = next(t for t in run["ready"] if t["bpmn_id"] == step.bpmn_id)
        assert task["department"] == step.lane
        resp = api.post(f"{P}/test-runs/{run['id']}/tasks/{task['id']}/complete",
                        json={"lane": step.lane, "data": step.data})
        assert resp.status_code == 200, (step.bpmn_id, resp.get_json())
        run = resp.get_json()
    assert run["status"] == "completed" and run["ready"] == []
    assert run["data"]["help_tier"] == "caring"
    path = [p["bpmn_id"] for p in run["path"]]
    assert path[0] == "start_report" and path[-1] == "end_case_closed"
    assert {"gw_situation", "help_tier_decision"} <= set(path)
    acted = [(p["bpmn_id"], p["acted_as"]) for p in run["path"] if "acted_as" in p]
    assert acted == [(s.bpmn_id, s.lane) for s in SCENARIO.steps]
    assert _counts() == before
    assert api.get(f"{P}/test-runs/{run['id']}").get_json()["status"] == "completed"
    assert [r["id"] for r in api.get(f"{P}/drafts/{draft_id}/test-runs").get_json()["items"]] == [run["id"]]


def test_a_step_must_be_done_as_its_lane_with_valid_form_data(as_user: Any) -> None:
    api = as_user("designer")
    run = api.post(f"{P}/drafts/{_draft(api)}/test-runs", json={"data": SCENARIO.start}).get_json()
    [task] = run["ready"]
    url = f"{P}/test-runs/{run['id']}/tasks/{task['id']}/complete"
    wrong_lane = api.post(url, json={"lane": "township", "data": SCENARIO.steps[0].data})
    assert wrong_lane.status_code == 403 and "is for police" in wrong_lane.get_json()["message"]
    bad_data = api.post(url, json={"lane": "police", "data": {"nonsense": 1}})
    assert bad_data.status_code == 422 and bad_data.get_json()["errors"]
    assert api.post(url, json={"lane": "police", "data": SCENARIO.steps[0].data}).status_code == 200
    again = api.post(url, json={"lane": "police", "data": SCENARIO.steps[0].data})
    assert again.status_code == 409


def test_a_draft_the_engine_cannot_build_does_not_start_and_only_designers_run(as_user: Any) -> None:
    api = as_user("designer")
    draft_id = _draft(api)
    draft = api.get(f"{P}/drafts/{draft_id}?content=1").get_json()
    broken = draft["files"]["four_in_one.bpmn"].replace('isExecutable="true"', 'isExecutable="false"')
    api.client.put(f"{P}/drafts/{draft_id}", headers=api.headers,
                   json={"files": {**draft["files"], "four_in_one.bpmn": broken}})
    resp = api.post(f"{P}/drafts/{draft_id}/test-runs", json={"data": {}})
    assert resp.status_code == 422 and "is not executable" in resp.get_json()["message"]
    assert as_user("police_t01").post(f"{P}/drafts/{draft_id}/test-runs", json={"data": {}}).status_code == 403


def test_a_draft_with_platform_problems_can_still_be_tried_out(as_user: Any) -> None:
    """A deadline typo does not stop the designer from trying the flow; it only stops deploy."""
    api = as_user("designer")
    draft_id = _draft(api)
    api.client.patch(f"{P}/drafts/{draft_id}/elements/police_triage", headers=api.headers,
                     json={"properties": {"deadline": "one hour"}})
    assert api.get(f"{P}/drafts/{draft_id}").get_json()["valid"] is False
    run = api.post(f"{P}/drafts/{draft_id}/test-runs", json={"data": SCENARIO.start})
    assert run.status_code == 201 and run.get_json()["ready"][0]["deadline"] == "one hour"
