"""The designer API's draft answers, pinned key by key (``DraftOut`` dumps the draft itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flows.scenarios import SCENARIOS

pytestmark = pytest.mark.dataset("four_in_one")

P = "/api/v1/processes"
KEYS = {"id", "process_key", "title", "revision", "valid", "messages", "based_on", "deployed_spec_id", "files",
        "forms", "updated_at", "updated_by_id"}


def test_a_draft_with_and_without_its_content(as_user: Any) -> None:
    designer = as_user("designer")
    made = designer.post(f"{P}/drafts", json={"process_key": "four_in_one"}).get_json()
    assert set(made) == KEYS
    version = designer.get(f"{P}/four_in_one/versions").get_json()["items"][0]
    assert made["based_on"] == {"id": version["id"], "version": version["version"]}
    assert made["process_key"] == "four_in_one" and made["revision"] == 2 and made["deployed_spec_id"] is None
    assert made["valid"] is True and made["messages"] == [] and made["title"].startswith("四位一体")
    assert sorted(made["files"]) == version["files"] and sorted(made["forms"]) == version["forms"]
    assert all(isinstance(xml, str) and xml.lstrip().startswith("<") for xml in made["files"].values())
    assert all(isinstance(form, dict) for form in made["forms"].values())

    names_only = designer.get(f"{P}/drafts/{made['id']}").get_json()
    assert names_only == {**made, "files": dict.fromkeys(version["files"]), "forms": dict.fromkeys(version["forms"])}
    assert designer.get(f"{P}/drafts/{made['id']}", query_string={"content": "1"}).get_json() == made
    listed = designer.get(f"{P}/drafts").get_json()
    assert listed == {"items": [names_only]}


def test_granting_and_revoking_the_designer_role_answers_the_user_and_the_change(as_user: Any) -> None:
    admin = as_user("admin")
    granted = admin.client.put(f"{P}/designers/police_t01", headers=admin.headers)
    assert granted.get_json() == {"username": "police_t01", "process_designer": True, "changed": True}
    again = admin.client.put(f"{P}/designers/police_t01", headers=admin.headers)
    assert again.get_json() == {"username": "police_t01", "process_designer": True, "changed": False}
    revoked = admin.client.delete(f"{P}/designers/police_t01", headers=admin.headers)
    assert revoked.get_json() == {"username": "police_t01", "process_designer": False, "changed": True}


def test_a_migration_plan_names_its_target_version(as_user: Any) -> None:
    designer = as_user("designer")
    version = designer.get(f"{P}/four_in_one/versions").get_json()["items"][0]
    plan = designer.get(f"{P}/four_in_one/versions/{version['version']}/migration-plan").get_json()
    assert plan == {"target": {"id": version["id"], "version": version["version"]}, "movable": 0,
                    "items": plan["items"]}
    assert all(row["from_version"] != version["version"] for row in plan["items"])


def test_a_test_run_answers_the_same_body_started_read_and_listed(as_user: Any) -> None:
    designer = as_user("designer")
    draft = designer.post(f"{P}/drafts", json={"process_key": "four_in_one"}).get_json()
    start = SCENARIOS["living_alone_parents_reached_good_caring"].start
    run = designer.post(f"{P}/drafts/{draft['id']}/test-runs", json={"data": start}).get_json()
    assert set(run) == {"id", "draft_id", "status", "content_hash", "start_data", "data", "path", "ready", "clock_at",
                        "timers", "error", "started_at", "updated_at", "forms"}
    assert (run["draft_id"], run["status"], run["start_data"], run["error"]) == (draft["id"], "running", start, None)
    [ready] = run["ready"]
    assert ready["bpmn_id"] == "police_triage" and ready["overdue"] is False
    assert list(run["forms"]) == [ready["form"]] and run["forms"][ready["form"]]["type"] == "object"
    assert run["clock_at"] == datetime.fromisoformat(run["clock_at"]).isoformat()
    assert designer.get(f"{P}/test-runs/{run['id']}").get_json() == run
    assert designer.get(f"{P}/drafts/{draft['id']}/test-runs").get_json() == {"items": [run]}
