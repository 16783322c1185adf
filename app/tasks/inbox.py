"""Reads for the inbox pages: a unit's queue and "my tasks", filtered, sorted and paged.

Built on ``queries.task_query`` (the same filters as ``GET /api/v1/tasks``) plus the page-only
filters that need the case's township or the process.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.cases.access import oversees_tasks, works_tasks
from app.cases.models import Case
from app.common.inputs import MAX_COUNT, bounded_int
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region, Unit, User
from app.processes.models import ProcessInstance, ProcessSpec

from .models import Task, TaskState
from .queries import DEFAULT_ORDER, TaskFilter, capped_count, task_query, task_scope

SORTS = {
    "due": DEFAULT_ORDER,  # the order of ix_task_unit_open_due: a page reads 25 index entries, not the unit
    "-due": (Task.due_at.desc().nulls_last(), Task.id.desc()),
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
    """Tasks matching, counted up to ``TOTAL_CAP`` (``more``: there are more than that)."""
    page: int
    pages: int
    query: InboxQuery
    step_options: list[tuple[str, str]] = field(default_factory=list)
    township_options: list[tuple[str, str]] = field(default_factory=list)
    process_options: list[tuple[str, str]] = field(default_factory=list)
    more: bool = False

    @property
    def total_label(self) -> str:
        return f"{self.total:,}+" if self.more else str(self.total)


def matching(user: User, q: InboxQuery, at: datetime) -> list[sa.ColumnElement[bool]]:
    """The query's filters as conditions on ``Task``, within the user's open tasks (``task_scope`` and
    ``state = open`` are the caller's): a page's rows, and a saved view's count beside the others'.

    Pure SQL, no lookup: the township is a subquery on its code, so many views' conditions fit one statement."""
    filters = task_query(TaskFilter(
        assignee_id=user.id if q.scope == "mine" else None, overdue=True if q.overdue else None,
        due_within_hours=24 if q.due_24h else None, bpmn_id=q.step or None,
    ), at).whereclause
    conditions = [filters] if filters is not None else []
    if q.township:
        township = sa.select(Region.id).where(Region.code == q.township)
        places = sa.select(Region.id).where(sa.or_(Region.parent_id.in_(township), Region.id.in_(township)))
        conditions.append(Task.case_id.in_(sa.select(Case.id).where(Case.region_id.in_(places))))
    if q.process:
        conditions.append(Task.instance_id.in_(
            sa.select(ProcessInstance.id).join(ProcessSpec, ProcessInstance.spec_id == ProcessSpec.id)
            .where(ProcessSpec.process_key == q.process)))
    return conditions


def _statement(user: User, q: InboxQuery, at: datetime) -> sa.Select[Task]:
    """The user's queue: ``task_scope`` decides whose tasks (none for a reporter, a designer, an admin)."""
    return (sa.select(Task).where(task_scope(user), Task.state == TaskState.OPEN, *matching(user, q, at))
            .order_by(*SORTS[q.sort]))


def inbox_page(user: User, q: InboxQuery, at: datetime) -> InboxPage:
    """One page in a constant number of statements, whatever the page's and the unit's size.

    The rows come with their case (child, village, township) and process name in one
    statement, in the order of an index; the total is counted up to ``TOTAL_CAP``; the
    filter options are two small catalogue reads and a skip scan of the unit's steps.
    """
    stmt = _statement(user, q, at)
    total, more = capped_count(stmt)
    pages = max(1, math.ceil(total / q.per_page))
    page = min(q.page, pages)
    case, instance, spec = _row_aliases()
    rows = db.session.execute(
        stmt.join(case, case.id == Task.case_id)
        .join(instance, instance.id == Task.instance_id).join(spec, spec.id == instance.spec_id)
        .add_columns(case, spec.name)
        .options(sa.orm.joinedload(Task.assignee),
                 sa.orm.joinedload(case.region).joinedload(Region.parent))
        .offset((page - 1) * q.per_page).limit(q.per_page)).unique().all()
    tasks = [task for task, _, _ in rows]
    cases = {c.id: c for _, c, _ in rows}
    processes = {task.instance_id: name for task, _, name in rows}
    return InboxPage(tasks=tasks, cases=cases, processes=processes, total=total, page=page, pages=pages, query=q,
                     step_options=step_options(user), township_options=township_options(user),
                     process_options=process_options(), more=more)


@functools.cache
def _row_aliases() -> tuple[Any, Any, Any]:
    """Case, instance and version as aliases: the scope and filters compare Task with subqueries over case_file /
    process_instance, which a join of the plain entities would correlate away. Made once: a new alias builds each
    attribute's proxy again on first use (~80 us apiece, a tenth of a small page's CPU)."""
    return sa.orm.aliased(Case), sa.orm.aliased(ProcessInstance), sa.orm.aliased(ProcessSpec)


_UNIT_STEPS = sa.text("""
    WITH RECURSIVE steps(bpmn_id) AS (
      SELECT min(bpmn_id) FROM task WHERE unit_id = :unit AND state = 'open'
      UNION ALL
      SELECT (SELECT min(t.bpmn_id) FROM task t
              WHERE t.unit_id = :unit AND t.state = 'open' AND t.bpmn_id > steps.bpmn_id)
      FROM steps WHERE steps.bpmn_id IS NOT NULL)
    SELECT s.bpmn_id, (SELECT t.name FROM task t WHERE t.unit_id = :unit AND t.state = 'open'
                       AND t.bpmn_id = s.bpmn_id LIMIT 1)
    FROM steps s WHERE s.bpmn_id IS NOT NULL ORDER BY s.bpmn_id""")
"""A unit's open steps by skip scan of ``ix_task_unit_open_step``: one index probe per distinct step,
not a GROUP BY over every open task of the unit (a county bureau may hold tens of thousands). A step's
name is its first index entry's (ORDER BY name would read every task of the step: 3.4 s at 200,000)."""


def step_options(user: User) -> list[tuple[str, str]]:
    """The steps among the open tasks the user's queue shows (the step filter's choices)."""
    if works_tasks(user) and not oversees_tasks(user):
        return [(bpmn_id, name) for bpmn_id, name in db.session.execute(_UNIT_STEPS, {"unit": user.unit_id})]
    stmt = (sa.select(Task.bpmn_id, sa.func.min(Task.name)).where(task_scope(user), Task.state == TaskState.OPEN)
            .group_by(Task.bpmn_id).order_by(Task.bpmn_id))
    return [(bpmn_id, name) for bpmn_id, name in db.session.execute(stmt)]


def township_options(user: User) -> list[tuple[str, str]]:
    """The townships of the user's county (a queue never holds another county's tasks), in one statement:
    a walk up from the user's region (else their unit's) to the county, inside the township select."""
    by_unit = user.region_id is None
    return [(r.code, r.name) for r in db.session.scalars(
        _townships_statement(by_unit), {"unit_id": user.unit_id} if by_unit else {"region_id": user.region_id})]


@functools.cache
def _townships_statement(by_unit: bool) -> sa.Select[Region]:
    """``township_options``' statement, from the user's region (``:region_id``) or their unit's (``:unit_id``),
    built once (its recursive walk cost more to construct than to run)."""
    start: sa.ColumnElement[Any] = (
        sa.select(Unit.region_id).where(Unit.id == sa.bindparam("unit_id", type_=sa.Integer)).scalar_subquery()
        if by_unit else sa.bindparam("region_id", type_=sa.Integer))
    chain = (sa.select(Region.id, Region.parent_id, Region.level).where(Region.id == start)
             .cte("up_to_county", recursive=True))
    parent = sa.orm.aliased(Region)
    chain = chain.union_all(sa.select(parent.id, parent.parent_id, parent.level)
                            .join(chain, parent.id == chain.c.parent_id)
                            .where(chain.c.level != RegionLevel.COUNTY.value))
    county = sa.select(chain.c.id).where(chain.c.level == RegionLevel.COUNTY.value)
    return (sa.select(Region).where(Region.level == RegionLevel.TOWNSHIP, Region.parent_id.in_(county))
            .order_by(Region.code))


def process_options() -> list[tuple[str, str]]:
    rows = db.session.execute(sa.select(ProcessSpec.process_key, sa.func.max(ProcessSpec.name))
                              .group_by(ProcessSpec.process_key).order_by(ProcessSpec.process_key))
    return [(key, name) for key, name in rows]
