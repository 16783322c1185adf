"""task version: the counter an offline submission names, bumped by every change a worker must not miss
(issue 14, part 3)

Revision ID: a4c8e2f6b913
Revises: d7a1c3e5f902
Create Date: 2026-11-30 04:30:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a4c8e2f6b913'
down_revision = 'd7a1c3e5f902'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task') as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    with op.batch_alter_table('task') as batch_op:
        batch_op.drop_column('version')
