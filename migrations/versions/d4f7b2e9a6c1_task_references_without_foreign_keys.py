"""escalation.task_id, timeline_entry.task_id and notification.task_id without foreign keys; a task row is
never deleted (PostgreSQL refuses it) (issue 17 part 4)

A foreign key guards two things: the id written exists, and the row it names is not deleted later. Every
writer of these three columns writes the id of a task row it holds in its own transaction (the sweep: the
rows its batch locked ``FOR UPDATE``, joined again in the write statement itself; a completion, claim,
comment or hand-over: the task it locked, read or just inserted), so the first holds by construction. The
second becomes a rule of the schema instead of 7,000 per-row checks per sweep batch: a task is a step of a
child's record (the court-ready record lists every one), no code deletes one, and on PostgreSQL a
statement-level trigger refuses ``DELETE`` on ``task`` (``TRUNCATE``, which empties a test or restored
database, is not a deletion of a record). The keys were ~45 % of the foreign-key checks of the sweep's write
statement. Why this is safe, and what stays checked: docs/deadlines-and-escalation.md.

Revision ID: d4f7b2e9a6c1
Revises: c5e1a7d3b9f4
Create Date: 2026-11-30 20:50:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd4f7b2e9a6c1'
down_revision = 'c5e1a7d3b9f4'
branch_labels = None
depends_on = None

_DROPPED = (
    ('escalation', 'fk_escalation_task_id_task'),
    ('timeline_entry', 'fk_timeline_entry_task_id_task'),
    ('notification', 'fk_notification_task_id_task'),
)

_REFUSE = """
CREATE FUNCTION task_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a task is never deleted: it is a step of a child''s record'
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER task_never_deleted BEFORE DELETE ON task FOR EACH STATEMENT EXECUTE FUNCTION task_never_deleted();
"""


def upgrade():
    for table, name in _DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_='foreignkey')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_REFUSE)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER task_never_deleted ON task; DROP FUNCTION task_never_deleted()')
    for table, name in _DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(name, 'task', ['task_id'], ['id'])
