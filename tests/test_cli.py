"""The flask CLI: demo load is idempotent, tokens work, reports and tasks can be worked from a shell."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import report_payload

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.jurisdiction import manages_user
from app.org.models import Region, Unit, User
from app.org.operations import check_password
from app.org.roles import Role
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


def test_create_admin_makes_the_first_administrator_of_a_region_audited(app: Any) -> None:
    """A new installation's first administrator comes from the shell: pages and API only create accounts inside an
    existing admin's region. The admin manages that county's users and nobody else's."""
    runner = app.test_cli_runner()
    runner.invoke(args=["demo", "load"])
    out = runner.invoke(args=["users", "create-admin", "admin_new", "--region", "c02", "--name", "新管理员"],
                        input="long-enough-1\nlong-enough-1\n")
    assert out.exit_code == 0, out.output
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin_new"))
        assert admin is not None and admin.region.code == "c02" and admin.unit is None
        assert {r.value for r in admin.roles} == {Role.ADMIN.value} and check_password(admin, "long-enough-1")
        ours = db.session.scalar(sa.select(User).where(User.username == "coordinator_c02"))
        theirs = db.session.scalar(sa.select(User).where(User.username == "police_t01"))
        assert ours is not None and theirs is not None
        assert manages_user(admin, ours) and not manages_user(admin, theirs)
        row = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user_create",
                                                            AuditEvent.object_id == str(admin.id)))
        assert row is not None and row.user_id is None and row.address == "cli"

    def refused(*args: str, password: str = "long-enough-1") -> str:
        result = runner.invoke(args=["users", "create-admin", *args], input=f"{password}\n{password}\n")
        assert result.exit_code != 0
        return result.output

    assert "exists" in refused("admin_new", "--region", "c02")
    assert "no region" in refused("admin_x", "--region", "nowhere")
    assert "at least 8" in refused("admin_y", "--region", "c02", password="short")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)
                                 .where(User.username.in_(["admin_x", "admin_y"]))) == 0
