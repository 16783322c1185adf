"""Many clients at once on one task and one report key: one winner, the rest a clean 409 or a replay.

The same races as ``test_task_races`` / ``test_report_idempotency``, without forcing an interleaving:
ten real requests released together by a barrier, as a busy unit or a retrying client produces them.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, report_payload, submit_report, unit_user
from races import run_threads

from app.cases.models import Case, TimelineEntry
from app.extensions import db
from app.org.models import User
from app.org.roles import Role
from app.tasks.models import Task

pytestmark = pytest.mark.committing  # threads, servers or processes of their own: real commits

CROWD = 10
FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]


def _together(app: Any, calls: list[tuple[Any, str, Any]]) -> Counter[Any]:
    """POST every (api client, path, body) at the same moment; the count of each status (or exception)."""
    start = threading.Barrier(len(calls))

    def call(api: Any, path: str, body: Any) -> Any:
        def run() -> Any:
            client = app.test_client()
            start.wait(timeout=10)
            return client.post(path, json=body, headers=api.headers).status_code
        return run

    results = run_threads({f"c{i}": call(*c) for i, c in enumerate(calls)}, timeout=120)
    return Counter(r if isinstance(r, int) else type(r).__name__ for r in results.values())


def _members(kind: str) -> list[str]:
    unit_id = db.session.scalar(sa.select(User.unit_id).where(User.username == unit_user(kind, "t01v01")))
    return [u.username for u in db.session.scalars(sa.select(User).where(User.unit_id == unit_id))
            if u.has_role(Role.LIAISON, Role.UNIT_HEAD)]


def test_a_crowd_claiming_and_completing_one_task(app: Any, as_user: Any) -> None:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    names = _members(FIRST.lane)
    assert len(names) >= 2
    ids = {name: db.session.scalar(sa.select(User.id).where(User.username == name)) for name in names}
    members = {name: as_user(name) for name in names}
    [task] = open_tasks(members[names[0]], step=FIRST.bpmn_id)
    claimers = [names[i % len(names)] for i in range(CROWD)]
    db.session.remove()
    got = _together(app, [(members[n], f"/api/v1/tasks/{task['id']}/claim", None) for n in claimers])
    db.session.remove()
    holder = db.session.get(Task, task["id"]).assignee_id
    winner = next(n for n in names if ids[n] == holder)
    # the holder's own repeated claims are idempotent 200s; every other member's is 409
    assert got == Counter({200: claimers.count(winner), 409: CROWD - claimers.count(winner)}), got
    assert db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == task["id"], TimelineEntry.kind == "task_claimed")) == 1

    body = {"data": FIRST.data, "idempotency_key": "crowd-complete-0001"}
    got = _together(app, [(members[winner], f"/api/v1/tasks/{task['id']}/complete", body)] * CROWD)
    assert got == Counter({200: CROWD}), got
    assert db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == task["id"], TimelineEntry.kind == "task_completed")) == 1


def test_a_crowd_of_retries_of_one_report(app: Any, as_user: Any) -> None:
    api = as_user("hotline_12355")
    body = report_payload("missing") | {"idempotency_key": "crowd-report-0001"}
    db.session.remove()
    got = _together(app, [(api, "/api/v1/reports", body)] * CROWD)
    assert got == Counter({201: 1, 200: CROWD - 1}), got
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 1
