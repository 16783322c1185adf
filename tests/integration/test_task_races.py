"""Claims racing claims and completions: exactly one claimer wins, nothing lands on a closed task, no
deadlock (issue 11, part 1; the lock order is in docs/architecture.md).

Each test forces the interleaving that used to go wrong by pausing one request at a SQL statement
(``races.statement_hooks``), so it fails on the old code every time, not once in a while.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user
from races import is_instance_lock, is_task_read, is_task_update, run_threads, statement_hooks
from webhelpers import PageClient

from app.cases.models import TimelineEntry
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks.models import Task

pytestmark = pytest.mark.committing  # threads, servers or processes of their own: real commits

SCENARIO = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone")
FIRST = SCENARIO.steps[0]


def _first_task(as_user: Any) -> tuple[int, Any, Any]:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    liaison = as_user(unit_user(FIRST.lane, "t01v01"))
    head = as_user(unit_user(FIRST.lane, "t01v01") + "_head")
    [task] = open_tasks(liaison, step=FIRST.bpmn_id)
    return task["id"], liaison, head


def _post(app: Any, api: Any, path: str, body: Any = None) -> Any:
    def call() -> int:
        return app.test_client().post(path, json=body, headers=api.headers).status_code
    return call


def _timeline_count(task_id: int, kind: str) -> int:
    return db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == kind)) or 0


def test_two_people_claiming_the_same_task_exactly_one_wins(app: Any, as_user: Any) -> None:
    task_id, liaison, head = _first_task(as_user)
    db.session.remove()
    both_read = threading.Barrier(2)
    waited: set[str] = set()

    def after(thread: str, statement: str) -> None:
        if thread.startswith("claim-") and thread not in waited and is_task_read(statement):
            waited.add(thread)  # both have read the task as unclaimed before either writes
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait(timeout=2)

    with statement_hooks(db.engine, after=after):
        results = run_threads({"claim-a": _post(app, liaison, f"/api/v1/tasks/{task_id}/claim"),
                               "claim-b": _post(app, head, f"/api/v1/tasks/{task_id}/claim")})
    assert sorted(results.values()) == [200, 409], results
    db.session.remove()
    row = db.session.get(Task, task_id)
    winner = user_by_username(unit_user(FIRST.lane, "t01v01") + ("" if results["claim-a"] == 200 else "_head"))
    assert row.assignee_id == winner.id
    assert _timeline_count(task_id, "task_claimed") == 1


def test_a_claim_never_lands_on_a_completed_task(app: Any, as_user: Any) -> None:
    """The claimer reads the task open, then a colleague's completion runs: exactly one of them wins.

    On PostgreSQL the completion commits under the paused claimer, which used to overwrite the assignee
    of the completed task and answer 200. On SQLite the claimer may already hold the database's writer
    lock (its token's last-use stamp), so the completion waits behind it instead: then the claim
    wins and the completion, checked after its lock, is refused - it used to complete anyway on what
    it had read before the claim (both 200).
    """
    task_id, liaison, head = _first_task(as_user)
    db.session.remove()
    claim_read, completed = threading.Event(), threading.Event()

    def after(thread: str, statement: str) -> None:
        if thread == "claim" and not claim_read.is_set() and is_task_read(statement):
            claim_read.set()  # the claimer saw the task open; now the completion runs under it
            completed.wait(timeout=3)

    def complete() -> int:
        claim_read.wait(timeout=10)
        try:
            return _post(app, liaison, f"/api/v1/tasks/{task_id}/complete", {"data": FIRST.data})()
        finally:
            completed.set()

    with statement_hooks(db.engine, after=after):
        results = run_threads({"claim": _post(app, head, f"/api/v1/tasks/{task_id}/claim"), "complete": complete})
    assert sorted(results.values()) == [200, 409], results
    db.session.remove()
    row = db.session.get(Task, task_id)
    head_id = user_by_username(unit_user(FIRST.lane, "t01v01") + "_head").id
    if results["complete"] == 200:
        assert row.state == "completed" and row.assignee_id == row.completed_by_id != head_id
        assert _timeline_count(task_id, "task_claimed") == 0
    else:
        assert row.state == "open" and row.assignee_id == head_id
        assert _timeline_count(task_id, "task_completed") == 0
    if db.engine.dialect.name == "postgresql":
        assert results == {"claim": 409, "complete": 200}, results


@pytest.mark.postgres
@pytest.mark.parametrize("action", ["claim", "unclaim", "reassign"])
def test_claim_unclaim_reassign_racing_a_completion_never_deadlock(app: Any, as_user: Any, action: str) -> None:
    """The task command writes the task row first; the completion holds the instance lock and wants that row.

    The old code then had the task command wait for the instance (its timeline row references it):
    PostgreSQL found the deadlock and one side answered 500.
    """
    task_id, liaison, head = _first_task(as_user)
    head_name = unit_user(FIRST.lane, "t01v01") + "_head"
    if action == "unclaim":
        assert liaison.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
        act = _post(app, liaison, f"/api/v1/tasks/{task_id}/unclaim")
        completer = head
    elif action == "claim":
        act = _post(app, head, f"/api/v1/tasks/{task_id}/claim")
        completer = liaison
    else:
        pages = PageClient(app, head_name)
        to_user = user_by_username(unit_user(FIRST.lane, "t01v01")).id

        def act() -> int:
            return pages.post("/inbox/reassign", {"task_ids": str(task_id), "to_user_id": str(to_user),
                                                  "next": "/inbox"}).status_code
        completer = liaison
    db.session.remove()
    task_written, instance_locked = threading.Event(), threading.Event()

    def before(thread: str, statement: str) -> None:
        if thread == "complete" and is_instance_lock(statement):
            task_written.wait(timeout=5)

    def after(thread: str, statement: str) -> None:
        if thread == "act" and is_task_update(statement) and not task_written.is_set():
            task_written.set()
            instance_locked.wait(timeout=3)  # the fixed code holds the instance here: the completion waits
        if thread == "complete" and is_instance_lock(statement):
            instance_locked.set()

    with statement_hooks(db.engine, before=before, after=after):
        results = run_threads({"act": act, "complete": _post(app, completer, f"/api/v1/tasks/{task_id}/complete",
                                                              {"data": FIRST.data})})
    assert all(isinstance(code, int) and code < 500 for code in results.values()), results
    assert results["complete"] in (200, 409) and results["act"] in (200, 302, 409), results
    db.session.remove()
    row = db.session.get(Task, task_id)
    assert row.state == ("completed" if results["complete"] == 200 else "open")
    assert _timeline_count(task_id, "task_completed") == (1 if results["complete"] == 200 else 0)


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["sweep", "completion"])
def test_the_escalation_sweep_and_a_completion_never_deadlock(app: Any, as_user: Any, clock: Any, first: str) -> None:
    """The sweep is the one command that locks task rows without the instance (``SKIP LOCKED``, and its
    timeline rows reference no instance): whichever of the two holds the task row first, neither waits
    for the other in a cycle."""
    from app.deadlines.models import Escalation
    from app.deadlines.sweep_batch import escalate

    task_id, liaison, _head = _first_task(as_user)
    db.session.get(Task, task_id).next_escalation_at = clock.at
    db.session.commit()
    db.session.remove()
    at = clock.at + timedelta(hours=1)
    holds = threading.Event()

    def is_sweep_lock(statement: str) -> bool:
        return "SKIP LOCKED" in statement.upper()

    def before(thread: str, statement: str) -> None:
        if first == "sweep" and thread == "complete" and is_instance_lock(statement):
            holds.wait(timeout=5)
        if first == "completion" and thread == "sweep" and is_sweep_lock(statement):
            holds.wait(timeout=5)

    def after(thread: str, statement: str) -> None:
        if not holds.is_set() and ((first == "sweep" and thread == "sweep" and is_sweep_lock(statement))
                                   or (first == "completion" and thread == "complete" and is_task_update(statement))):
            holds.set()
            time.sleep(1.5)  # the other command runs into the row this one holds

    def sweep() -> int:
        with app.app_context():
            taken = escalate([task_id], at)
            db.session.commit()
            return taken

    with statement_hooks(db.engine, before=before, after=after):
        results = run_threads({"sweep": sweep, "complete": _post(app, liaison, f"/api/v1/tasks/{task_id}/complete",
                                                                {"data": FIRST.data})})
    assert results["complete"] == 200, results
    assert isinstance(results["sweep"], int), results
    db.session.remove()
    steps = db.session.scalar(sa.select(sa.func.count(Escalation.id)).where(Escalation.task_id == task_id))
    assert steps == results["sweep"] and (steps >= 1 if first == "sweep" else steps == 0)
    assert db.session.get(Task, task_id).state == "completed" and _timeline_count(task_id, "task_completed") == 1
