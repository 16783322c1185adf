"""``flask processes history|diff|migrate|rollback|designer`` from a shell."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import submit_report

from app.extensions import db
from app.processes.models import InstanceMigration, ProcessSpec

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""


def _v2() -> None:
    from app.processes.operations import deploy

    v1 = db.session.scalar(sa.select(ProcessSpec))
    files = {**v1.files, "four_in_one.bpmn": v1.files["four_in_one.bpmn"].replace('value="PT1H"', 'value="PT2H"', 1)}
    deploy(files, v1.forms, note="cli test")
    db.session.commit()


def test_history_diff_migrate_and_rollback_from_the_shell(app: Any, as_user: Any) -> None:
    case = submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    _v2()
    runner = app.test_cli_runner()
    history = runner.invoke(args=["processes", "history", "four_in_one"])
    assert history.exit_code == 0 and history.output.splitlines()[0].startswith("v2")
    diff = json.loads(runner.invoke(args=["processes", "diff", "four_in_one", "1", "2"]).output)
    assert diff["elements"]["changed"][0]["id"] == "police_triage"
    dry = runner.invoke(args=["processes", "migrate", "four_in_one", "2", "--as", "designer", "--dry-run"])
    assert dry.exit_code == 0 and "can move" in dry.output and case["case_number"] in dry.output
    assert db.session.scalar(sa.select(sa.func.count(InstanceMigration.id))) == 0
    refused = runner.invoke(args=["processes", "migrate", "four_in_one", "2", "--as", "police_t01"])
    assert refused.exit_code == 2 and "only process designers" in refused.output
    moved = runner.invoke(args=["processes", "migrate", "four_in_one", "2", "--as", "designer"])
    assert moved.exit_code == 0 and "moved (migration" in moved.output
    migration_id = db.session.scalar(sa.select(InstanceMigration.id))
    back = runner.invoke(args=["processes", "rollback", str(migration_id), "--as", "designer"])
    assert back.exit_code == 0 and "back on v1" in back.output
    again = runner.invoke(args=["processes", "rollback", str(migration_id), "--as", "designer"])
    assert again.exit_code == 2 and "already rolled back" in again.output


def test_designer_role_from_the_shell(app: Any, demo: Any) -> None:
    runner = app.test_cli_runner()
    out = runner.invoke(args=["processes", "designer", "grant", "police_t01"])
    assert out.exit_code == 0 and "process designer" in out.output
    assert "(unchanged)" in runner.invoke(args=["processes", "designer", "grant", "police_t01"]).output
    assert "not a process designer" in runner.invoke(args=["processes", "designer", "revoke", "police_t01"]).output
