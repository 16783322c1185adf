"""The flask CLI: demo load is idempotent, tokens work, reports and tasks can be worked from a shell."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import report_payload

from app.extensions import db
from app.org.models import Region, Unit, User
from app.tasks.models import Task


def test_demo_load_is_idempotent_and_prints_logins(app: Any) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "liandong-demo" in first.output and "police_t01" in first.output and "four_in_one v1" in first.output
    with app.app_context():
        counts = [db.session.scalar(sa.select(sa.func.count(m.id))) for m in (Region, Unit, User)]
    # the demo county (1 + 3 townships + 6 villages), its neighbour (1 + 1 + 2), the city and the province
    assert counts[0] == (1 + 3 + 3 * 2) + (1 + 1 + 2) + 2
    assert "city_supervisor" in first.output and "coordinator_c02" in first.output
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0 and "four_in_one v1" in again.output
    with app.app_context():
        assert [db.session.scalar(sa.select(sa.func.count(m.id))) for m in (Region, Unit, User)] == counts


def test_token_printed_by_cli_authenticates_the_api(app: Any, client: Any) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    out = runner.invoke(args=["users", "token", "police_t01"])
    assert out.exit_code == 0
    token = out.output.strip()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["username"] == "police_t01" and me["unit"]["kind"] == "police"
    assert runner.invoke(args=["users", "token", "nobody"]).exit_code == 1


def test_report_and_tasks_from_the_shell(app: Any, tmp_path: Any) -> None:
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    payload = tmp_path / "report.json"
    payload.write_text(json.dumps(report_payload("living_alone", "t01v02")), encoding="utf-8")
    out = runner.invoke(args=["reports", "submit", "--as", "reporter_school", str(payload)])
    assert out.exit_code == 0 and "opened: case LD2026" in out.output
    listing = runner.invoke(args=["tasks", "list", "--as", "police_t01"])
    step = SCENARIOS["living_alone_parents_reached_good_caring"].steps[0]
    assert step.bpmn_id in listing.output
    with app.app_context():
        task_id = db.session.scalar(sa.select(Task.id).where(Task.bpmn_id == step.bpmn_id))
    bad = runner.invoke(args=["tasks", "complete", "--as", "police_t01", str(task_id), "{}"])
    assert bad.exit_code == 2 and "refused (422)" in bad.output
    other = runner.invoke(args=["tasks", "complete", "--as", "police_t02", str(task_id), json.dumps(step.data)])
    assert other.exit_code == 2 and "refused (403)" in other.output
    ok = runner.invoke(args=["tasks", "complete", "--as", "police_t01", str(task_id), json.dumps(step.data)])
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        assert db.session.get(Task, task_id).state == "completed"
