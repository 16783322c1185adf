"""child_merge.moved: rows of other packages a merge re-pointed (programme membership, duty cycles,
entrusted care), so an unmerge restores exactly them (issue 15)

Revision ID: b7d3e9a1c524
Revises: a9e4c2f71b35
Create Date: 2026-11-30 05:10:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'b7d3e9a1c524'
down_revision = 'a9e4c2f71b35'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('child_merge', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'moved', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            server_default='{}', nullable=False))


def downgrade():
    with op.batch_alter_table('child_merge', schema=None) as batch_op:
        batch_op.drop_column('moved')
