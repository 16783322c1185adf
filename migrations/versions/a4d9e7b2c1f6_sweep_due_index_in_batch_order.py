"""ix_task_open_next_escalation ends with id: the sweep's batch (``ORDER BY next_escalation_at, id LIMIT
1000 FOR UPDATE SKIP LOCKED``) is read in index order and stops at its thousandth row, where it sorted every
task sharing a due time (an incremental sort's whole group) before taking a batch (issue 17 part 4)

Revision ID: a4d9e7b2c1f6
Revises: f2a6c8e1d4b7
Create Date: 2026-11-30 06:12:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a4d9e7b2c1f6'
down_revision = 'f2a6c8e1d4b7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_open_next_escalation')
        batch_op.create_index('ix_task_open_next_escalation', ['state', 'next_escalation_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_open_next_escalation')
        batch_op.create_index('ix_task_open_next_escalation', ['state', 'next_escalation_at'], unique=False)
