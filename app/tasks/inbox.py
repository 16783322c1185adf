"""Reads for the inbox pages: a unit's queue and "my tasks", filtered, sorted and paged.

Built on ``queries.task_query`` (the same filters as ``GET /api/v1/tasks``) plus the page-only
filters that need the case's township or the process.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.cases.models import Case
from app.common.inputs import MAX_COUNT, bounded_int
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region, User
from app.org.queries import county_id_of
from app.processes.models import ProcessInstance, ProcessSpec

from .models import Task, TaskState
from .queries import TaskFilter, task_query, task_scope

SORTS = {
    "due": (Task.due_at.is_(None), Task.due_at, Task.id),
    "-due": (Task.due_at.is_(None), Task.due_at.desc(), Task.id.desc()),
    "created": (Task.created_at, Task.id),
    "-created": (Task.created_at.desc(), Task.id.desc()),
    "step": (Task.name, Task.due_at, Task.id),
}
PER_PAGE = (25, 50, 100)


@dataclass
class InboxQuery:
    scope: str = "unit"
    """``unit`` (the unit's open queue) or ``mine`` (open tasks assigned to me)."""
    overdue: bool = False
    due_24h: bool = False
    step: str = ""
    township: str = ""
    process: str = ""
    sort: str = "due"
    page: int = 1
    per_page: int = 25

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> InboxQuery:
        def number(name: str, default: int) -> int:
            value = bounded_int(args.get(name), MAX_COUNT)
            return default if value is None else max(1, value)

        per_page = number("per_page", 25)
        return cls(
            scope="mine" if args.get("scope") == "mine" else "unit",
            overdue=args.get("overdue") in ("1", "on", "true"),
            due_24h=args.get("due_24h") in ("1", "on", "true"),
            step=args.get("step", "")[:100], township=args.get("township", "")[:32],
            process=args.get("process", "")[:100],
            sort=args.get("sort", "due") if args.get("sort", "due") in SORTS else "due",
            page=number("page", 1), per_page=per_page if per_page in PER_PAGE else 25,
        )

    def query_string(self, **changes: Any) -> str:
        """This query as URL parameters (defaults left out), with ``changes`` applied."""
        values = asdict(self) | changes
        defaults = asdict(InboxQuery())
        kept = {k: ("1" if v is True else v) for k, v in values.items() if v != defaults[k] and v is not False}
        return urlencode(kept)


@dataclass
class InboxPage:
    tasks: list[Task]
    cases: dict[int, Case]
    processes: dict[int, str]
    total: int
    page: int
    pages: int
    query: InboxQuery
    step_options: list[tuple[str, str]] = field(default_factory=list)
    township_options: list[tuple[str, str]] = field(default_factory=list)
    process_options: list[tuple[str, str]] = field(default_factory=list)


def _statement(user: User, q: InboxQuery, at: datetime) -> sa.Select[Task]:
    """The user's queue: ``task_scope`` decides whose tasks (none for a reporter, a designer, an admin)."""
    stmt = task_query(TaskFilter(
        assignee_id=user.id if q.scope == "mine" else None, state=TaskState.OPEN,
        overdue=True if q.overdue else None, due_within_hours=24 if q.due_24h else None,
        bpmn_id=q.step or None,
    ), at).where(task_scope(user))
    if q.township:
        township = db.session.scalar(sa.select(Region).where(Region.code == q.township))
        ids = [township.id] if township else [-1]
        village_ids = sa.select(Region.id).where(sa.or_(Region.parent_id.in_(ids), Region.id.in_(ids)))
        stmt = stmt.where(Task.case_id.in_(sa.select(Case.id).where(Case.region_id.in_(village_ids))))
    if q.process:
        stmt = stmt.where(Task.instance_id.in_(
            sa.select(ProcessInstance.id).join(ProcessSpec, ProcessInstance.spec_id == ProcessSpec.id)
            .where(ProcessSpec.process_key == q.process)))
    return stmt.order_by(None).order_by(*SORTS[q.sort])


def inbox_page(user: User, q: InboxQuery, at: datetime) -> InboxPage:
    stmt = _statement(user, q, at)
    total = int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    pages = max(1, math.ceil(total / q.per_page))
    page = min(q.page, pages)
    tasks = list(db.session.scalars(stmt.offset((page - 1) * q.per_page).limit(q.per_page)))
    case_ids = {t.case_id for t in tasks}
    cases = {c.id: c for c in db.session.scalars(sa.select(Case).where(Case.id.in_(case_ids)))} if case_ids else {}
    instance_ids = {t.instance_id for t in tasks}
    processes: dict[int, str] = {}
    if instance_ids:
        for iid, name in db.session.execute(
                sa.select(ProcessInstance.id, ProcessSpec.name)
                .join(ProcessSpec, ProcessInstance.spec_id == ProcessSpec.id)
                .where(ProcessInstance.id.in_(instance_ids))):
            processes[iid] = name
    return InboxPage(tasks=tasks, cases=cases, processes=processes, total=total, page=page, pages=pages, query=q,
                     step_options=step_options(user), township_options=township_options(user),
                     process_options=process_options())


def step_options(user: User) -> list[tuple[str, str]]:
    stmt = (sa.select(Task.bpmn_id, sa.func.min(Task.name)).where(task_scope(user))
            .group_by(Task.bpmn_id).order_by(Task.bpmn_id))
    return [(bpmn_id, name) for bpmn_id, name in db.session.execute(stmt)]


def township_options(user: User) -> list[tuple[str, str]]:
    """The townships of the user's county (a queue never holds another county's tasks)."""
    county = county_id_of(user.region_id if user.region_id is not None else getattr(user.unit, "region_id", None))
    return [(r.code, r.name) for r in db.session.scalars(
        sa.select(Region).where(Region.level == RegionLevel.TOWNSHIP, Region.parent_id == county)
        .order_by(Region.code))]


def process_options() -> list[tuple[str, str]]:
    rows = db.session.execute(sa.select(ProcessSpec.process_key, sa.func.max(ProcessSpec.name))
                              .group_by(ProcessSpec.process_key).order_by(ProcessSpec.process_key))
    return [(key, name) for key, name in rows]
