"""Walking a task up its escalation ladder, each step recorded exactly once.

A task carries ``escalation_level`` (the last step taken) and
``next_escalation_at`` (when the next step is due, NULL when its ladder is
done or stopped). The sweep selects open tasks whose ``next_escalation_at`` has
passed, takes every step that is due (a sweep that ran late catches up), and
schedules the next one. ``escalation`` has a unique (task, level) row per step,
inserted with ON CONFLICT DO NOTHING, and notifications carry a dedupe key per
(task, level, user): however many sweeps or retried jobs reach the same task,
a step is recorded and announced once.

Completing a task or the engine withdrawing it stops the ladder
(``stop_ladder``); a reassignment reschedules the steps still ahead for the new
holder (``restart_ladder``). Steps already taken stay on record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from app.cases.access import task_workers, works_tasks
from app.cases.models import Case, TimelineEntry
from app.common import events
from app.common.bulk import insert_many, update_many
from app.common.clock import county_zone, now
from app.common.dialect import for_update
from app.extensions import db
from app.notifications.bulk import notify_many
from app.org.models import Region, User, UserRole
from app.org.queries import county_code_for
from app.org.roles import Role
from app.processes.models import ProcessInstance, ProcessSpec
from app.tasks.models import Task, TaskState

from .arithmetic import WorkingCalendar
from .calendar import CountyCalendars
from .ladder import Ladder, LadderBook, LadderStep
from .models import Escalation

STEP_LABELS = {"remind": "即将到期提醒", "overdue": "已逾期", "coordinator": "逾期上报县级协调员",
               "escalation": "逾期继续上报"}


AudienceResolver = Callable[[Task, Case], list[User]]
CaseAudiences = Callable[[set[int]], dict[int, list[User]]]
"""Case ids -> each case's audience, for a whole batch in a few statements (absent: nobody)."""
_audiences: dict[str, AudienceResolver] = {}
_by_case: dict[str, CaseAudiences] = {}


def register_audience(name: str, resolver: AudienceResolver, by_case: CaseAudiences | None = None) -> None:
    """Let another module say who an audience is (the conferences module fills ``conference_team``).

    ``by_case``: the same audience for many cases at once; the sweep asks it once per batch
    instead of calling ``resolver`` once per task (an audience given it depends only on the case).
    """
    _audiences[name] = resolver
    if by_case is None:
        _by_case.pop(name, None)
    else:
        _by_case[name] = by_case


def prefetch_audiences(cases: list[Case], cache: dict[tuple[str, Any], list[User]]) -> None:
    """Fill ``cache`` with every per-case audience of these cases (the keys ``recipients`` looks up)."""
    ids = {case.id for case in cases}
    for name, fetch in _by_case.items():
        found = fetch(ids)
        cache.update(((name, ("case", case_id)), found.get(case_id, [])) for case_id in ids)


def _active(stmt: sa.Select[User]) -> list[User]:
    return list(db.session.scalars(stmt.where(User.active.is_(True)).order_by(User.id)))


def _with_role(role: Role) -> sa.Select[User]:
    return sa.select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == role.value)


def _holder(task: Task, case: Case) -> list[User]:
    holder = task.assignee if task.assignee_id is not None else None
    if holder is not None and holder.active and holder.unit_id == task.unit_id and works_tasks(holder):
        return [holder]  # else (moved, deactivated, now only a reporter) the unit's workers are the holder
    if task.unit_id is None:
        return []
    return list(db.session.scalars(task_workers(task.unit_id)))  # never a reporter-only member


def _unit_head(task: Task, case: Case) -> list[User]:
    if task.unit_id is None:
        return []
    return _active(_with_role(Role.UNIT_HEAD).where(User.unit_id == task.unit_id))


def _case_regions(case: Case) -> list[int]:
    region = db.session.get(Region, case.region_id)
    return [r.id for r in region.ancestry()] if region else []


