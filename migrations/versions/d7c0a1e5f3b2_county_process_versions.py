"""process_current per county: a county may run its own version of a process

Revision ID: d7c0a1e5f3b2
Revises: b551a5c34962
Create Date: 2026-11-30 01:15:00

Several counties share one deployment. The pointer gains a ``county`` (``*`` for the deployment's, else a
county's region code); existing rows become the deployment's, so every county keeps starting on what it
started on before.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd7c0a1e5f3b2'
down_revision = 'b551a5c34962'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_current', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county', sa.String(length=32), nullable=False, server_default='*'))
        batch_op.drop_constraint('pk_process_current', type_='primary')
        batch_op.create_primary_key('pk_process_current', ['process_key', 'county'])


def downgrade():
    op.execute("DELETE FROM process_current WHERE county != '*'")
    with op.batch_alter_table('process_current', schema=None) as batch_op:
        batch_op.drop_constraint('pk_process_current', type_='primary')
        batch_op.create_primary_key('pk_process_current', ['process_key'])
        batch_op.drop_column('county')
