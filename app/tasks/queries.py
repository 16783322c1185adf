"""Reads about tasks: inbox filters and the open tasks of a case."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload, load_only

from app.cases.access import oversees_tasks, regions_within, works_tasks
from app.cases.models import Case
from app.common.clock import past_due
from app.extensions import db
from app.org.models import User

from .models import Task, TaskState

DEFAULT_ORDER = (Task.due_at.asc().nulls_last(), Task.id)
"""Soonest due first, undated last: the order of ``ix_task_unit_open_due`` (unit, state, due_at, id) on
PostgreSQL, whose ascending B-tree puts NULLs last, so a page is read off the index in order."""
TOTAL_CAP = 10_000
"""Lists count their rows up to this many and then say "10,000+": an exact count reads every row."""


@dataclass
class TaskFilter:
    unit_id: int | None = None
    assignee_id: int | None = None
    state: str | None = None
    overdue: bool | None = None
    due_within_hours: float | None = None
    case_id: int | None = None
    bpmn_id: str | None = None


def task_with_case(task_id: int) -> tuple[Task, Case] | None:
    """A task and its case in one statement (None when there is no such task). A command that holds the case
    while it runs reads it once: the timeline row and the answer's ``case_number`` find it in the session
    (a case no one holds is dropped from the session's map, and each of them read it again)."""
    task = db.session.scalars(sa.select(Task).where(Task.id == task_id).options(joinedload(Task.case))).first()
    return (task, task.case) if task is not None else None


def task_query(f: TaskFilter, at: datetime) -> sa.Select[Task]:
    stmt = sa.select(Task)
    if f.unit_id is not None:
        stmt = stmt.where(Task.unit_id == f.unit_id)
    if f.assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == f.assignee_id)
    if f.state:
        stmt = stmt.where(Task.state == f.state)
    if f.case_id is not None:
        stmt = stmt.where(Task.case_id == f.case_id)
    if f.bpmn_id:
        stmt = stmt.where(Task.bpmn_id == f.bpmn_id)
    if f.overdue is True:
        stmt = stmt.where(Task.state == TaskState.OPEN, past_due(Task.due_at, at))
    elif f.overdue is False:
        stmt = stmt.where(sa.or_(Task.due_at.is_(None), ~past_due(Task.due_at, at), Task.state != TaskState.OPEN))
    if f.due_within_hours is not None:
        stmt = stmt.where(Task.state == TaskState.OPEN, Task.due_at > at,
                          Task.due_at <= at + timedelta(hours=f.due_within_hours))
    return stmt.order_by(*DEFAULT_ORDER)


def capped_count(stmt: sa.Select[Any], cap: int | None = None) -> tuple[int, bool]:
    """(rows of ``stmt`` up to ``cap`` (``TOTAL_CAP``), whether there are more): reads at most ``cap + 1`` rows."""
    cap = TOTAL_CAP if cap is None else cap
    n = int(db.session.scalar(sa.select(sa.func.count()).select_from(
        stmt.order_by(None).limit(cap + 1).subquery())) or 0)
    return min(n, cap), n > cap


INBOX_ROW_OPTIONS = (joinedload(Task.assignee), joinedload(Task.case).options(load_only(Case.number),
                                                                             lazyload(Case.child)))
"""What a page of a task list loads with its rows: the assignee and the case number (the answer shows both)."""


@functools.cache
def _unit_inbox_statements() -> tuple[sa.Select[Any], sa.Select[Any]]:
    """Built once per process: a unit's tasks in one state, counted up to the cap, and a page of them with that
    count beside each row. The plain inbox (a liaison's or head's own unit, no filter but the state) is most of
    the API's lists; building its selects and their eager-load options anew cost about as much CPU as running
    them, and the count sent on its own was a statement of each list (issue 17 part 3)."""
    rows = (sa.select(Task).where(Task.state == sa.bindparam("state"), Task.unit_id == sa.bindparam("unit_id"))
            .order_by(*DEFAULT_ORDER))
    count = sa.select(sa.func.count()).select_from(
        rows.order_by(None).limit(sa.bindparam("over_cap", type_=sa.Integer)).subquery())
    page = (rows.add_columns(count.scalar_subquery()).options(*INBOX_ROW_OPTIONS)
            .offset(sa.bindparam("first", type_=sa.Integer)).limit(sa.bindparam("size", type_=sa.Integer)))
    return count, page