def _supervisor(task: Task, case: Case) -> list[User]:
    return _active(_with_role(Role.CHILD_SUPERVISOR).where(User.region_id.in_(_case_regions(case))))


def _coordinator(task: Task, case: Case) -> list[User]:
    # Only the coordinators whose county holds the case: one without a county has no need to know it.
    return _active(_with_role(Role.COUNTY_COORDINATOR).where(User.region_id.in_(_case_regions(case))))


register_audience("holder", _holder)
register_audience("unit_head", _unit_head)
register_audience("supervisor", _supervisor)
register_audience("coordinator", _coordinator)
register_audience("conference_team", lambda task, case: [])  # hook: issue 6 registers the real team


_CACHE_KEYS: dict[str, Callable[[Task, Case], Any]] = {
    "holder": lambda task, case: (task.assignee_id, task.unit_id),
    "unit_head": lambda task, case: task.unit_id,
    "supervisor": lambda task, case: case.region_id,
    "coordinator": lambda task, case: case.region_id,
}
"""Audiences that depend only on these keys are resolved once per sweep chunk, not once per task."""


def recipients(step: LadderStep, task: Task, case: Case,
               cache: dict[tuple[str, Any], list[User]] | None = None) -> list[User]:
    """Everyone the step's audiences name, each once; the coordinators when nobody is named.

    Nobody to tell is never acceptable about a child's case (an unrouted task, a
    unit without a head): the county coordinators are told instead.
    """
    cache = {} if cache is None else cache

    def resolve(audience: str) -> list[User]:
        resolver = _audiences.get(audience, lambda t, c: [])
        if audience in _by_case and (audience, ("case", case.id)) in cache:
            return cache[(audience, ("case", case.id))]
        key_of = _CACHE_KEYS.get(audience)
        if key_of is None:
            return resolver(task, case)
        key = (audience, key_of(task, case))
        if key not in cache:
            cache[key] = resolver(task, case)
        return cache[key]

    found: dict[int, User] = {}
    for audience in step.audiences:
        for user in resolve(audience):
            found.setdefault(user.id, user)
    if not found:
        for user in resolve("coordinator"):
            found.setdefault(user.id, user)
    return list(found.values())


def start_ladder(task: Task, process_key: str | None, book: LadderBook | None = None,
                 calendar: WorkingCalendar | None = None, county: str | None = None) -> None:
    """Schedule the first step of a new task's ladder (no deadline: no ladder).

    The ladder and the calendar are the case's county's (``county``: its region code; read from the case
    when not given)."""
    book = book or LadderBook()
    calendars = CountyCalendars() if calendar is None else None
    if county is None:
        matters = book.counties or (calendars is not None and calendars.counties)
        case = db.session.get(Case, task.case_id) if matters else None
        county = county_code_for(case.region_id) if case is not None else "*"
    ladder = book.for_task(process_key, task.department_kind, task.escalation, county)
    _schedule_next(task, ladder, calendar if calendar is not None else (calendars or CountyCalendars())(county))


def stop_ladder(task: Task) -> None:
    """No more steps for this task (completed, withdrawn)."""
    task.next_escalation_at = None


def _schedule_next(task: Task, ladder: Ladder, calendar: WorkingCalendar) -> None:
    step = ladder.after(task.escalation_level or 0)
    task.next_escalation_at = (
        step.time_for(task.remind_at, task.due_at, county_zone(), calendar) if step is not None else None)


def _insert_escalations(rows: list[dict[str, Any]]) -> set[tuple[int, int]]:
    """INSERT ... ON CONFLICT (task_id, level) DO NOTHING RETURNING: the (task, level) pairs this call wrote."""
    written = insert_many(Escalation, rows, returning=("task_id", "level"),
                          skip_conflicts_on=("task_id", "level"))
    return {(task_id, level) for task_id, level in written}


