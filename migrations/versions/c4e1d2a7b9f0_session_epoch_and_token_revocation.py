"""session epoch, token revocation reason

user_account.session_epoch: raised to end every browser session of a user at its next request;
api_token.revoked_reason: why a token stopped working (by hand, password reset, deactivation,
access changed). docs/security.md: Sessions and tokens.

Revision ID: c4e1d2a7b9f0
Revises: 5d0c1a7e9b42
Create Date: 2026-11-29 22:40:00.000000

Existing users start at epoch 0; existing browser sessions carry no epoch and so end once, at the
first request after the upgrade (users sign in again). Existing tokens keep their expiry.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e1d2a7b9f0'
down_revision = '5d0c1a7e9b42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_reason', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('revoked_reason')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
