"""A sweep batch costs the same statements whatever its size: the rows of a thousand due tasks travel in
a few set-based statements (PostgreSQL) or executemany calls (SQLite), never one statement per task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from deadline_helpers import open_case, tasks_of

from app.cases.models import TimelineEntry
from app.deadlines.models import Escalation
from app.deadlines.sweep_batch import escalate_due
from app.extensions import db
from app.notifications.models import Notification
from app.tasks.models import Task


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):  # the harness
            seen.append(" ".join(statement.split())[:70])

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def _due(count: int, at: Any) -> list[int]:
    ids = []
    for _ in range(count):
        [task] = tasks_of(open_case().id)
        ids.append(task.id)
    db.session.execute(sa.update(Task).where(Task.id.in_(ids)).values(
        escalation_level=1, due_at=at - timedelta(hours=3), next_escalation_at=at - timedelta(hours=3)))
    db.session.commit()
    db.session.expunge_all()
    return ids


def test_a_sweep_batch_costs_the_same_statements_for_two_tasks_and_for_eight(county: Any, clock: Any) -> None:
    at = clock.at
    counts = []
    for size in (2, 8):
        ids = _due(size, at)
        with statements() as seen:
            locked, taken = escalate_due(at, 1000)
        db.session.commit()
        # each task: overdue (holder + unit head), then the police coordinator step 2 hours after due
        assert (locked, taken) == (size, 2 * size), seen
        counts.append(seen)
        assert db.session.scalar(sa.select(sa.func.count(Escalation.id)).where(Escalation.task_id.in_(ids))) == 2 * size
        assert db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
            TimelineEntry.task_id.in_(ids), TimelineEntry.kind.in_(["task_overdue", "task_escalated"]))) == 2 * size
        notes = db.session.scalars(sa.select(Notification.title).where(
            Notification.task_id.in_(ids), Notification.kind.in_(["overdue", "coordinator"]))).all()
        assert len(notes) >= 2 * size and all(title.endswith(("· 已逾期", "· 逾期上报县级协调员")) for title in notes)
    # The locked select, ladders, calendar, the case regions and all above them (one recursive read), the
    # holder/unit head/coordinator reads (once per unit or county), who is away (once per batch:
    # docs/working-week.md), then the writes: on PostgreSQL one
    # statement (escalation rows, ladder positions, timeline entries and notifications as one data-modifying
    # WITH), on SQLite one executemany each.
    assert len(counts[0]) == len(counts[1]), (counts[0], counts[1])
    written = [" ".join(s.split()[:3]) for s in counts[1] if not s.startswith(("SELECT", "WITH RECURSIVE"))]
    if db.session.get_bind().dialect.name == "postgresql":
        assert written == ["WITH s AS"], written
        assert len(counts[1]) == 13, "\n".join(counts[1])
    else:
        assert written == ["INSERT INTO escalation", "UPDATE task SET", "INSERT INTO timeline_entry",
                           "INSERT INTO notification"], written
        assert len(counts[1]) == 16, "\n".join(counts[1])
