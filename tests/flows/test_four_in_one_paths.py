"""Every path through the four-in-one process, driven through the REST API as each unit's liaison.

Each step is found in the queue of the unit routing must pick for the child's
village (police station and township of its township, county bureaus, the
village committee), completed with its form data, and the case ends where the
scenario says.
"""

from __future__ import annotations

from typing import Any

import pytest
from flows.scenarios import SCENARIOS
from helpers import open_tasks, report_payload, unit_user

VILLAGES = ["t01v01", "t02v02", "t03v01"]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_runs_end_to_end(name: str, as_user: Any) -> None:
    scenario = SCENARIOS[name]
    village = VILLAGES[sorted(SCENARIOS).index(name) % len(VILLAGES)]
    reporter = as_user("reporter_school")
    payload = report_payload(scenario.start["situation"], village)
    payload["report"]["reporter_type"] = scenario.start.get("reporter_type", "school")
    resp = reporter.post("/api/v1/reports", json=payload)
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["case_id"]

    for step in scenario.steps:
        api = as_user(unit_user(step.lane, village))
        tasks = [t for t in open_tasks(api, case_id=case_id) if t["bpmn_id"] == step.bpmn_id]
        assert tasks, f"{name}: {step.bpmn_id} not in the queue of {unit_user(step.lane, village)}"
        [task] = tasks
        assert task["unit"]["kind"] == step.lane
        done = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": step.data})
        assert done.status_code == 200, (name, step.bpmn_id, done.get_json())

    case = as_user("coordinator").get(f"/api/v1/cases/{case_id}").get_json()
    assert case["status"] == "closed", (name, case["open_tasks"])
    assert case["open_tasks"] == []
    [instance] = case["instances"]
    assert instance["status"] == "completed"
    assert instance["end_event"] == scenario.ends_with
    completed = [e for e in case["timeline"] if e["kind"] == "task_completed"]
    assert len(completed) == len(scenario.steps)
    assert all(e["actor"] and e["unit"] for e in completed)
    if any("grade" in s.data for s in scenario.steps):
        grade = next(s.data["grade"] for s in scenario.steps if "grade" in s.data)
        assert case["grade"] == grade
        assert case["help_tier"] in {"caring", "loving", "protective"}
