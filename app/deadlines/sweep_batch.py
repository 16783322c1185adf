"""One sweep batch: lock the due tasks, walk their ladders, write every step taken in one statement.

The walk (which step is due, when the next one is) needs the county's working calendar and the
ladders in Python; everything that follows from a step taken is rows derived from rows already in
the database. On PostgreSQL the batch is written by one statement (``_BATCH_SQL``, a data-modifying
``WITH``): the steps come in as one JSON document joined to their task and case once, and the
escalation rows, the tasks' ladder positions, the timeline entries and the notifications are written
from it, so a batch of a thousand tasks sends one write whatever its size (four before: each parsed
the document again and re-joined the escalation rows just written) and builds no per-row dict in
Python. SQLite (the embedded pilot) writes the same rows from Python.

Exactly once per task and level: ``escalation`` is unique on (task, level) and inserted with
``ON CONFLICT DO NOTHING RETURNING``; only the steps this batch wrote get a timeline entry and
notifications (themselves unique per dedupe key), and ``SKIP LOCKED`` lets concurrent sweeps share
the due tasks instead of queueing on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from app.cases.models import Case, TimelineEntry
from app.common import events
from app.common.bulk import insert_many, rows_json, update_many
from app.common.clock import county_zone, is_past_due, now, past_due
from app.common.collector import collector_paused
from app.common.dialect import among, for_update
from app.extensions import db
from app.notifications.bulk import insert_from, notify_many, send_written
from app.org.absence import StandIns
from app.org.models import User
from app.org.queries import county_code_for, load_ancestries
from app.processes.models import ProcessInstance, ProcessSpec
from app.tasks.models import Task, TaskState

from .arithmetic import WorkingCalendar
from .calendar import CountyCalendars
from .escalation import STEP_LABELS, case_audiences, prefetch_case_audiences, recipients
from .ladder import Ladder, LadderBook, LadderStep
from .models import Escalation


@dataclass(slots=True)
class DueTask:
    """What the sweep reads of a due task and its case (plain values: no ORM entity per row)."""

    id: int
    case_id: int
    unit_id: int | None
    assignee_id: int | None
    department_kind: str | None
    escalation: str | None
    escalation_level: int
    next_escalation_at: datetime | None
    remind_at: datetime | None
    due_at: datetime | None
    name: str
    region_id: int
    number: str
    process_key: str | None = None
    """Read only when a stored ladder is keyed by process (``_read_process_keys``)."""


@dataclass(frozen=True, slots=True)
class DueCase:
    """What the audiences ask of a due task's case."""

    id: int
    region_id: int
    number: str


_COLUMNS = (Task.id, Task.case_id, Task.unit_id, Task.assignee_id, Task.department_kind, Task.escalation,
            Task.escalation_level, Task.next_escalation_at, Task.remind_at, Task.due_at, Task.name,
            Case.region_id, Case.number)


def lock_due_tasks(task_ids: list[int] | None, at: datetime, limit: int | None = None) -> list[DueTask]:
    """Tasks that still have a step due, locked, with their case; rows another sweep holds are skipped.

    ``task_ids`` None: the oldest due tasks, at most ``limit`` (the inline sweep's batch).
    """
    return [DueTask(*row) for row in db.session.execute(due_tasks_stmt(task_ids, at, limit))]  # _COLUMNS' order


