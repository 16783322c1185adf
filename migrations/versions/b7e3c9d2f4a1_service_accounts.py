"""Service accounts (machine clients with client credentials) and the scopes a token carries (issue 16 part 4)

Revision ID: b7e3c9d2f4a1
Revises: a14da340db6b
Create Date: 2026-11-30 07:40:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e3c9d2f4a1'
down_revision = 'a14da340db6b'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'service_account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('client_id', sa.String(length=40), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('scopes', sa.String(length=400), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                                name=op.f('fk_service_account_created_by_id_user_account'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_service_account_user_id_user_account'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_account')),
        sa.UniqueConstraint('client_id', name=op.f('uq_service_account_client_id')),
        sa.UniqueConstraint('name', name=op.f('uq_service_account_name')),
        sa.UniqueConstraint('user_id', name=op.f('uq_service_account_user_id')),
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=400), nullable=True))


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('scopes')
    op.drop_table('service_account')
