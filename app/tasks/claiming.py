"""A claim on PostgreSQL in one statement: the instance lock, the conditional UPDATE, its audit and timeline rows.

A claim is the loop's second request (report -> inbox -> claim -> complete). Sent one by one its writes were four
statements after the task's read (lock, ``UPDATE ... RETURNING``, the audit row, the timeline row), each a round trip
and each of the last two an ORM flush. Here they are one statement of data-modifying ``WITH``s (issue 17 part 3):

- ``locked``: the instance ``FOR NO KEY UPDATE``, as ``processes.queries.lock_instance_row`` takes it. The UPDATE's
  ``EXISTS`` over it does not name the task row, so PostgreSQL tests it once before it reads any task row: the
  lock is taken first, the order every task command keeps (docs/architecture.md, "Lock order").
- ``claimed``: the same conditional UPDATE as ``operations._assign_if`` (open, still in the unit checked, held by
  nobody). A row a completion changed while this statement waited for the lock is re-read by PostgreSQL before
  the UPDATE writes it (READ COMMITTED re-checks the condition on the newest row), so the row's condition still
  decides alone, as when the statements were separate.
- ``audited`` / ``noted``: the audit and timeline rows ``audit`` and ``cases.timeline.record`` add, inserted only
  from a row ``claimed`` returned: a refused claim writes nothing.

SQLite has no data-modifying ``WITH``; it keeps the statements one by one (``operations.claim``).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.audit.operations import AUDIT_COLUMNS, audit_statement
from app.cases.models import TimelineEntry
from app.common.clock import now
from app.extensions import db
from app.org.models import User
from app.processes.models import ProcessInstance

from .models import Task, TaskState

TIMELINE_COLUMNS = ("case_id", "at", "kind", "summary", "actor_id", "unit_id", "task_id", "instance_id", "detail")


def _params(table: sa.Table, prefix: str, columns: tuple[str, ...]) -> list[sa.BindParameter[Any]]:
    return [sa.bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns]


@functools.cache
def claim_statement() -> sa.Select[Any]:
    """Built once per process: (the locked instance's id or None, the claimed task's new version or None)."""
    task = cast(sa.Table, Task.__table__)
    instance = cast(sa.Table, ProcessInstance.__table__)
    audit_table = cast(sa.Table, AuditEvent.__table__)
    timeline = cast(sa.Table, TimelineEntry.__table__)
    locked = (sa.select(instance.c.id).where(instance.c.id == sa.bindparam("claim_instance_id"))
              .with_for_update(key_share=True).cte("locked"))
    claimed = (sa.update(task)
               .where(task.c.id == sa.bindparam("claim_task_id"), task.c.state == TaskState.OPEN,
                      task.c.unit_id == sa.bindparam("claim_unit_id"), task.c.assignee_id.is_(None),
                      sa.exists(sa.select(locked.c.id)))
               .values(assignee_id=sa.bindparam("claim_assignee_id"), claimed_at=sa.bindparam("claim_claimed_at"),
                       version=task.c.version + 1)
               .returning(task.c.version).cte("claimed"))
    audited = sa.insert(audit_table).from_select(
        list(AUDIT_COLUMNS), sa.select(*_params(audit_table, "audit_", AUDIT_COLUMNS)).select_from(claimed))
    noted = sa.insert(timeline).from_select(
        list(TIMELINE_COLUMNS), sa.select(*_params(timeline, "timeline_", TIMELINE_COLUMNS)).select_from(claimed))
    return sa.select(sa.select(locked.c.id).scalar_subquery(), sa.select(claimed.c.version).scalar_subquery()
                     ).add_cte(audited.cte("audited"), noted.cte("noted"))


def claimed_summary(task: Task, user: User) -> str:
    """The claim's timeline summary, the same from either path (``operations.claim`` on SQLite, this on PostgreSQL)."""
    return f"{task.name} claimed by {user.display_name}"


def claim_in_one_statement(task: Task, user: User) -> tuple[bool, int | None, datetime]:
    """(whether the instance exists, the task's version after the claim or None when the UPDATE refused, the
    claim's time)."""
    at = now()
    _, audit_params = audit_statement(user.id, "claim", "task", task.id, case_id=task.case_id)
    timeline = {"case_id": task.case_id, "at": at, "kind": "task_claimed",
                "summary": claimed_summary(task, user)[:500], "actor_id": user.id,
                "unit_id": task.unit_id, "task_id": task.id, "instance_id": task.instance_id,
                "detail": {"task": task.name}}
    row = db.session.execute(claim_statement(), {
        "claim_instance_id": task.instance_id, "claim_task_id": task.id, "claim_unit_id": task.unit_id,
        "claim_assignee_id": user.id, "claim_claimed_at": at, **audit_params, **{f"timeline_{k}": v for k, v in timeline.items()}}).one()
    return row[0] is not None, row[1], at