def due_tasks_stmt(task_ids: list[int] | None, at: datetime, limit: int | None = None) -> Any:
    """The locking read: in ``ix_task_open_next_escalation`` order (its key ends with id), so a batch
    reads its ``limit`` rows off the index and sorts nothing. (A ``Select`` of the ``_COLUMNS``.) No join to
    the task's instance: its process key is read afterwards and only when a ladder depends on it."""
    stmt = (sa.select(*_COLUMNS)
            .join(Case, Case.id == Task.case_id)
            .where(Task.state == TaskState.OPEN, past_due(Task.next_escalation_at, at)))
    if task_ids is not None:
        stmt = stmt.where(among(Task.id, task_ids)).order_by(Task.id)
    else:
        stmt = stmt.order_by(Task.next_escalation_at, Task.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return for_update(stmt, of=Task, skip_locked=True)


def escalate(task_ids: list[int], at: datetime | None = None) -> int:
    """Take every due ladder step of these tasks; returns how many steps were taken. Flushes only."""
    at = at or now()
    db.session.flush()  # the caller's pending task changes first: the batch reads and writes rows, not objects
    with collector_paused():
        return _escalate(lock_due_tasks(task_ids, at), at)


def escalate_due(at: datetime, limit: int) -> tuple[int, int]:
    """Take the due steps of the (at most ``limit``) oldest due tasks: (tasks locked, steps taken). Flushes.

    The inline sweep calls it until no task is left; ``SKIP LOCKED`` lets two sweeps share the work.
    """
    db.session.flush()
    with collector_paused():
        rows = lock_due_tasks(None, at, limit)
        return len(rows), _escalate(rows, at)


@dataclass(frozen=True, slots=True)
class _Taken:
    """One ladder step a batch takes: when it was due, who it tells (nobody when skipped)."""

    task: DueTask
    step: LadderStep
    scheduled_at: datetime
    users: list[User]
    skipped: bool


def _read_process_keys(rows: list[DueTask]) -> None:
    """Each task's process key, for a ladder store that has ladders keyed by process (one statement)."""
    stmt = (sa.select(Task.id, ProcessSpec.process_key)
            .join(ProcessInstance, ProcessInstance.id == Task.instance_id)
            .join(ProcessSpec, ProcessSpec.id == ProcessInstance.spec_id)
            .where(among(Task.id, [row.id for row in rows])))
    keys: dict[int, str] = {task_id: key for task_id, key in db.session.execute(stmt)}
    for row in rows:
        row.process_key = keys.get(row.id)


def _walk(rows: list[DueTask], at: datetime) -> list[_Taken]:
    """Every step due by ``at`` of each task (a sweep that ran late catches up), and the next one's time.

    A due task's process decides its ladder only where a stored ladder names that process; with none
    (the shipped ladders are per department kind) the instance of each task is not looked up: a
    thousand random heap pages of ``process_instance`` a batch."""
    book, calendars = LadderBook(), CountyCalendars()
    if book.processes:
        _read_process_keys(rows)
    per_county = bool(book.counties or calendars.counties)  # which county a case is in matters only then
    counties: dict[int, str] = {}
    ladders: dict[tuple[str | None, str | None, str | None, str], Ladder] = {}
    steps: list[tuple[DueTask, LadderStep, datetime, bool]] = []
    zone = county_zone()
    with db.session.no_autoflush:
        for task in rows:
            if task.region_id not in counties:
                counties[task.region_id] = county_code_for(task.region_id) if per_county else "*"
            county = counties[task.region_id]
            key = (task.process_key, task.department_kind, task.escalation, county)
            ladder = ladders.get(key)
            if ladder is None:
                ladder = ladders[key] = book.for_task(*key)
            calendar: WorkingCalendar = calendars(county)
            while task.next_escalation_at is not None and is_past_due(task.next_escalation_at, at):
                step = ladder.after(task.escalation_level or 0)
                if step is None:
                    task.next_escalation_at = None
                    break
                skipped = step.anchor == "remind" and is_past_due(task.due_at, at)
                steps.append((task, step, task.next_escalation_at, skipped))
                task.escalation_level = step.level
                following = ladder.after(step.level)
                task.next_escalation_at = (following.time_for(task.remind_at, task.due_at, zone, calendar)
                                           if following is not None else None)
    # Per-case audiences (the conference team) are read once, for the cases of the steps that name one.
    per_case = case_audiences()
    cache: dict[tuple[str, Any], list[User]] = {}
    prefetch_case_audiences({task.case_id for task, step, _, skipped in steps
                             if not skipped and per_case.intersection(step.audiences)}, cache)
    plan: list[_Taken] = []
    told = {task.region_id for task, _, _, skipped in steps if not skipped}
    regions = load_ancestries(told)  # held until the walk ends: the audiences' regions, one statement
    away = StandIns.load(at) if told else None
    with db.session.no_autoflush:
        for task, step, scheduled, skipped in steps:
            users = [] if skipped else recipients(step, task, DueCase(task.case_id, task.region_id, task.number),
                                                  cache, away)
            plan.append(_Taken(task, step, scheduled, users, skipped))
    del regions
    return plan


def _escalate(rows: list[DueTask], at: datetime) -> int:
    """Plan the steps in Python, then write them: the escalation rows (conflicts skipped), the tasks' new
    ladder positions, and for each step written its timeline entry and notifications (and mails)."""
    if not rows:
        return 0
    plan = _walk(rows, at)
    if db.session.connection().dialect.name == "postgresql":
        written = _write_sql(plan, rows, at)
        _hold_levels(rows)
        announced = [taken for taken in plan if not taken.skipped and (taken.task.id, taken.step.level) in written]
    else:
        written = _insert_steps(plan, at)
        _save_levels(rows)
        announced = [taken for taken in plan if not taken.skipped and (taken.task.id, taken.step.level) in written]
        if announced:
            _announce_rows(announced, at)
    _send_overdue(announced)
    return len(written)


def _recipient_ids(users: list[User]) -> list[int]:
    return [u.id for u in users]


def _insert_steps(plan: list[_Taken], at: datetime) -> set[tuple[int, int]]:
    """INSERT ... ON CONFLICT (task_id, level) DO NOTHING RETURNING: the (task, level) pairs this call wrote."""
    rows = [{"task_id": t.task.id, "case_id": t.task.case_id, "level": t.step.level, "name": t.step.name,
             "department_kind": t.task.department_kind, "unit_id": t.task.unit_id,
             "scheduled_at": t.scheduled_at, "recorded_at": at,
             "outcome": "skipped" if t.skipped else "notified", "recipients": _recipient_ids(t.users)}
            for t in plan]
    found = insert_many(Escalation, rows, returning=("task_id", "level"), skip_conflicts_on=("task_id", "level"))
    return {(task_id, level) for task_id, level in found}


def _save_levels(rows: list[DueTask]) -> None:
    """The tasks' new ladder positions in one UPDATE (SQLite: an executemany)."""
    update_many(Task, "id", [{"id": t.id, "escalation_level": t.escalation_level,
                              "next_escalation_at": t.next_escalation_at} for t in rows])
    _hold_levels(rows)


def _hold_levels(rows: list[DueTask]) -> None:
    """Task objects the session holds see the ladder positions just written."""
    identity, mapper = db.session.identity_map, sa.inspect(Task)
    for row in rows:
        held = identity.get(mapper.identity_key_from_primary_key((row.id,)))
        if held is not None:
            set_committed_value(held, "escalation_level", row.escalation_level)
            set_committed_value(held, "next_escalation_at", row.next_escalation_at)


def _label(step: LadderStep) -> str:
    return STEP_LABELS.get(step.name, step.name)


def _kind(step: LadderStep) -> str:
    return "task_overdue" if step.marks_overdue else "task_escalated"


def _due_text(task: DueTask) -> str:
    return task.due_at.isoformat(timespec="minutes") if task.due_at else "-"


def _announce_rows(announced: list[_Taken], at: datetime) -> None:
    """Timeline rows and notification rows built in Python (SQLite)."""
    stamp = now()
    entries: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    users_by_id: dict[int, User] = {}
    for taken in announced:
        task, step, users = taken.task, taken.step, taken.users
        label, due = _label(step), _due_text(task)
        # No instance reference: a task completion holds the instance row FOR UPDATE while it waits for
        # this task row, and the FK check on instance_id would wait for it in turn (a deadlock).
        entries.append({
            "case_id": task.case_id, "at": stamp, "kind": _kind(step), "summary": f"{task.name}: {label}"[:500],
            "actor_id": None, "unit_id": task.unit_id, "task_id": task.id, "instance_id": None,
            "detail": {"level": step.level, "step": step.name, "due_at": due, "task": task.name,
                       "recipients": _recipient_ids(users)}})
        notes.extend({"user_id": u.id, "kind": step.name, "title": f"{task.number}: {task.name} · {label}"[:300],
                      "body": f"期限 {due}", "case_id": task.case_id, "task_id": task.id, "created_at": at,
                      "dedupe_key": f"escalation:{task.id}:{step.level}:{u.id}"} for u in users)
        users_by_id.update((u.id, u) for u in users)
    insert_many(TimelineEntry, entries)
    notify_many(notes, users_by_id, at)
    db.session.flush()


_DUE_TEXT = "coalesce(to_char(s.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') || '+00:00', '-')"
"""``datetime.isoformat(timespec="minutes")`` of the UTC due time, as the SQLite path writes it."""

_NOTES_SELECT = f"""
  SELECT CAST(r.user_id AS integer), s.name, left(s.number || ': ' || s.task_name || ' · ' || s.label, 300),
         '期限 ' || {_DUE_TEXT}, s.case_id, s.task_id,
         'escalation:' || s.task_id || ':' || s.level || ':' || r.user_id, CAST(:at AS timestamptz)
  FROM w AS s CROSS JOIN LATERAL jsonb_array_elements_text(s.recipients) WITH ORDINALITY AS r(user_id, m)
  ORDER BY s.n, r.m"""

_BATCH_SQL = f"""
WITH s AS MATERIALIZED (
  SELECT p.n, p.task_id, p.level, p.name, p.scheduled_at, p.outcome, p.recipients, p.kind, p.label,
         t.case_id, t.unit_id, t.department_kind, t.name AS task_name, t.due_at, c.number
  FROM ROWS FROM (json_to_recordset(CAST(:steps AS json)) AS (task_id integer, level integer, name varchar,
                  scheduled_at timestamptz, outcome varchar, recipients jsonb, kind varchar, label text))
       WITH ORDINALITY AS p(task_id, level, name, scheduled_at, outcome, recipients, kind, label, n)
  JOIN task t ON t.id = p.task_id
  JOIN case_file c ON c.id = t.case_id
), e AS (
  INSERT INTO escalation (task_id, case_id, level, name, department_kind, unit_id, scheduled_at, recorded_at,
                          outcome, recipients)
  SELECT s.task_id, s.case_id, s.level, s.name, s.department_kind, s.unit_id, s.scheduled_at, :at, s.outcome,
         s.recipients
  FROM s ORDER BY s.n
  ON CONFLICT (task_id, level) DO NOTHING
  RETURNING task_id, level
), moved AS (
  UPDATE task SET escalation_level = l.escalation_level, next_escalation_at = l.next_escalation_at
  FROM json_to_recordset(CAST(:levels AS json)) AS l(id integer, escalation_level integer,
                                                     next_escalation_at timestamptz)
  WHERE task.id = l.id
), w AS MATERIALIZED (
  SELECT s.* FROM e JOIN s ON s.task_id = e.task_id AND s.level = e.level WHERE s.outcome = 'notified'
), timeline AS (
  INSERT INTO timeline_entry (case_id, at, kind, summary, actor_id, unit_id, task_id, instance_id, detail)
  SELECT s.case_id, :stamp, s.kind, left(s.task_name || ': ' || s.label, 500), NULL, s.unit_id, s.task_id, NULL,
         jsonb_build_object('level', s.level, 'step', s.name, 'due_at', {_DUE_TEXT}, 'task', s.task_name,
                            'recipients', s.recipients)
  FROM w AS s ORDER BY s.n
), notes AS (
  {insert_from(_NOTES_SELECT)}
)
SELECT NULL, task_id, level, NULL, NULL, NULL FROM e
UNION ALL
SELECT id, user_id, NULL, kind, title, body FROM notes
"""
"""One statement per batch (PostgreSQL): the steps travel as one JSON document joined to their task and case
once; the escalation rows are inserted (a step another sweep recorded first is skipped), the tasks' ladder
positions updated, and only the steps this statement wrote get their timeline entry and notifications. It
returns the (task, level) of each escalation row written (first column NULL) and each notification written
(its id first)."""


def _write_sql(plan: list[_Taken], rows: list[DueTask], at: datetime) -> set[tuple[int, int]]:
    """The batch's rows in ``_BATCH_SQL``; the (task, level) pairs written. Sends the notifications' mails."""
    steps = rows_json([{"task_id": t.task.id, "level": t.step.level, "name": t.step.name,
                        "scheduled_at": t.scheduled_at.isoformat(), "outcome": "skipped" if t.skipped else "notified",
                        "recipients": _recipient_ids(t.users), "kind": _kind(t.step), "label": _label(t.step)}
                       for t in plan])
    levels = rows_json([{"id": t.id, "escalation_level": t.escalation_level,  # times as text: no encoder callback
                         "next_escalation_at": t.next_escalation_at and t.next_escalation_at.isoformat()}
                        for t in rows])
    written: set[tuple[int, int]] = set()
    notes: list[tuple[Any, ...]] = []
    for note_id, first, second, kind, title, body in db.session.execute(
            sa.text(_BATCH_SQL), {"steps": steps, "levels": levels, "at": at, "stamp": now()}):
        if note_id is None:
            written.add((first, second))
        else:
            notes.append((note_id, first, kind, title, body))
    if notes:
        users: dict[int, User] = {}
        for taken in plan:
            users.update((u.id, u) for u in taken.users)
        send_written(notes, users, at)
    return written


def _send_overdue(announced: list[_Taken]) -> None:
    """``task_overdue`` for each overdue step written, with the ORM task and case (only if anyone listens)."""
    if not events.listening(events.task_overdue):
        return
    for taken in announced:
        if taken.step.marks_overdue:
            task, case = db.session.get(Task, taken.task.id), db.session.get(Case, taken.task.case_id)
            events.task_overdue.send(task, case=case, level=taken.step.level, recipients=taken.users)
