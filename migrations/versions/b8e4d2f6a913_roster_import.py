"""roster import: a child's school, and one row per uploaded county ledger (issue 15, part 8)

Revision ID: b8e4d2f6a913
Revises: b7d3e9a1c524
Create Date: 2026-11-30 04:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'b8e4d2f6a913'
down_revision = 'b7d3e9a1c524'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.add_column(sa.Column('school', sa.String(length=200), server_default='', nullable=False))
    op.create_table(
        'roster_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('stored_name', sa.String(length=80), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('imported_by_id', sa.Integer(), nullable=True),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['county_id'], ['region.id'], name=op.f('fk_roster_import_county_id_region')),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'],
                                name=op.f('fk_roster_import_uploaded_by_id_user_account')),
        sa.ForeignKeyConstraint(['imported_by_id'], ['user_account.id'],
                                name=op.f('fk_roster_import_imported_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_import')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_roster_import_stored_name')),
    )
    with op.batch_alter_table('roster_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_import_county_id'), ['county_id'], unique=False)


def downgrade():
    with op.batch_alter_table('roster_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_import_county_id'))
    op.drop_table('roster_import')
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.drop_column('school')
