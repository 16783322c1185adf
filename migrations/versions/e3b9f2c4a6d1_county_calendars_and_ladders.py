"""calendar overrides and escalation ladders per county

Revision ID: e3b9f2c4a6d1
Revises: d7c0a1e5f3b2
Create Date: 2026-11-30 01:45:00

Both gain a ``county`` (``*`` for the deployment's, else a county's region code). Existing rows become the
deployment's, so every county keeps the calendar and the ladders it had.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3b9f2c4a6d1'
down_revision = 'd7c0a1e5f3b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county', sa.String(length=32), nullable=False, server_default='*'))
        batch_op.drop_constraint('pk_calendar_day', type_='primary')
        batch_op.create_primary_key('pk_calendar_day', ['county', 'day'])
    with op.batch_alter_table('escalation_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county', sa.String(length=32), nullable=False, server_default='*'))
        batch_op.drop_constraint('uq_escalation_rule_process_key_department_kind_level', type_='unique')
        batch_op.create_unique_constraint('uq_escalation_rule_county_process_key_department_kind_level',
                                          ['county', 'process_key', 'department_kind', 'level'])


def downgrade():
    op.execute("DELETE FROM calendar_day WHERE county != '*'")
    op.execute("DELETE FROM escalation_rule WHERE county != '*'")
    with op.batch_alter_table('escalation_rule', schema=None) as batch_op:
        batch_op.drop_constraint('uq_escalation_rule_county_process_key_department_kind_level', type_='unique')
        batch_op.create_unique_constraint('uq_escalation_rule_process_key_department_kind_level',
                                          ['process_key', 'department_kind', 'level'])
        batch_op.drop_column('county')
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.drop_constraint('pk_calendar_day', type_='primary')
        batch_op.create_primary_key('pk_calendar_day', ['day'])
        batch_op.drop_column('county')
