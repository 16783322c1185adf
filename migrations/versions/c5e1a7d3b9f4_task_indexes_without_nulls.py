"""Fewer task index entries per ladder step (issue 17 part 4): ``ix_task_completed_at`` and ``ix_task_assignee_id``
keep only the rows that have a value, and ``ix_task_instance_id`` goes (``uq_task_instance_id_engine_task_id``
starts with ``instance_id`` and serves every lookup by it). The sweep's UPDATE of a due task is never HOT (it
moves ``next_escalation_at``, which is indexed), so it inserted an entry into every index of the table, NULLs
included: an open, unclaimed task now costs seven index entries where it cost ten.

Revision ID: c5e1a7d3b9f4
Revises: b7d3e9a2c5f1
Create Date: 2026-11-30 17:20:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5e1a7d3b9f4'
down_revision = 'b7d3e9a2c5f1'
branch_labels = None
depends_on = None

PARTIAL = ('completed_at', 'assignee_id')


def upgrade():
    op.drop_index('ix_task_instance_id', table_name='task')
    for column in PARTIAL:
        where = sa.text(f'{column} IS NOT NULL')
        op.drop_index(f'ix_task_{column}', table_name='task')
        op.create_index(f'ix_task_{column}', 'task', [column], postgresql_where=where, sqlite_where=where)


def downgrade():
    for column in PARTIAL:
        op.drop_index(f'ix_task_{column}', table_name='task')
        op.create_index(f'ix_task_{column}', 'task', [column])
    op.create_index('ix_task_instance_id', 'task', ['instance_id'])
