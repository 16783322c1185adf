"""Deadlines as exact instants: a task whose deadline was a fixed moment (a duty cycle's end, a conference's
start, a decision due on a date at 17:30) was given a duration counted from "now", which lost the fraction of
a second and the time between two calls (a weekly contact due at 23:59:59.6 instead of midnight). New tasks
get the instant itself (``app.common.clock.instant``); this puts the rows already written on it: the task's
``due_at`` becomes the cycle's end, the conference's start, or (a decision "by DATE") the whole minute it was
meant to be, and a ladder step timed from the old due time moves with it. Only rows less than a minute off
are touched: anything further was changed on purpose (issue 16 part 4)

Revision ID: c3f8a1d6e2b9
Revises: b7e3c9d2f4a1
Create Date: 2026-11-30 08:10:00
"""
from datetime import UTC, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c3f8a1d6e2b9'
down_revision = 'b7e3c9d2f4a1'
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
task = sa.table('task', sa.column('id', sa.Integer), sa.column('instance_id', sa.Integer),
                sa.column('due_at', WHEN), sa.column('next_escalation_at', WHEN))
duty_cycle = sa.table('duty_cycle', sa.column('instance_id', sa.Integer), sa.column('due_at', WHEN))
conference = sa.table('conference', sa.column('id', sa.Integer), sa.column('scheduled_at', WHEN))
conference_unit = sa.table('conference_unit', sa.column('conference_id', sa.Integer),
                           sa.column('prepare_instance_id', sa.Integer))
conference_action = sa.table('conference_action', sa.column('instance_id', sa.Integer),
                             sa.column('deadline', sa.String))
TOLERANCE = timedelta(minutes=1)


def _aware(value):
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite hands back the stored UTC without its offset


def _whole_minute(value):
    return (value + timedelta(seconds=30)).replace(second=0, microsecond=0)


def _exact_rows(bind):
    """(task id, due_at, next_escalation_at, exact due) for every task whose due time came from a fixed moment."""
    sources = [
        sa.select(task.c.id, task.c.due_at, task.c.next_escalation_at, duty_cycle.c.due_at)
        .join(duty_cycle, duty_cycle.c.instance_id == task.c.instance_id),
        sa.select(task.c.id, task.c.due_at, task.c.next_escalation_at, conference.c.scheduled_at)
        .join(conference_unit, conference_unit.c.prepare_instance_id == task.c.instance_id)
        .join(conference, conference.c.id == conference_unit.c.conference_id),
    ]
    for stmt in sources:
        for task_id, due, step, exact in bind.execute(stmt.where(task.c.due_at.is_not(None))):
            yield task_id, _aware(due), _aware(step), _aware(exact)
    by_date = (sa.select(task.c.id, task.c.due_at, task.c.next_escalation_at)
               .join(conference_action, conference_action.c.instance_id == task.c.instance_id)
               .where(task.c.due_at.is_not(None), conference_action.c.deadline.like('by %')))
    for task_id, due, step in bind.execute(by_date):
        due = _aware(due)
        yield task_id, due, _aware(step), _whole_minute(due)


def upgrade():
    put_on_exact_instants(op.get_bind())


def put_on_exact_instants(bind):
    """The upgrade's work on a connection (``tests/deadlines/test_exact_instants.py`` runs it on rows it made)."""
    for task_id, due, step, exact in list(_exact_rows(bind)):
        if exact is None or due == exact or abs(due - exact) >= TOLERANCE:
            continue
        values = {'due_at': exact}
        if step is not None and step >= due:  # a step timed from the due time (overdue, coordinator)
            values['next_escalation_at'] = step + (exact - due)
        bind.execute(task.update().where(task.c.id == task_id).values(**values))


def downgrade():
    pass  # the old values were a fraction of a second off; nothing depends on getting them back
