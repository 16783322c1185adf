"""A step's writes as one statement on PostgreSQL (``workflow.saving.flush``, ``common.bulk.Statement``): the instance,
the completed task, the new tasks, the timeline entries and the notifications are the parts of one data-modifying
``WITH``. What must still hold: every row reads back as the session held it, a stale version (the optimistic check
that used to be an UPDATE's rowcount) is a 409 that writes nothing, and rows the unit of work writes beside them are
written after the step's own. On SQLite the same tests hold the statement-per-table path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import report_payload, unit_user
from sqlalchemy.orm.exc import StaleDataError
from sqlcount import not_savepoint, statements_sent

from app.cases.models import Case, TimelineEntry
from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.common import bulk
from app.common.errors import Conflict
from app.extensions import db
from app.notifications.bulk import NOTIFICATION_COLUMNS, notify_many
from app.notifications.models import Notification
from app.org.models import User
from app.org.queries import user_by_username
from app.processes.models import ProcessInstance
from app.tasks.models import Task
from app.workflow import commands, rows

STEPS = SCENARIOS["living_alone_parents_reached_good_caring"].steps
"""police_triage (opens police_living_alone), police_living_alone, police_legal_disposition (opens three)..."""
SITUATION = SCENARIOS["living_alone_parents_reached_good_caring"].start["situation"]
AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
TASK_COLUMNS = [c.key for c in sa.inspect(Task).column_attrs]


def _case() -> Case:
    case, created = accept_report(ReportIn().load(report_payload(SITUATION, "t01v01")), user_by_username("reporter_school"))
    assert created
    db.session.flush()
    return case


def _open(case_id: int, bpmn_id: str) -> Task:
    task = db.session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.bpmn_id == bpmn_id,
                                                   Task.state == "open"))
    assert task is not None, bpmn_id
    return task


def _counts(case_id: int) -> tuple[int, int, int]:
    """The case's timeline entries, tasks and notifications."""
    return (db.session.scalar(sa.select(sa.func.count()).where(TimelineEntry.case_id == case_id)) or 0,
            db.session.scalar(sa.select(sa.func.count()).where(Task.case_id == case_id)) or 0,
            db.session.scalar(sa.select(sa.func.count()).where(Notification.case_id == case_id)) or 0)


def _user(lane: str) -> User:
    user = user_by_username(unit_user(lane, "t01v01"))
    assert user is not None
    return user


def _complete(case_id: int, step: Any) -> Task:
    task = _open(case_id, step.bpmn_id)
    commands.complete(task, _user(step.lane), dict(step.data))
    return task


