"""Keep the ``task`` and ``timer`` rows in step with the engine after every save."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from app.cases.access import task_workers
from app.cases.timeline import record
from app.common.clock import now
from app.deadlines.arithmetic import DeadlineSyntaxError, WorkingCalendar, due_at, parse_deadline, remind_at
from app.deadlines.calendar import absolute_deadline, office_hours_reminder
from app.deadlines.calendar import working_calendar as stored_calendar
from app.deadlines.escalation import start_ladder, stop_ladder
from app.deadlines.ladder import LadderBook
from app.engine import properties as P
from app.extensions import db
from app.notifications.operations import notify
from app.org.queries import nearest_unit

from .models import Task, TaskState
from .timers import sync_timers

if TYPE_CHECKING:
    from app import engine
    from app.cases.models import Case
    from app.org.models import User
    from app.processes.models import ProcessInstance


def working_calendar() -> WorkingCalendar:
    """The county's calendar: the official schedule plus the overrides admins stored (``calendar_day``)."""
    return stored_calendar()


def compute_due(created: datetime, deadline: str | None,
                calendar: WorkingCalendar | None = None) -> tuple[datetime | None, datetime | None]:
    """(due_at, remind_at) for a deadline property; a deadline already past is simply overdue.

    Besides durations and working days, an ``=expression`` deadline may give an
    absolute date or datetime (a conference decision "by 2027-03-01"); a date
    means the end of that working day. Reminders of working-day deadlines are
    kept in office hours (``calendar.office_hours_reminder``).
    """
    if not deadline:
        return None, None

    tz = ZoneInfo(current_app.config["LIANDONG"].county_timezone)
    calendar = calendar or working_calendar()
    try:
        parsed = parse_deadline(deadline)
    except DeadlineSyntaxError:
        fixed = absolute_deadline(deadline, tz, calendar)
        if fixed is None:
            return None, None  # refused at deploy; an old version's bad value must not block the case
        return fixed, remind_at(created, fixed)
    due = due_at(created, parsed, tz, calendar)
    remind = remind_at(created, due)
    if parsed.is_working_days:
        remind = office_hours_reminder(remind, due, tz, calendar)
    return due, remind


def mark_completed(task: Task, case: Case, actor: User, data: dict[str, Any]) -> None:
    task.state = TaskState.COMPLETED
    task.completed_at = now()
    task.completed_by_id = actor.id
    task.data = data
    task.next_escalation_at = None  # completing a task stops its escalation ladder
    if task.assignee_id is None:
        task.assignee_id = actor.id
    late = task.due_at is not None and task.completed_at > task.due_at
    record(case, "task_completed", f"{task.name}" + (" (overdue)" if late else ""), actor=actor, task=task,
           detail={"bpmn_id": task.bpmn_id, "task": task.name, "data": data, "late": late})


def sync_projections(instance: ProcessInstance, case: Case, snap: engine.InstanceSnapshot,
                     completed: Task | None = None) -> list[Task]:
    """Insert rows for newly ready tasks, cancel rows the engine dropped, rewrite timers.

    Returns the tasks created by this sync (for notifications).
    """

    at = now()
    calendar: WorkingCalendar | None = None  # read only when a task opens: most steps open none
    book: LadderBook | None = None
    open_rows = {
        t.engine_task_id: t for t in db.session.scalars(
            sa.select(Task).where(Task.instance_id == instance.id, Task.state == TaskState.OPEN))
    }
    ready_ids = {r.id for r in snap.ready_tasks}
    created: list[Task] = []
    for ready in snap.ready_tasks:
        if ready.id in open_rows:
            continue
        if calendar is None or book is None:
            calendar, book = working_calendar(), LadderBook()
        kind = ready.department or ready.lane
        unit = nearest_unit(kind, case.region_id) if kind else None
        due, remind = compute_due(at, ready.deadline, calendar)
        task = Task(
            instance_id=instance.id, case_id=case.id, engine_task_id=ready.id, bpmn_id=ready.bpmn_id,
            name=ready.name, lane=ready.lane, department_kind=kind, unit_id=unit.id if unit else None,
            unit=unit, state=TaskState.OPEN, form=ready.form, instructions=ready.properties.get(P.INSTRUCTIONS, ""),
            deadline=ready.deadline, created_at=at, due_at=due, remind_at=remind,
            escalation=(ready.properties.get(P.ESCALATION) or "").strip() or None,
        )
        start_ladder(task, instance.spec.process_key, book, calendar)
        db.session.add(task)
        db.session.flush()
        created.append(task)
        if unit is None:
            record(case, "task_unrouted", f"{task.name}: no {kind} unit serves this region", task=task,
                   detail={"bpmn_id": task.bpmn_id, "task": task.name, "department_kind": kind})
        else:
            record(case, "task_created", f"{task.name} → {unit.name}", unit=unit, task=task,
                   detail={"bpmn_id": task.bpmn_id, "due_at": due.isoformat() if due else None})
            notify(db.session.scalars(task_workers(unit.id)), "new_task", f"{case.number}: {task.name}", case_id=case.id,
                   task_id=task.id)
    for engine_id, row in open_rows.items():
        if engine_id in ready_ids or (completed is not None and row.id == completed.id):
            continue
        row.state = TaskState.CANCELLED
        row.completed_at = at
        stop_ladder(row)
        record(case, "task_cancelled", f"{row.name} withdrawn by the process", task=row,
               detail={"bpmn_id": row.bpmn_id, "task": row.name})

    sync_timers(instance.id, case.id, snap.timers, at)
    return created
