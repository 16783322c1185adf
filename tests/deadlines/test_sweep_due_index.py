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


@pytest.mark.postgres
@pytest.mark.parametrize(("index", "condition"), [
    ("ix_task_assignee_id", "assignee_id = $1"),
    ("ix_task_completed_at", "completed_at >= $1"),
])
def test_the_indexes_without_nulls_still_serve_a_generic_plan(ctx: Any, index: str, condition: str) -> None:
    """``ix_task_assignee_id`` and ``ix_task_completed_at`` leave out NULLs (an open, unclaimed task's, so the
    sweep's UPDATE of it writes no entry into them); a query naming a value implies NOT NULL, so the planner
    uses them even in a plan made without the value (psycopg prepares a statement after its fifth run)."""
    kind = "integer" if index.endswith("_id") else "timestamptz"
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL plan_cache_mode = force_generic_plan"))
    db.session.execute(sa.text(f"PREPARE partial_probe({kind}) AS SELECT id FROM task WHERE {condition}"))
    try:
        plan = "\n".join(db.session.execute(sa.text(
            f"EXPLAIN EXECUTE partial_probe({'7' if kind == 'integer' else 'now()'})")).scalars())
    finally:
        db.session.execute(sa.text("DEALLOCATE partial_probe"))
    assert index in plan, plan
    [where] = db.session.execute(sa.text("SELECT pg_get_expr(indpred, indrelid) FROM pg_index "
                                         "WHERE indexrelid = CAST(:name AS regclass)"), {"name": index}).scalars()
    assert where is not None and "IS NOT NULL" in where, where