def test_the_rows_of_a_step_read_back_as_the_session_held_them(demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """police_legal_disposition opens three tasks: each new row, the completed task and the instance, as written by
    the one statement, equal what the session held after the step (UTC datetimes, JSON, NULLs, defaults)."""
    case = _case()
    for step in STEPS[:2]:
        _complete(case.id, step)
    written: list[Task] = []
    write = rows.write

    def kept(**kw: Any) -> list[bulk.Statement]:
        written.extend(o for o in [*db.session.new, *db.session.dirty] if isinstance(o, Task))
        return write(**kw)

    monkeypatch.setattr(rows, "write", kept)
    completed = _complete(case.id, STEPS[2])
    monkeypatch.setattr(rows, "write", write)
    held = {task.id: {key: getattr(task, key) for key in TASK_COLUMNS} for task in written}
    instance = db.session.get(ProcessInstance, completed.instance_id)
    assert instance is not None
    held_instance = (instance.version, instance.state, instance.data, instance.updated_at)
    assert len([t for t in held.values() if t["state"] == "open"]) == 3

    db.session.expire_all()
    stored = {task.id: {key: getattr(task, key) for key in TASK_COLUMNS}
              for task in db.session.scalars(sa.select(Task).where(Task.id.in_(held)))}
    assert len(stored) == 4 and stored == held
    instance = db.session.get(ProcessInstance, completed.instance_id)
    assert instance is not None
    assert (instance.version, instance.state, instance.data, instance.updated_at) == held_instance
    assert stored[completed.id]["state"] == "completed" and stored[completed.id]["completed_at"] is not None


def test_a_step_whose_instance_changed_meanwhile_is_a_conflict_that_writes_nothing(
        demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone saved the instance between the lock's read and the step's write (the version moved): the check rides
    in the step's one statement on PostgreSQL, and its other parts (the task rows, the timeline, the notifications)
    go with the rolled-back transaction."""
    case = _case()
    _complete(case.id, STEPS[0])
    task = _open(case.id, STEPS[1].bpmn_id)
    before = _counts(case.id)
    version = db.session.scalar(sa.select(ProcessInstance.version).where(ProcessInstance.id == task.instance_id))
    write = rows.write

    def moved_meanwhile(**kw: Any) -> list[bulk.Statement]:
        db.session.connection().execute(sa.text("UPDATE process_instance SET version = version + 1 WHERE id = :id"),
                                        {"id": task.instance_id})  # behind the session's back: it holds the old one
        return write(**kw)

    monkeypatch.setattr(rows, "write", moved_meanwhile)
    with pytest.raises(Conflict, match="changed while you were working"), db.session.begin_nested():
        commands.complete(task, _user(STEPS[1].lane), dict(STEPS[1].data))
    monkeypatch.setattr(rows, "write", write)

    db.session.expire_all()
    assert _counts(case.id) == before
    assert _open(case.id, STEPS[1].bpmn_id).id == task.id
    assert db.session.scalar(sa.select(ProcessInstance.version).where(ProcessInstance.id == task.instance_id)) == version


def test_rows_the_unit_of_work_writes_beside_the_step_go_after_the_steps_own(
        demo: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row the unit of work must write in the same flush may name the step's rows: then those are sent first, one
    statement each, and the timeline and notifications after the unit of work, as on SQLite."""
    case = _case()
    user = _user(STEPS[0].lane)
    write = rows.write

    def with_a_change_of_its_own(**kw: Any) -> list[bulk.Statement]:
        user.display_name = user.display_name + "·"  # something only the unit of work writes
        return write(**kw)

    monkeypatch.setattr(rows, "write", with_a_change_of_its_own)
    with statements_sent(not_savepoint) as seen:
        _complete(case.id, STEPS[0])
    writes = [s.split(" SET")[0].split(" (")[0] for s in seen[seen.index(next(s for s in seen if "FOR NO KEY" in s
                                                                                 or s.startswith("INSERT INTO audit")))
                                                                + 1:]
              if not s.startswith(("SELECT", "WITH RECURSIVE"))]
    assert writes[:4] == ["UPDATE process_instance", "UPDATE task", "INSERT INTO task", "UPDATE user_account"], seen
    assert writes[4:] in (["WITH along_0 AS"], ["INSERT INTO timeline_entry", "INSERT INTO notification"]), seen
    db.session.expire_all()
    assert _open(case.id, STEPS[1].bpmn_id) is not None
    assert db.session.get(User, user.id).display_name.endswith("·")  # type: ignore[union-attr]


def _note(user: User, key: str, case_id: int) -> dict[str, Any]:
    row = {"user_id": user.id, "kind": "new_task", "title": "新任务", "body": "", "case_id": case_id, "task_id": None,
           "dedupe_key": key, "created_at": AT}
    return {c: row[c] for c in NOTIFICATION_COLUMNS}


def _entry(case_id: int, kind: str) -> dict[str, Any]:
    return {"case_id": case_id, "at": AT, "kind": kind, "summary": kind, "actor_id": None, "unit_id": None,
            "task_id": None, "instance_id": None, "detail": {}}


def test_statements_go_with_the_rows_typed_as_their_columns(demo: Any) -> None:
    """``update_statement``: a JSON value and a UTC datetime stored as their columns store them, the version checked;
    on PostgreSQL one statement with the timeline entry and the notification."""
    case = _case()
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.case_id == case.id))
    assert instance is not None
    user = db.session.scalars(sa.select(User).order_by(User.id)).first()
    assert user is not None
    table = ProcessInstance.__table__
    update = bulk.update_statement("w0", table, ("id", instance.id),  # type: ignore[arg-type]
                                   {"data": {"名": "甲", "n": [1, None]}, "updated_at": AT,
                                    "version": instance.version + 1}, ("version", instance.version))
    with statements_sent(not_savepoint) as seen:
        assert notify_many([_note(user, "stmt:1", case.id)], {user.id: user}, AT,
                           along=[update, (TimelineEntry, [_entry(case.id, "stmt_along")])]) == 1
    if db.engine.dialect.name == "postgresql":
        assert len(seen) == 1 and seen[0].startswith("WITH w0 AS (UPDATE process_instance"), seen
    else:
        assert [s.split(" ")[0] for s in seen] == ["UPDATE", "INSERT", "INSERT"], seen
    db.session.expire_all()
    stored = db.session.get(ProcessInstance, instance.id)
    assert stored is not None
    assert (stored.data, stored.updated_at, stored.version) == ({"名": "甲", "n": [1, None]}, AT, update.params["w0_version"])
    assert db.session.scalar(sa.select(sa.func.count()).where(TimelineEntry.kind == "stmt_along")) == 1


def test_a_stale_statement_fails_the_whole(demo: Any) -> None:
    """A version that no longer matches: ``StaleDataError``, and (once the transaction rolls back, as the command's
    409 does) neither the notification nor the timeline entry is there."""
    case = _case()
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.case_id == case.id))
    assert instance is not None
    user = db.session.scalars(sa.select(User).order_by(User.id)).first()
    assert user is not None
    stale = bulk.update_statement("w0", ProcessInstance.__table__, ("id", instance.id),  # type: ignore[arg-type]
                                  {"updated_at": AT}, ("version", instance.version - 1))
    with pytest.raises(StaleDataError, match="process_instance"), db.session.begin_nested():
        notify_many([_note(user, "stmt:stale", case.id)], {user.id: user}, AT,
                    along=[stale, (TimelineEntry, [_entry(case.id, "stmt_stale")])])
    assert db.session.scalar(sa.select(sa.func.count()).where(Notification.dedupe_key == "stmt:stale")) == 0
    assert db.session.scalar(sa.select(sa.func.count()).where(TimelineEntry.kind == "stmt_stale")) == 0
    with pytest.raises(StaleDataError), db.session.begin_nested():  # alone, with nothing to ride on
        notify_many([], {}, AT, along=[stale])
