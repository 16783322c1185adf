"""idempotency keys, possible duplicate reports

command_key: one row per idempotency key (scope ``report`` or ``task_complete``), inserted first by the
command so that concurrent retries wait for the first and replay its result (app/common/idempotency.py).
report.duplicate_of_case_id: a report filed although its reporter reported the same child minutes before.

Revision ID: b551a5c34962
Revises: 18c619ae2aa6
Create Date: 2026-11-29 22:34:32.061717

Existing report keys are copied into command_key (no fingerprint: a retry is compared by key and user
only), so a client retrying across the upgrade still gets its first case.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b551a5c34962'
down_revision = '18c619ae2aa6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'command_key',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('fingerprint', sa.String(length=64), nullable=True),
        sa.Column('result_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_command_key_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_command_key')),
        sa.UniqueConstraint('scope', 'key', name=op.f('uq_command_key_scope_key')),
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_case_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_report_duplicate_of_case_id_case_file'), 'case_file',
                                    ['duplicate_of_case_id'], ['id'])
    op.execute(
        "INSERT INTO command_key (scope, key, user_id, fingerprint, result_id, created_at) "
        "SELECT 'report', idempotency_key, submitted_by_id, NULL, case_id, received_at "
        "FROM report WHERE idempotency_key IS NOT NULL")


def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_duplicate_of_case_id_case_file'), type_='foreignkey')
        batch_op.drop_column('duplicate_of_case_id')
    op.drop_table('command_key')
