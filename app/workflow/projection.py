"""Rebuild what the app shows of an instance from one engine snapshot, in the command's transaction.

The projections are the completed task row, the timeline's engine steps, a ``task`` row per ready user
task (routed, with its due time and escalation ladder), the rows of tasks the engine dropped, and the
``timer`` rows. Inboxes, dashboards and sweeps read these rows, never the engine state.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.cases.access import task_worker
from app.cases.models import TimelineEntry
from app.cases.timeline import record
from app.common import events
from app.common.bulk import Along
from app.common.clock import now
from app.deadlines.calendar import compute_due
from app.deadlines.escalation import start_ladder, stop_ladder
from app.deadlines.stored_settings import digest_columns, settings_for
from app.engine import ReadyTask
from app.engine import properties as P
from app.extensions import db
from app.notifications.bulk import add_held, hold, notify_many, write_held
from app.notifications.operations import notify
from app.org.models import User
from app.org.queries import (
    county_code_for,
    county_coordinators,
    nearest_units_and_members,
    units_and_members_statement,
)
from app.tasks.models import Attachment, Task, TaskState
from app.tasks.timers import sync_timers

if TYPE_CHECKING:
    from app import engine
    from app.cases.models import Case
    from app.org.models import Unit
    from app.processes.models import ProcessInstance


INTERESTING_STEPS = {"BusinessRuleTask", "ScriptTask", "EndEvent", "BoundaryEvent", "IntermediateCatchEvent"}
"""Engine steps the case timeline shows (user tasks have their own entries; gateways are noise)."""


def rebuild(instance: ProcessInstance, case: Case, snap: engine.InstanceSnapshot, actor: User | None,
            completed: Task | None = None, data: dict[str, Any] | None = None,
            open_tasks: list[Task] | None = None, files: list[Attachment] | None = None) -> list[Task]:
    """Every projection of one saved step, in timeline order: the completed task, the engine's steps,
    the tasks opened and dropped, the timers. Returns the tasks opened."""
    if completed is not None:
        assert actor is not None
        mark_completed(completed, case, actor, data or {}, files or [])
    record_steps(instance, case, snap)
    return sync_projections(instance, case, snap, completed=completed, open_tasks=open_tasks)


def mark_completed(task: Task, case: Case, actor: User, data: dict[str, Any], files: list[Attachment] | None = None) -> None:
    """The task row completed; its timeline entry carries the data and the files sent with it (photos taken
    on the visit), which the case page shows beside the entry."""
    task.state = TaskState.COMPLETED
    task.completed_at = now()
    task.completed_by_id = actor.id
    task.data = data
    task.next_escalation_at = None  # completing a task stops its escalation ladder
    if task.assignee_id is None:
        task.assignee_id = actor.id
    late = task.due_at is not None and task.completed_at > task.due_at
    record(case, "task_completed", f"{task.name}" + (" (overdue)" if late else ""), actor=actor, task=task,
           detail={"bpmn_id": task.bpmn_id, "task": task.name, "data": data, "late": late,
                   **({"attachment_ids": [a.id for a in files]} if files else {})})
    # The receivers read (the township's people, a case's webhook subscribers) without flushing the step's writes,
    # which go out with the command's one flush; what they write joins it.
    with db.session.no_autoflush:
        events.task_completed.send(task, case=case, actor=actor, data=data)


def record_steps(instance: ProcessInstance, case: Case, snap: engine.InstanceSnapshot) -> None:
    """One timeline entry per decision, script, timer and end the engine passed in this step."""
    for step in snap.steps:
        if step.kind in INTERESTING_STEPS:
            summary = step.name
            if step.kind == "BusinessRuleTask" and case.help_tier:
                summary = f"{step.name}: {case.help_tier}"
            record(case, "engine_step", summary, instance=instance,
                   detail={"bpmn_id": step.bpmn_id, "kind": step.kind})


def sync_projections(instance: ProcessInstance, case: Case, snap: engine.InstanceSnapshot,
                     completed: Task | None = None, open_tasks: list[Task] | None = None) -> list[Task]:
    """Insert rows for newly ready tasks, cancel rows the engine dropped, rewrite timers.

    ``open_tasks``: the instance's open task rows as the command read them under its lock (read here when
    not given). Returns the tasks created by this sync (for notifications).
    """
    at = now()
    if open_tasks is None:
        open_tasks = list(db.session.scalars(
            sa.select(Task).where(Task.instance_id == instance.id, Task.state == TaskState.OPEN).order_by(Task.id)))
    open_rows = {t.engine_task_id: t for t in open_tasks if completed is None or t.id != completed.id}
    ready_ids = {r.id for r in snap.ready_tasks}
    new = [ready for ready in snap.ready_tasks if ready.id not in open_rows]
    created = _open_tasks(instance, case, new, at) if new else []
    for engine_id, row in open_rows.items():
        if engine_id in ready_ids:
            continue
        row.state = TaskState.CANCELLED
        row.completed_at = at
        stop_ladder(row)
        record(case, "task_cancelled", f"{row.name} withdrawn by the process", task=row,
               detail={"bpmn_id": row.bpmn_id, "task": row.name})
    if snap.timers or snap.timers_before is not False:  # no timers before nor after: no timer row to rewrite
        sync_timers(instance.id, case.id, snap.timers, at)
    return created


def _open_tasks(instance: ProcessInstance, case: Case, new: list[ReadyTask], at: datetime) -> list[Task]:
    """A task row per newly ready user task: routed, given its due time and ladder, its unit told.

    The reads (routing, county) do not autoflush the step's writes. The new rows get their ids first (with the
    routing: ``_ids``), so their timeline entries go out with the command's one flush and the notifications
    naming them right after it (``write_waiting``); a task no unit serves flushes early, for its coordinators'.
    """
    created: list[Task] = []
    routed: dict[int, tuple[str | None, Unit | None, datetime | None]] = {}
    dialect = db.session.get_bind().dialect.name
    with db.session.no_autoflush:
        # The units and, in the same statement, the people each will tell (its workers present now), the digests of
        # the calendar overrides and the ladders (the process keeps those settings while the digests stay) and the
        # new tasks' ids.
        units, workers, extra = nearest_units_and_members(
            _routing(dialect), {k for ready in new if (k := ready.department or ready.lane)}, case.region_id, at=at,
            **({"new_tasks": len(new)} if dialect == "postgresql" else {}))
        settings = settings_for((extra[0], extra[1]) if extra else None)
        ids = _ids(dialect, len(new), extra[2] if extra else None)
        calendars, book = settings.calendars, settings.book
        county = "*"
        if calendars.counties or book.counties:  # some county has its own days or ladders: is it this one?
            county = county_code_for(case.region_id)
        calendar = calendars(county)
        for ready in new:
            kind = ready.department or ready.lane
            unit = units[kind] if kind else None
            due, remind = compute_due(at, ready.deadline, calendar)
            task = Task(
                id=ids.pop(0), instance_id=instance.id, case_id=case.id, engine_task_id=ready.id, bpmn_id=ready.bpmn_id,
                name=ready.name, lane=ready.lane, department_kind=kind, unit_id=unit.id if unit else None,
                unit=unit, state=TaskState.OPEN, form=ready.form,
                instructions=ready.properties.get(P.INSTRUCTIONS, ""),
                deadline=ready.deadline, created_at=at, due_at=due, remind_at=remind,
                escalation=(ready.properties.get(P.ESCALATION) or "").strip() or None, version=1,
            )
            start_ladder(task, instance.spec.process_key, book, calendar, county)
            db.session.add(task)
            created.append(task)
            routed[id(task)] = (kind, unit, due)
    unrouted = any(routed[id(task)][1] is None for task in created)
    if unrouted:  # the coordinators are told at once (``notify``), so the rows their notifications name go first
        _flush_for_ids()
    # Then no autoflush: the timeline entries go out with the command's one flush, and the units' workers (read
    # with the routing) are told in one insert after it, however many parallel tasks opened.
    with db.session.no_autoflush:
        rows: list[dict[str, Any]] = []
        recipients: dict[int, User] = {}
        for task in created:
            kind, unit, due = routed[id(task)]
            if unit is None:
                record(case, "task_unrouted", f"{task.name}: no {kind} unit serves this region", task=task,
                       detail={"bpmn_id": task.bpmn_id, "task": task.name, "department_kind": kind})
                # Routing never crosses a county: the case's own coordinators are told now, to add the unit or
                # reassign the task, rather than waiting for its ladder to reach them.
                notify(county_coordinators(case.region_id), "task_unrouted", f"{case.number}: {task.name}",
                       case_id=case.id, task_id=task.id)
            else:
                record(case, "task_created", f"{task.name} → {unit.name}", unit=unit, task=task,
                       detail={"bpmn_id": task.bpmn_id, "due_at": due.isoformat() if due else None})
                for worker in workers.get(unit.id, []):
                    recipients[worker.id] = worker
                    rows.append({"user_id": worker.id, "kind": "new_task", "title": f"{case.number}: {task.name}"[:300],
                                 "body": "", "case_id": case.id, "task_id": task.id, "dedupe_key": None,
                                 "created_at": at})
            events.task_opened.send(task, case=case, unit=unit)
        if unrouted:
            notify_many(rows, recipients, at)
        else:
            _wait(rows, recipients, at)
    return created


def _wait(rows: list[dict[str, Any]], recipients: dict[int, User], at: datetime) -> None:
    hold()
    add_held(rows, recipients, at)


def write_waiting(along: Along = ()) -> None:
    """Write the notifications of the tasks the command's flush has just written, with any a receiver of the step
    held (one INSERT for all of them: ``notifications.bulk.hold``), and the ``along`` rows in the same statement (the
    step's timeline entries: ``saving.flush``). Every command that can open tasks calls it after its flush
    (``saving.flush``, the migrations)."""
    write_held(along)


def _ids(dialect: str, count: int, carried: Any) -> list[int]:
    """``count`` ids for new task rows: on PostgreSQL from the sequence (``carried``: the routing statement took
    them); on SQLite after the largest id written or pending in this session (``carried``: the largest stored),
    safe because the command is the one writer since its lock. ``carried`` None: the routing sent no row."""
    if carried is None:
        carried = db.session.scalar(sa.select(_ids_column(dialect)), {"new_tasks": count})
    if dialect == "postgresql":
        return list(carried)
    last = max([int(carried or 0), *(o.id for o in db.session.new if isinstance(o, Task) and o.id is not None)])
    return list(range(last + 1, last + 1 + count))


def _ids_column(dialect: str) -> sa.ScalarSelect[Any]:
    if dialect == "postgresql":
        return (sa.select(sa.func.array_agg(sa.func.nextval(sa.func.pg_get_serial_sequence("task", "id"))))
                .select_from(sa.func.generate_series(1, sa.bindparam("new_tasks"))).scalar_subquery())
    return sa.select(sa.func.max(Task.id)).scalar_subquery()


def _flush_for_ids() -> None:
    """Flush for the new task rows' ids, which their timeline entries and notifications name. The step's timeline
    entries recorded so far need no id: they leave the session for the moment and come back in the order they
    were recorded, so every timeline row of the step goes out in the command's one flush (one multi-row INSERT on
    PostgreSQL), ahead of the opened tasks' entries as before."""
    waiting = sorted((o for o in db.session.new if isinstance(o, TimelineEntry)),
                     key=lambda entry: sa.inspect(entry).insert_order or 0)
    for entry in waiting:
        db.session.expunge(entry)
    db.session.flush()
    db.session.add_all(waiting)


@functools.cache
def _routing(dialect: str) -> sa.Select[Any]:
    """Built once (a recursive CTE and the workers' condition cost more to construct than to run): the units a
    step's new tasks go to and the workers each tells, ``:at`` the moment (who is away then), with the digests of
    the deadline settings (``deadlines.stored_settings``)."""
    return units_and_members_statement(task_worker(sa.bindparam("at"))).add_columns(
        *digest_columns(dialect), _ids_column(dialect).label("task_ids"))