def _announce(task: Task, case: Case, step: LadderStep, users: list[User], at: datetime,
              stamp: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Timeline row and notification rows for a step this sweep recorded (so none of them can exist yet)."""
    label = STEP_LABELS.get(step.name, step.name)
    due = task.due_at.isoformat(timespec="minutes") if task.due_at else "-"
    # No instance reference: a task completion holds the instance row FOR UPDATE while it waits for
    # this task row, and the FK check on instance_id would wait for it in turn (a deadlock).
    entry = {"case_id": case.id, "at": stamp, "kind": "task_overdue" if step.marks_overdue else "task_escalated",
             "summary": f"{task.name}: {label}"[:500], "actor_id": None, "unit_id": task.unit_id,
             "task_id": task.id, "instance_id": None,
             "detail": {"level": step.level, "step": step.name, "due_at": due, "task": task.name,
                        "recipients": [u.id for u in users]}}
    notes = [{"user_id": u.id, "kind": step.name, "title": f"{case.number}: {task.name} · {label}"[:300],
              "body": f"期限 {due}", "case_id": case.id, "task_id": task.id, "created_at": at,
              "dedupe_key": f"escalation:{task.id}:{step.level}:{u.id}"} for u in users]
    return entry, notes


def lock_due_tasks(task_ids: list[int] | None, at: datetime,
                   limit: int | None = None) -> list[tuple[Task, Case, str | None]]:
    """Tasks that still have a step due, locked, with their case; rows another sweep holds are skipped.

    ``task_ids`` None: the oldest due tasks, at most ``limit`` (the inline sweep's batch).
    """
    stmt = (sa.select(Task, Case, ProcessSpec.process_key)
            .join(Case, Case.id == Task.case_id)
            .join(ProcessInstance, ProcessInstance.id == Task.instance_id)
            .join(ProcessSpec, ProcessSpec.id == ProcessInstance.spec_id)
            .where(Task.state == TaskState.OPEN, Task.next_escalation_at <= at))
    if task_ids is not None:
        stmt = stmt.where(Task.id.in_(task_ids)).order_by(Task.id)
    else:
        stmt = stmt.order_by(Task.next_escalation_at, Task.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    stmt = for_update(stmt, of=Task, skip_locked=True)
    rows = db.session.execute(stmt.execution_options(populate_existing=True)).unique()
    return [(task, case, key) for task, case, key in rows]


def escalate(task_ids: list[int], at: datetime | None = None) -> int:
    """Take every due ladder step of these tasks; returns how many steps were taken. Flushes only."""
    at = at or now()
    return _escalate(lock_due_tasks(task_ids, at), at)


def escalate_due(at: datetime, limit: int) -> tuple[int, int]:
    """Take the due steps of the (at most ``limit``) oldest due tasks: (tasks locked, steps taken). Flushes.

    The inline sweep calls it until no task is left; ``SKIP LOCKED`` lets two sweeps share the work.
    """
    rows = lock_due_tasks(None, at, limit)
    return len(rows), _escalate(rows, at)


def _save_levels(tasks: list[Task]) -> None:
    """The tasks' new ladder positions in one UPDATE (not a unit-of-work UPDATE per task), then marked saved."""
    update_many(Task, "id", [
        {"id": t.id, "escalation_level": t.escalation_level, "next_escalation_at": t.next_escalation_at}
        for t in tasks])
    for task in tasks:
        for name in ("escalation_level", "next_escalation_at"):
            set_committed_value(task, name, getattr(task, name))


def _escalate(rows: list[tuple[Task, Case, str | None]], at: datetime) -> int:
    """Set-based, so a batch of a thousand tasks costs a handful of statements whatever its size.

    One locked select (the caller's), one INSERT of escalation rows (conflicts
    skipped, RETURNING the new ones), the tasks' new levels in one UPDATE, one
    INSERT of timeline rows, one of notifications, one of their mails and one
    UPDATE marking those mailed; the per-case audiences (conference teams) are
    read once for the batch.
    """
    if not rows:
        return 0
    book, calendars = LadderBook(), CountyCalendars()
    counties: dict[int, str] = {}
    cache: dict[tuple[str, Any], list[User]] = {}
    planned: list[tuple[Task, Case, LadderStep, list[User]]] = []
    values: list[dict[str, Any]] = []
    prefetch_audiences([case for _, case, _ in rows], cache)
    with db.session.no_autoflush:  # audience reads must not flush each task's new level one by one
        for task, case, process_key in rows:
            if case.region_id not in counties:  # asked only where some county has ladders or days of its own
                counties[case.region_id] = (county_code_for(case.region_id) if book.counties or calendars.counties
                                            else "*")
            county = counties[case.region_id]  # each county's ladders and calendar for its cases' tasks
            ladder = book.for_task(process_key, task.department_kind, task.escalation, county)
            calendar = calendars(county)
            while task.next_escalation_at is not None and task.next_escalation_at <= at:
                step = ladder.after(task.escalation_level or 0)
                if step is None:
                    task.next_escalation_at = None
                    break
                skipped = step.anchor == "remind" and task.due_at is not None and task.due_at <= at
                users = [] if skipped else recipients(step, task, case, cache)
                values.append({
                    "task_id": task.id, "case_id": task.case_id, "level": step.level, "name": step.name,
                    "department_kind": task.department_kind, "unit_id": task.unit_id,
                    "scheduled_at": task.next_escalation_at, "recorded_at": at,
                    "outcome": "skipped" if skipped else "notified", "recipients": [u.id for u in users]})
                if not skipped:
                    planned.append((task, case, step, users))
                task.escalation_level = step.level
                _schedule_next(task, ladder, calendar)
    inserted = _insert_escalations(values)
    _save_levels([task for task, _, _ in rows])
    stamp = now()
    entries: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    users_by_id: dict[int, User] = {}
    for task, case, step, users in planned:
        if (task.id, step.level) not in inserted:
            continue
        entry, task_notes = _announce(task, case, step, users, at, stamp)
        entries.append(entry)
        notes.extend(task_notes)
        users_by_id.update((u.id, u) for u in users)
        if step.marks_overdue:
            events.task_overdue.send(task, case=case, level=step.level, recipients=users)
    if entries:
        insert_many(TimelineEntry, entries)
    notify_many(notes, users_by_id, at)
    db.session.flush()
    return len(inserted)


def due_task_ids(at: datetime, limit: int | None = None) -> list[int]:
    """Open tasks with a ladder step due by ``at``, oldest first (the sweep's scan; no locks)."""
    stmt = (sa.select(Task.id).where(Task.state == TaskState.OPEN, Task.next_escalation_at <= at)
            .order_by(Task.next_escalation_at, Task.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def escalations_of(task_id: int) -> list[Escalation]:
    return list(db.session.scalars(sa.select(Escalation).where(Escalation.task_id == task_id)
                                   .order_by(Escalation.level)))


def restart_ladder(task: Task) -> None:
    """Reschedule the steps still ahead of a task (after a reassignment); taken steps are not repeated.

    Recipients are resolved when a step fires, so the steps ahead address the
    new holder; a task reassigned early is still reminded, and one reassigned
    while overdue still reaches the county coordinator.
    """
    if task.state != TaskState.OPEN:
        stop_ladder(task)
        return
    instance = db.session.get(ProcessInstance, task.instance_id)
    start_ladder(task, instance.spec.process_key if instance is not None else None)


def escalations_out(task_id: int) -> list[dict[str, Any]]:
    """The task's ladder steps for the API and pages, with the names of the people told."""
    rows = escalations_of(task_id)
    ids = {uid for row in rows for uid in (row.recipients or [])}
    names = dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
    return [{"level": r.level, "name": r.name, "label": STEP_LABELS.get(r.name, r.name), "scheduled_at": r.scheduled_at,
             "recorded_at": r.recorded_at, "outcome": r.outcome,
             "recipients": [names.get(uid, str(uid)) for uid in (r.recipients or [])]} for r in rows]
