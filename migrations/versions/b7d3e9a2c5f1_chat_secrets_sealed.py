"""Users' work-chat robot signing secrets encrypted at rest: ``notification_address.secret`` (plaintext) becomes
``secret_sealed``, each secret sealed with the settings' keys (``app.common.sealed``), as the webhook subscribers'
were in ``e8b2d4f6a1c3``. Signing needs the secret itself, so it cannot be hashed; a copy of the database no
longer holds a usable one. Downgrade opens them again into the plaintext column (it needs the same keys).

Revision ID: b7d3e9a2c5f1
Revises: e8b2d4f6a1c3
Create Date: 2026-11-30 14:30:00
"""
import sqlalchemy as sa
from alembic import op

from app.common.sealed import seal, unseal

# revision identifiers, used by Alembic.
revision = 'b7d3e9a2c5f1'
down_revision = 'e8b2d4f6a1c3'
branch_labels = None
depends_on = None

address = sa.table('notification_address', sa.column('user_id', sa.Integer), sa.column('channel', sa.String),
                   sa.column('secret', sa.String), sa.column('secret_sealed', sa.String))


def _convert(source, target, change):
    bind = op.get_bind()
    rows = bind.execute(sa.select(address.c.user_id, address.c.channel, address.c[source])
                        .where(address.c[source].isnot(None))).all()
    for user_id, channel, value in rows:
        bind.execute(address.update().where(address.c.user_id == user_id, address.c.channel == channel)
                     .values({target: change(value)}))


def upgrade():
    with op.batch_alter_table('notification_address') as batch:
        batch.add_column(sa.Column('secret_sealed', sa.String(length=400), nullable=True))
    _convert('secret', 'secret_sealed', seal)
    with op.batch_alter_table('notification_address') as batch:
        batch.drop_column('secret')


def downgrade():
    with op.batch_alter_table('notification_address') as batch:
        batch.add_column(sa.Column('secret', sa.String(length=200), nullable=True))
    _convert('secret_sealed', 'secret', unseal)
    with op.batch_alter_table('notification_address') as batch:
        batch.drop_column('secret_sealed')
