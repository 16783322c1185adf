"""Two liaisons complete the same task at the same moment: exactly one wins, nothing is lost.

Runs on the real database of the session (PostgreSQL in CI's second pass, where the
instance row is locked ``FOR UPDATE``; SQLite serialises writers and the optimistic
``version`` catches the loser).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user

from app.cases.models import TimelineEntry
from app.extensions import db
from app.processes.models import ProcessInstance
from app.tasks.models import Task

pytestmark = pytest.mark.committing  # threads, servers or processes of their own: real commits

SCENARIO = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone")
FIRST = SCENARIO.steps[0]


@pytest.mark.parametrize("round_", range(3))
def test_two_concurrent_completions_exactly_one_succeeds(app: Any, as_user: Any, round_: int) -> None:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    liaison = as_user(unit_user(FIRST.lane, "t01v01"))
    head = as_user(unit_user(FIRST.lane, "t01v01") + "_head")
    [task] = open_tasks(liaison, step=FIRST.bpmn_id)
    version_before = db.session.get(ProcessInstance, db.session.get(Task, task["id"]).instance_id).version
    db.session.remove()

    barrier = threading.Barrier(2)
    results: list[int] = []

    def complete(api: Any) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": FIRST.data}, headers=api.headers)
        results.append(resp.status_code)

    threads = [threading.Thread(target=complete, args=(a,)) for a in (liaison, head)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200, 409], results

    db.session.remove()
    row = db.session.get(Task, task["id"])
    assert row.state == "completed"
    instance = db.session.get(ProcessInstance, row.instance_id)
    assert instance.version == version_before + 1  # one save, not two
    completions = db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == row.id, TimelineEntry.kind == "task_completed"))
    assert completions == 1
    next_steps = db.session.scalars(sa.select(Task).where(
        Task.instance_id == instance.id, Task.state == "open")).all()
    assert next_steps and all(t.bpmn_id != FIRST.bpmn_id for t in next_steps)
    assert len({t.engine_task_id for t in next_steps}) == len(next_steps)
