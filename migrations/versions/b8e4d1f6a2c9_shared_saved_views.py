"""shared saved views: a saved inbox view shared with the owner's unit or the county's coordinators (issue 16, part 2)

Revision ID: b8e4d1f6a2c9
Revises: c5d8e1f7a2b4
Create Date: 2026-11-30 08:00:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b8e4d1f6a2c9'
down_revision = 'c5d8e1f7a2b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shared_with', sa.String(length=16), server_default='private', nullable=False))
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('county_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_saved_view_unit_id_unit'), 'unit', ['unit_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_saved_view_county_id_region'), 'region', ['county_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_saved_view_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_saved_view_county_id'), ['county_id'], unique=False)


def downgrade():
    with op.batch_alter_table('saved_view', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_view_county_id'))
        batch_op.drop_index(batch_op.f('ix_saved_view_unit_id'))
        batch_op.drop_constraint(batch_op.f('fk_saved_view_county_id_region'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_saved_view_unit_id_unit'), type_='foreignkey')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('county_id')
        batch_op.drop_column('unit_id')
        batch_op.drop_column('shared_with')
