"""task own escalation ladder, test run clock

task.escalation: a step's own escalation ladder (BPMN ``escalation`` property), copied when it opens;
sandbox_run.clock_at: a test run's own clock, moved forward by the designer.

Revision ID: 3bf3ce07070c
Revises: 9ba1f1e372db
Create Date: 2026-11-23 22:37:40.491491

Existing tasks keep NULL: they go on climbing their process/department ladder. Existing test runs
keep NULL: their clock reads as their last update.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3bf3ce07070c'
down_revision = '9ba1f1e372db'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalation', sa.String(length=500), nullable=True))
    with op.batch_alter_table('sandbox_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('sandbox_run', schema=None) as batch_op:
        batch_op.drop_column('clock_at')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_column('escalation')
