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
from typing import Any, Protocol

import sqlalchemy as sa

from app.cases.access import task_workers, works_tasks
from app.cases.models import Case
from app.common.clock import county_zone, past_due
from app.extensions import db
from app.org.absence import StandIns
from app.org.models import Region, User, UserRole
from app.org.queries import county_code_for
from app.org.roles import Role
from app.processes.models import ProcessInstance
from app.tasks.models import Task, TaskState

from .arithmetic import WorkingCalendar
from .calendar import CountyCalendars
from .ladder import Ladder, LadderBook, LadderStep
from .models import Escalation

STEP_LABELS = {"remind": "即将到期提醒", "overdue": "已逾期", "coordinator": "逾期上报县级协调员",
               "escalation": "逾期继续上报"}


class LadderTask(Protocol):
    """What an audience asks of a task: a ``Task`` row, or the sweep's plain ``DueTask``."""

    @property
    def id(self) -> int: ...
    @property
    def unit_id(self) -> int | None: ...
    @property
    def assignee_id(self) -> int | None: ...


class LadderCase(Protocol):
    """What an audience asks of the task's case."""

    @property
    def id(self) -> int: ...
    @property
    def region_id(self) -> int: ...


AudienceResolver = Callable[[LadderTask, LadderCase], list[User]]
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


def case_audiences() -> frozenset[str]:
    """The audiences that depend only on the case and are read for a whole batch (``prefetch_case_audiences``)."""
    return frozenset(_by_case)


def prefetch_case_audiences(ids: set[int], cache: dict[tuple[str, Any], list[User]]) -> None:
    """Fill ``cache`` with every per-case audience of these cases (the keys ``recipients`` looks up)."""
    if not ids:
        return
    for name, fetch in _by_case.items():
        found = fetch(ids)
        cache.update(((name, ("case", case_id)), found.get(case_id, [])) for case_id in ids)


def _active(stmt: sa.Select[User]) -> list[User]:
    return list(db.session.scalars(stmt.where(User.active.is_(True)).order_by(User.id)))


def _with_role(role: Role) -> sa.Select[User]:
    return sa.select(User).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == role.value)


def _holder(task: LadderTask, case: LadderCase) -> list[User]:
    holder = db.session.get(User, task.assignee_id) if task.assignee_id is not None else None
    if holder is not None and holder.active and holder.unit_id == task.unit_id and works_tasks(holder):
        return [holder]  # else (moved, deactivated, now only a reporter) the unit's workers are the holder
    if task.unit_id is None:
        return []
    return list(db.session.scalars(task_workers(task.unit_id)))  # never a reporter-only member


def _unit_head(task: LadderTask, case: LadderCase) -> list[User]:
    if task.unit_id is None:
        return []
    return _active(_with_role(Role.UNIT_HEAD).where(User.unit_id == task.unit_id))


def _case_regions(case: LadderCase) -> list[int]:
    region = db.session.get(Region, case.region_id)
    return [r.id for r in region.ancestry()] if region else []


def _supervisor(task: LadderTask, case: LadderCase) -> list[User]:
    return _active(_with_role(Role.CHILD_SUPERVISOR).where(User.region_id.in_(_case_regions(case))))


def _coordinator(task: LadderTask, case: LadderCase) -> list[User]:
    # Only the coordinators whose county holds the case: one without a county has no need to know it.
    return _active(_with_role(Role.COUNTY_COORDINATOR).where(User.region_id.in_(_case_regions(case))))


register_audience("holder", _holder)
register_audience("unit_head", _unit_head)
register_audience("supervisor", _supervisor)
register_audience("coordinator", _coordinator)
register_audience("conference_team", lambda task, case: [])  # hook: issue 6 registers the real team


_CACHE_KEYS: dict[str, Callable[[LadderTask, LadderCase], Any]] = {
    "holder": lambda task, case: (task.assignee_id, task.unit_id),
    "unit_head": lambda task, case: task.unit_id,
    "supervisor": lambda task, case: case.region_id,
    "coordinator": lambda task, case: case.region_id,
}
"""Audiences that depend only on these keys are resolved once per sweep chunk, not once per task."""


def recipients(step: LadderStep, task: LadderTask, case: LadderCase,
               cache: dict[tuple[str, Any], list[User]] | None = None, away: StandIns | None = None) -> list[User]:
    """Everyone the step's audiences name, each once; the coordinators when nobody is named.

    Nobody to tell is never acceptable about a child's case (an unrouted task, a
    unit without a head): the county coordinators are told instead. Whoever is away
    is replaced by who stands in for them (``away``: the substitution rule as of the
    sweep's time, ``app.org.absence.StandIns``), so a reminder meant for a liaison on
    leave reaches their substitute, or their unit head when they named none.
    """
    away = away if away is not None else StandIns.load()
    cache = {} if cache is None else cache
    whole = _recipients_key(step, task, case, cache)
    if whole is not None and whole in cache:
        return list(cache[whole])

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
        for user in away.replace(resolve(audience)):
            found.setdefault(user.id, user)
    if not found:
        for user in away.replace(resolve("coordinator")):
            found.setdefault(user.id, user)
    if whole is not None:
        cache[whole] = list(found.values())
    return list(found.values())


def _recipients_key(step: LadderStep, task: LadderTask, case: LadderCase,
                    cache: dict[tuple[str, Any], list[User]]) -> tuple[str, Any] | None:
    """What a step's whole recipient list depends on, when every audience it may ask is keyed (the sweep
    asks for thousands of steps that share a unit, a holder and a region); None: not memoised.

    A per-case audience the batch read already (``prefetch_case_audiences``) counts by who it names, not by
    its case: the cases without a conference team (nearly all) share one list instead of one each."""
    parts: list[Any] = []
    for audience in (*step.audiences, "coordinator"):
        if audience in _by_case:
            team = cache.get((audience, ("case", case.id)))
            parts.append(("case", case.id) if team is None else ("users", tuple(u.id for u in team)))
        elif audience in _CACHE_KEYS:
            parts.append(_CACHE_KEYS[audience](task, case))
        else:
            return None
    return ("recipients", (step.audiences, tuple(parts)))


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


def due_task_ids(at: datetime, limit: int | None = None) -> list[int]:
    """Open tasks with a ladder step due by ``at``, oldest first (the sweep's scan; no locks)."""
    stmt = (sa.select(Task.id).where(Task.state == TaskState.OPEN, past_due(Task.next_escalation_at, at))
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
