"""Webhook subscribers' signing secrets encrypted at rest: ``webhook_subscription.secret`` (plaintext) becomes
``secret_sealed``, each secret sealed with the settings' keys (``app.common.sealed``: Fernet, the first of
``LIANDONG_ENCRYPTION_KEYS``, or the key derived from the secret key). Signing needs the secret itself, so it
cannot be hashed; a copy of the database no longer holds a usable one. Downgrade opens them again into the
plaintext column (it needs the same keys).

Revision ID: e8b2d4f6a1c3
Revises: c3f8a1d6e2b9
Create Date: 2026-11-30 11:40:00
"""
import sqlalchemy as sa
from alembic import op

from app.common.sealed import seal, unseal

# revision identifiers, used by Alembic.
revision = 'e8b2d4f6a1c3'
down_revision = 'c3f8a1d6e2b9'
branch_labels = None
depends_on = None

subscription = sa.table('webhook_subscription', sa.column('id', sa.Integer), sa.column('secret', sa.String),
                        sa.column('secret_sealed', sa.String))


def _convert(source, target, change):
    bind = op.get_bind()
    rows = bind.execute(sa.select(subscription.c.id, subscription.c[source])).all()
    for row_id, value in rows:
        bind.execute(subscription.update().where(subscription.c.id == row_id).values({target: change(value)}))


def upgrade():
    with op.batch_alter_table('webhook_subscription') as batch:
        batch.add_column(sa.Column('secret_sealed', sa.String(length=400), nullable=True))
    _convert('secret', 'secret_sealed', seal)
    with op.batch_alter_table('webhook_subscription') as batch:
        batch.alter_column('secret_sealed', existing_type=sa.String(length=400), nullable=False)
        batch.drop_column('secret')


def downgrade():
    with op.batch_alter_table('webhook_subscription') as batch:
        batch.add_column(sa.Column('secret', sa.String(length=120), nullable=True))
    _convert('secret_sealed', 'secret', unseal)
    with op.batch_alter_table('webhook_subscription') as batch:
        batch.alter_column('secret', existing_type=sa.String(length=120), nullable=False)
        batch.drop_column('secret_sealed')
