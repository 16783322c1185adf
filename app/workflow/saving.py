"""Save one engine step: the instance row, the projections, the events, in the command's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from app import engine
from app.cases.models import Case, TimelineEntry
from app.common import bulk, events
from app.common.clock import now
from app.common.errors import Conflict
from app.extensions import db
from app.notifications.bulk import hold
from app.org.models import User
from app.processes.models import ProcessInstance
from app.tasks.models import Attachment, Task

from . import rows
from .projection import rebuild, write_waiting


def save(instance: ProcessInstance, case: Case, snap: engine.InstanceSnapshot, actor: User | None,
         completed: Task | None = None, data: dict[str, Any] | None = None,
         open_tasks: list[Task] | None = None, files: list[Attachment] | None = None,
         others_running: bool | None = None, at: datetime | None = None) -> None:
    """Store ``snap`` on the (locked) instance, rebuild its projections and tell the subscribers.

    ``completed``/``data``: the task this step completed and its validated form data; ``open_tasks``: the
    instance's open task rows if the command read them under its lock; ``others_running``: whether another instance of
    the case runs, if the command read it under its lock (else read when this step ends the instance). Does not flush (the command
    flushes once, after its audit row, with ``flush``: a save that lost the optimistic ``version`` race is
    a 409 there and the caller's transaction rolls back); only a task no unit serves is flushed early, for its
    coordinators' notification. ``at``: the step's time, when the command already took it.
    """
    at = at or now()
    hold()  # the step's notifications (its receivers' held ones, its new tasks') go out in one INSERT after the flush
    instance.state = snap.state
    instance.serializer_version = snap.serializer_version
    instance.data = jsonable(snap.data)
    instance.updated_at = at
    finished_now = snap.completed and instance.status != "completed"
    if finished_now:
        instance.status = "completed"
        instance.completed_at = at
        instance.end_event = snap.end_event
    events.instance_saved.send(instance, case=case, data=snap.data, actor=actor)
    rebuild(instance, case, snap, actor, completed=completed, data=data, open_tasks=open_tasks, files=files)
    if finished_now:
        end_name = next((step.name for step in snap.steps if step.bpmn_id == snap.end_event and step.name), "")
        with db.session.no_autoflush:  # nothing they read is pending: the step's writes wait for the one flush
            events.instance_completed.send(instance, case=case, actor=actor, end_event=snap.end_event or "",
                                           end_name=end_name,
                                           last_of_case=not (_others_running(instance) if others_running is None
                                                             else others_running))


def flush() -> None:
    """Flush the command's writes, then the step's timeline entries and its notifications (the tasks it opened, its
    receivers' held ones: one INSERT); a stale instance version (someone saved first) becomes a 409.

    The timeline entries pending in the session go out as one Core INSERT after the unit of work (which writes the
    task rows they may name): nothing reads an entry's id back, so the ORM's per-row bookkeeping (and, on SQLite,
    one ``INSERT ... RETURNING id`` per entry) buys nothing here. On PostgreSQL the step's own rows (``rows.write``:
    the instance, the completed task, the new tasks, the case), that INSERT and the notification INSERT are one
    statement, parts of one data-modifying ``WITH`` (``common.bulk.insert_many``'s ``along``): the step's writes are
    one round trip, unless the unit of work has rows of its own to write, which may name them (then the step's rows
    go first, one statement each). A stale version (the instance's, a task's) fails the check of that statement:
    409, and the caller's transaction, which holds whatever the statement wrote, rolls back."""
    entries = _take_timeline()
    session = db.session()
    try:
        # the case, instance and task rows by Core statements (on PostgreSQL built now, sent below); whatever else
        # by the unit of work
        written = rows.write(defer=session.connection().dialect.name == "postgresql")
        if written and (session.new or session.dirty or session.deleted):
            for statement in written:  # the unit of work's rows may name them: theirs first
                bulk.execute(statement)
            written = []
        session.flush()
        # the step's rows, its notifications (the tasks just written, the receivers' held ones) and its timeline
        # entries: one statement on PostgreSQL (one round trip), a few on SQLite
        write_waiting(along=[*written, (TimelineEntry, entries)])
    except StaleDataError as exc:
        raise Conflict("the case changed while you were working on it; reload and try again") from exc


_ENTRY_COLUMNS = ("case_id", "at", "kind", "summary", "actor_id", "unit_id", "task_id", "instance_id", "detail")


def _take_timeline() -> list[dict[str, Any]]:
    """The timeline entries waiting in the session, as rows in the order they were recorded, out of the session."""
    pending = sorted((o for o in db.session.new if isinstance(o, TimelineEntry)),
                     key=lambda entry: sa.inspect(entry).insert_order or 0)
    rows = []
    for entry in pending:
        db.session.expunge(entry)
        row = {name: getattr(entry, name) for name in _ENTRY_COLUMNS}
        if row["detail"] is None:
            row["detail"] = {}
        rows.append(row)
    return rows


def _others_running(instance: ProcessInstance) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(
        ProcessInstance.case_id == instance.case_id, ProcessInstance.id != instance.id,
        ProcessInstance.status == "running"))))


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result
