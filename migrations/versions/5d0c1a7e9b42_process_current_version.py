"""process_current: the version new cases start on

Revision ID: 5d0c1a7e9b42
Revises: 3bf3ce07070c
Create Date: 2026-11-29 22:40:00

A pointer beside the immutable versions, so redeploying earlier content (or "make current") undoes a
bad deploy. Existing processes get no row: new cases keep taking their highest version until the next
deploy or "make current".
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5d0c1a7e9b42'
down_revision = '3bf3ce07070c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('process_current',
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('spec_id', sa.Integer(), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['user_account.id'], name=op.f('fk_process_current_by_id_user_account')),
    sa.ForeignKeyConstraint(['spec_id'], ['process_spec.id'], name=op.f('fk_process_current_spec_id_process_spec')),
    sa.PrimaryKeyConstraint('process_key', name=op.f('pk_process_current'))
    )


def downgrade():
    op.drop_table('process_current')
