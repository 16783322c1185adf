"""task drafts: what a worker typed into an open task's form, kept on the server (issue 14, part 4)

Revision ID: d7a1c3e5f902
Revises: 6f2a9c1d4e8b
Create Date: 2026-11-30 02:20:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'd7a1c3e5f902'
down_revision = '6f2a9c1d4e8b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'task_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_task_draft_task_id_task'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_task_draft_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_draft')),
        sa.UniqueConstraint('user_id', 'task_id', name=op.f('uq_task_draft_user_id_task_id')),
    )
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_draft_task_id'), ['task_id'], unique=False)


def downgrade():
    with op.batch_alter_table('task_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_draft_task_id'))
    op.drop_table('task_draft')
