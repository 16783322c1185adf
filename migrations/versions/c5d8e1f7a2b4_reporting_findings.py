"""A coordinator's finding that a mandatory reporter failed or delayed reporting, routed to the unit that
supervises the reporter (``reporting_finding``, issue 15 part 5)

Revision ID: c5d8e1f7a2b4
Revises: 96ebb3fdff22
Create Date: 2026-11-30 08:10:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c5d8e1f7a2b4'
down_revision = '96ebb3fdff22'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reporting_finding',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('reporter_unit_id', sa.Integer(), nullable=False),
        sa.Column('person', sa.String(length=100), nullable=False),
        sa.Column('knew_since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('facts', sa.Text(), nullable=False),
        sa.Column('supervising_unit_id', sa.Integer(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('response', sa.Text(), nullable=True),
        sa.Column('responded_by_id', sa.Integer(), nullable=True),
        sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case_file.id']),
        sa.ForeignKeyConstraint(['county_id'], ['region.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id']),
        sa.ForeignKeyConstraint(['report_id'], ['report.id']),
        sa.ForeignKeyConstraint(['reporter_unit_id'], ['unit.id']),
        sa.ForeignKeyConstraint(['responded_by_id'], ['user_account.id']),
        sa.ForeignKeyConstraint(['supervising_unit_id'], ['unit.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('reporting_finding', schema=None) as batch_op:
        batch_op.create_index('ix_reporting_finding_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_reporting_finding_county_id', ['county_id'], unique=False)
        batch_op.create_index('ix_reporting_finding_recorded_at', ['recorded_at'], unique=False)
        batch_op.create_index('ix_reporting_finding_reporter_unit_id', ['reporter_unit_id'], unique=False)
        batch_op.create_index('ix_reporting_finding_supervising_unit_id', ['supervising_unit_id'], unique=False)


def downgrade():
    op.drop_table('reporting_finding')
