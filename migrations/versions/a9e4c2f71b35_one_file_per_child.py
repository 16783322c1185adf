"""one file per child: normalised ID numbers unique per county, phone digits, merges (issue 15)

child.id_number_norm + child.county_id with the unique index uq_child_county_id_number; child.merged_into_id;
guardian.phone_digits; the child_merge table; indexes for the search (name) and likely matches (village,
birth date).

Revision ID: a9e4c2f71b35
Revises: a4c8e2f6b913
Create Date: 2026-11-30 04:40:00

Existing rows get their normal forms computed here (app/cases/identity.py). A database filled before this
rule can hold several children with one ID number in one county (each report opened a new child): the
oldest file is kept and each later one is merged into it, with a ``child_merge`` row (merged_by NULL) that
lists the cases moved, so a coordinator can look and unmerge.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.cases.identity import normalise_id_number, phone_digits

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')

# revision identifiers, used by Alembic.
revision = 'a9e4c2f71b35'
down_revision = 'a4c8e2f6b913'
branch_labels = None
depends_on = None


def _backfill(conn):
    region = {rid: (parent, level) for rid, parent, level in conn.execute(sa.text(
        "SELECT id, parent_id, level FROM region"))}

    def county(rid):
        for _ in range(6):
            if rid is None:
                return None
            parent, level = region.get(rid, (None, None))
            if level == 'county':
                return rid
            rid = parent
        return None

    kept = {}
    rows = conn.execute(sa.text("SELECT id, id_number, village_id FROM child ORDER BY id")).all()
    now = datetime.now(UTC)
    for cid, number, village in rows:
        norm, cty = normalise_id_number(number), county(village)
        first = kept.get((cty, norm)) if norm else None
        if first is None:
            if norm:
                kept[(cty, norm)] = cid
            conn.execute(sa.text("UPDATE child SET id_number_norm = :n, county_id = :c WHERE id = :i"),
                         {"n": norm, "c": cty, "i": cid})
            continue
        cases = [r[0] for r in conn.execute(sa.text("SELECT id FROM case_file WHERE child_id = :i"), {"i": cid})]
        conn.execute(sa.text("UPDATE case_file SET child_id = :k WHERE child_id = :i"), {"k": first, "i": cid})
        conn.execute(sa.text("UPDATE child SET county_id = :c, merged_into_id = :k WHERE id = :i"),
                     {"c": cty, "k": first, "i": cid})
        conn.execute(sa.text(
            "INSERT INTO child_merge (kept_id, merged_id, case_ids, reason, merged_at) "
            "VALUES (:k, :i, :cases, 'same ID number (upgrade)', :at)").bindparams(
                sa.bindparam("cases", type_=_JSON), sa.bindparam("at", type_=sa.DateTime(timezone=True))),
            {"k": first, "i": cid, "cases": cases, "at": now})
    for gid, phone in conn.execute(sa.text("SELECT id, phone FROM guardian")).all():
        conn.execute(sa.text("UPDATE guardian SET phone_digits = :d WHERE id = :i"), {"d": phone_digits(phone), "i": gid})


def upgrade():
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_norm', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('county_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_child_county_id_region'), 'region', ['county_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_child_merged_into_id_child'), 'child', ['merged_into_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_child_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_child_name'), ['name'], unique=False)
        batch_op.create_index('ix_child_village_birth', ['village_id', 'birth_date'], unique=False)
    with op.batch_alter_table('guardian', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.String(length=40), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_guardian_phone_digits'), ['phone_digits'], unique=False)
    op.create_table(
        'child_merge',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kept_id', sa.Integer(), nullable=False),
        sa.Column('merged_id', sa.Integer(), nullable=False),
        sa.Column('case_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('merged_by_id', sa.Integer(), nullable=True),
        sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('undone_by_id', sa.Integer(), nullable=True),
        sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['kept_id'], ['child.id'], name=op.f('fk_child_merge_kept_id_child')),
        sa.ForeignKeyConstraint(['merged_id'], ['child.id'], name=op.f('fk_child_merge_merged_id_child')),
        sa.ForeignKeyConstraint(['merged_by_id'], ['user_account.id'],
                                name=op.f('fk_child_merge_merged_by_id_user_account')),
        sa.ForeignKeyConstraint(['undone_by_id'], ['user_account.id'],
                                name=op.f('fk_child_merge_undone_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_child_merge')),
    )
    with op.batch_alter_table('child_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_merge_kept_id'), ['kept_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_child_merge_merged_id'), ['merged_id'], unique=False)
    _backfill(op.get_bind())
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_child_county_id_number', ['county_id', 'id_number_norm'])


def downgrade():
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.drop_constraint('uq_child_county_id_number', type_='unique')
    op.drop_table('child_merge')
    with op.batch_alter_table('guardian', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardian_phone_digits'))
        batch_op.drop_column('phone_digits')
    with op.batch_alter_table('child', schema=None) as batch_op:
        batch_op.drop_index('ix_child_village_birth')
        batch_op.drop_index(batch_op.f('ix_child_name'))
        batch_op.drop_index(batch_op.f('ix_child_county_id'))
        batch_op.drop_constraint(batch_op.f('fk_child_merged_into_id_child'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_child_county_id_region'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('county_id')
        batch_op.drop_column('id_number_norm')
