"""A half-finished case is resumed by a brand-new app process (state lives only in the database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user

from app.extensions import db

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = [pytest.mark.committing, pytest.mark.long]  # a second app process reads what this one committed

CHILD = r"""
import json, sys
from app import create_app
from app.extensions import db
from app.org.queries import user_by_username
from app.workflow import commands as operations
from app.tasks.models import Task
import sqlalchemy as sa

url, instance_dir, case_id, username, bpmn_id, data = sys.argv[1:7]
app = create_app({"database_url": url, "instance_dir": instance_dir, "secret_key": "x"})
with app.app_context():
    task = db.session.scalar(sa.select(Task).where(Task.case_id == int(case_id), Task.bpmn_id == bpmn_id,
                                                   Task.state == "open"))
    operations.complete(task, user_by_username(username), json.loads(data))
    db.session.commit()
    print(json.dumps(sorted(t.bpmn_id for t in db.session.scalars(
        sa.select(Task).where(Task.case_id == int(case_id), Task.state == "open")))))
"""


def test_second_process_completes_the_next_step_of_a_case_started_here(app: Any, as_user: Any,
                                                                        database_url: str) -> None:
    scenario = SCENARIOS["living_alone_parents_reached_good_caring"]
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t02v01")["case_id"]
    first, second = scenario.steps[0], scenario.steps[1]
    api = as_user(unit_user(first.lane, "t02v01"))
    [task] = [t for t in open_tasks(api, case_id=case_id) if t["bpmn_id"] == first.bpmn_id]
    assert api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": first.data}).status_code == 200
    db.session.remove()

    out = subprocess.run(
        [sys.executable, "-c", CHILD, database_url, str(app.config["LIANDONG"].instance_dir), str(case_id),
         unit_user(second.lane, "t02v01"), second.bpmn_id, json.dumps(second.data)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    still_open = json.loads(out.stdout.strip().splitlines()[-1])
    assert second.bpmn_id not in still_open
    assert scenario.steps[2].bpmn_id in still_open
    # And this process sees the other one's work.
    seen = [t["bpmn_id"] for t in open_tasks(as_user(unit_user(scenario.steps[2].lane, "t02v01")), case_id=case_id)]
    assert scenario.steps[2].bpmn_id in seen
