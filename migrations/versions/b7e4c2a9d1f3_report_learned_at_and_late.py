"""Reports say when the reporter learned of the situation and are flagged late past the county's limit
(``report.learned_at``, ``report.late``); a county's own value of a setting (``county_setting``) (issue 15 part 5)

Revision ID: b7e4c2a9d1f3
Revises: a4d9e7b2c1f6
Create Date: 2026-11-30 08:00:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e4c2a9d1f3'
down_revision = 'a4d9e7b2c1f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'county_setting',
        sa.Column('county', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('county', 'name'),
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('learned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('late', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_report_late', ['late'], unique=False)


def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index('ix_report_late')
        batch_op.drop_column('late')
        batch_op.drop_column('learned_at')
    op.drop_table('county_setting')
