"""escalation.case_id, escalation.unit_id and notification.case_id without foreign keys: each repeats what
another key of the same row already guarantees, and their per-row checks were most of the escalation
sweep's server time (issue 17 part 4)

An escalation's ``task_id`` (kept: FK to ``task``) names a task whose ``case_id`` and ``unit_id`` are
themselves foreign keys; the sweep copies both from that task row in the same statement
(``INSERT ... SELECT ... JOIN task``), so they cannot name a case or unit that does not exist. A
notification's ``case_id`` is the case of its ``task_id`` when it has one; without a task it is a case
the writer has just read. No code deletes a case (``case_file`` rows are kept for the record), so no
reference can dangle later. The columns keep their indexes. Why this is safe: docs/deadlines-and-escalation.md.

Revision ID: f2a6c8e1d4b7
Revises: c5f1a8d2e637
Create Date: 2026-11-30 06:00:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f2a6c8e1d4b7'
down_revision = 'c5f1a8d2e637'
branch_labels = None
depends_on = None

_DROPPED = (
    ('escalation', 'fk_escalation_case_id_case_file', 'case_id', 'case_file'),
    ('escalation', 'fk_escalation_unit_id_unit', 'unit_id', 'unit'),
    ('notification', 'fk_notification_case_id_case_file', 'case_id', 'case_file'),
)


def upgrade():
    for table, name, _column, _referred in _DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_='foreignkey')


def downgrade():
    for table, name, column, referred in _DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(name, referred, [column], ['id'])