def unit_inbox(unit_id: int, state: str, first: int, size: int) -> tuple[int, bool, list[Task]]:
    """(count up to ``TOTAL_CAP``, whether there are more, the page's rows) of a unit's tasks in ``state``: the
    rows and count ``task_query`` and ``capped_count`` give for the same filter, from selects built once.

    One statement: each row carries the count (an uncorrelated subquery, run once). Only a page past the last
    row, which carries nothing, counts on its own (a first page with no rows: there are none)."""
    count, page = _unit_inbox_statements()
    over_cap = TOTAL_CAP + 1
    params = {"state": state, "unit_id": unit_id, "over_cap": over_cap}
    found = db.session.execute(page, {**params, "first": first, "size": size}).unique().all()
    n = int(found[0][1]) if found else 0 if first == 0 else int(db.session.scalar(count, params) or 0)
    return min(n, TOTAL_CAP), n > TOTAL_CAP, [row[0] for row in found]


CASE_TASKS_PER_PAGE = 50
"""A case's tasks per page on the case page and in ``GET /api/v1/cases/<id>/tasks``."""


def case_tasks_select(case_id: int, state: str | None = None) -> sa.Select[Task]:
    """A case's tasks (one state, or all), open ones by id and finished ones newest first; unit and
    assignee in the same statement."""
    stmt = sa.select(Task).where(Task.case_id == case_id).options(joinedload(Task.assignee))
    if state is not None:
        stmt = stmt.where(Task.state == state)
    if state == TaskState.OPEN:
        return stmt.order_by(Task.id)
    return stmt.order_by(Task.completed_at.desc().nulls_first(), Task.id.desc())


def open_tasks_of_case(case_id: int) -> list[Task]:
    return list(db.session.scalars(sa.select(Task).where(
        Task.case_id == case_id, Task.state == TaskState.OPEN).order_by(Task.id)))


def task_scope(user: User, unit_id: int | None = None) -> sa.ColumnElement[bool]:
    """Which task rows a list may show the user (inbox, ``GET /api/v1/tasks``, unit filters).

    A liaison or head: their unit's. A coordinator: the tasks of cases in their jurisdiction (of
    ``unit_id`` when given). Anyone else (a reporter, a designer, an admin): none.
    """
    if oversees_tasks(user):
        assert user.region_id is not None
        clause = Task.case_id.in_(sa.select(Case.id).where(Case.region_id.in_(regions_within(user.region_id))))
        return sa.and_(clause, Task.unit_id == unit_id) if unit_id is not None else clause
    if works_tasks(user) and unit_id in (None, user.unit_id):
        return Task.unit_id == user.unit_id
    return sa.false()


def cases_of_unit(user: User, *, except_steps: Collection[str] = ()) -> sa.Select[int]:
    """``unit_had_task`` in SQL: the ids of the cases the user's unit has or had a task on."""
    return sa.select(Task.case_id).where(Task.unit_id == user.unit_id, Task.bpmn_id.not_in(list(except_steps)))


def unit_had_task(user: User, case_id: int, *, except_steps: Collection[str] = ()) -> bool:
    """The ``unit`` basis (``cases.access``): the user's unit has or had a task on the case.

    ``except_steps``: steps whose task gives no lasting basis (a conference's preparation step: that
    unit sees the case through the invitation, which ends when the conference is cancelled).
    """
    return bool(db.session.scalar(sa.select(sa.exists().where(
        Task.case_id == case_id, Task.unit_id == user.unit_id, Task.bpmn_id.not_in(list(except_steps))))))
