"""The sweep's locking read comes off ``ix_task_open_next_escalation`` in order (issue 17 part 4): no sort of
every task that shares a due time before each batch of 1,000."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app.common.clock import now
from app.deadlines.sweep_batch import due_tasks_stmt
from app.extensions import db


@pytest.mark.postgres
def test_the_oldest_due_batch_is_read_in_index_order_without_a_sort(county: Any) -> None:
    stmt = due_tasks_stmt(None, now(), 1000)
    sql = str(stmt.compile(dialect=db.session.connection().dialect, compile_kwargs={"literal_binds": True}))
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))  # a test database is small: ask for the index
    plan = "\n".join(db.session.execute(sa.text("EXPLAIN " + sql)).scalars())
    assert "ix_task_open_next_escalation" in plan, plan
    assert "Sort" not in plan, plan  # (state, next_escalation_at) alone needed an incremental sort by id
    assert "process_instance" not in sql  # no stored ladder names a process: no lookup of each task's instance
