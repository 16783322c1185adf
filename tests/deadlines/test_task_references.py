"""The rows that name a task without a foreign key (escalation, timeline entry, notification: migration
d4f7b2e9a6c1, issue 17 part 4) name tasks that exist, and PostgreSQL refuses to delete a task."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import escalation_rows, notifications, open_case, tasks_of
from invariants import missing_task_references

from app.cases.models import TimelineEntry
from app.deadlines.sweep_batch import escalate
from app.extensions import db
from app.notifications.models import Notification
from app.org.queries import user_by_username
from app.tasks.models import Task


def test_a_sweeps_rows_name_the_tasks_it_escalated_and_a_missing_one_is_counted(county: Any, clock: Any) -> None:
    [task] = tasks_of(open_case().id)
    clock.advance(hours=4)  # remind, due and the police grace period passed
    assert escalate([task.id], clock.at) == 3
    db.session.flush()
    assert {e.task_id for e in escalation_rows(task.id)} == {task.id}
    assert notifications(task_id=task.id)
    assert db.session.scalar(sa.select(sa.func.count()).where(  # the reminder was skipped: past due
        TimelineEntry.task_id == task.id, TimelineEntry.kind.in_(("task_overdue", "task_escalated")))) == 2
    assert missing_task_references(db.session) == 0

    gone = (db.session.scalar(sa.select(sa.func.max(Task.id))) or 0) + 1000
    db.session.add(Notification(user_id=user_by_username("police_t01").id, kind="remind", title="x",
                                task_id=gone, created_at=clock.at))
    db.session.flush()
    assert missing_task_references(db.session) == 1


@pytest.mark.postgres
def test_postgresql_refuses_to_delete_a_task(county: Any) -> None:
    [task] = tasks_of(open_case().id)
    with pytest.raises(sa.exc.IntegrityError, match="never deleted"), db.session.begin_nested():
        db.session.execute(sa.delete(Task).where(Task.id == task.id))
    assert db.session.get(Task, task.id) is not None
