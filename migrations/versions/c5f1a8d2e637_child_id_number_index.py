"""child.id_number_norm indexed on its own: a search by ID number across a user's jurisdiction (the unique
index leads with the county) (issue 15)

Revision ID: c5f1a8d2e637
Revises: b8e4d2f6a913
Create Date: 2026-11-30 05:40:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5f1a8d2e637'
down_revision = 'b8e4d2f6a913'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.create_index('ix_child_id_number_norm', ['id_number_norm'], unique=False)


def downgrade():
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.drop_index('ix_child_id_number_norm')
