"""inbox indexes: a unit's queue in its default order, its steps by skip scan

ix_task_unit_open_due (unit_id, state, due_at, id) replaces ix_task_unit_state (unit_id, state), its
prefix: an inbox page ``WHERE unit_id = ? AND state = 'open' ORDER BY due_at NULLS LAST, id LIMIT 25``
reads 25 index entries on PostgreSQL (an ascending B-tree keeps NULLs last, the inbox's order), where
it used to sort every open task of the unit. ix_task_unit_open_step (unit_id, state, bpmn_id) lets the
step filter's options be found by skip scan (app/tasks/inbox.py).

On PostgreSQL the indexes are built CONCURRENTLY (outside the migration's transaction), so a
deployment with a million task rows keeps taking completions while they build.

Revision ID: 6f2a9c1d4e8b
Revises: e3b9f2c4a6d1
Create Date: 2026-11-30 02:10:00
"""
from alembic import op

revision = '6f2a9c1d4e8b'
down_revision = 'e3b9f2c4a6d1'
branch_labels = None
depends_on = None

NEW = (("ix_task_unit_open_due", ["unit_id", "state", "due_at", "id"]),
       ("ix_task_unit_open_step", ["unit_id", "state", "bpmn_id"]))


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, columns in NEW:
                op.create_index(name, "task", columns, postgresql_concurrently=True, if_not_exists=True)
            op.drop_index("ix_task_unit_state", table_name="task", postgresql_concurrently=True)
        return
    for name, columns in NEW:
        op.create_index(name, "task", columns)
    op.drop_index("ix_task_unit_state", table_name="task")


def downgrade():
    op.create_index("ix_task_unit_state", "task", ["unit_id", "state"])
    for name, _ in NEW:
        op.drop_index(name, table_name="task")
