"""What filing a report costs the database, pinned as statement counts (never as timings).

A report is one request in nine of the HTTP loop (bench/load.py). Its child's county came from one read per
region level up to the province (the village validator's walk up), after a joined read of the same chain, and
the process version from two reads (the county's own, then the deployment's): now one recursive read of the
chain and one read of the version (issue 17 part 3).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import report_payload

from app.extensions import db

REPORT_STATEMENTS = {"postgresql": 19, "sqlite": 21}
"""POST /api/v1/reports for a new child, after another (the token's last use stamped, the caches warm): the token, the idempotency key, the village, its chain, two matching reads, child, guardian, case and its
number, the county's late-report hours, report, audit, timeline, the process version, then the process start (its
instance, routing, then the task, the timeline entries and the unit's notices: one statement on PostgreSQL, three on
SQLite) and the key's result. It was 30 (four reads of single regions and a second read of the version), then 25 on
both: the new instance was updated right after its INSERT, its open tasks read and its timers deleted, none of which
a new instance has; then 20 / 21 (on PostgreSQL the new task's INSERT joined the timeline's and the notices' statement
with the step's other rows, ``workflow.saving.flush``, session 17)."""


def test_a_new_childs_report_reads_the_region_chain_and_the_process_version_once(as_user: Any) -> None:
    api = as_user("reporter_school")
    first = api.post("/api/v1/reports", json=report_payload())  # the token's last use stamped, the process's caches
    assert first.status_code == 201, first.get_json()  # (its spec, calendar, ladders) warm: not a report's cost
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):  # the harness's and the child's insert
            seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        resp = api.post("/api/v1/reports", json=report_payload())
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    shown = "\n".join(s[:160] for s in seen)
    assert resp.status_code == 201, resp.get_json()
    assert not [s for s in seen if s.startswith("SELECT region.") and "WHERE region.id =" in s], shown
    assert len([s for s in seen if "FROM process_spec" in s]) == 1, shown  # the version, content cached
    assert len(seen) == REPORT_STATEMENTS[db.engine.dialect.name], shown
    assert not [s for s in seen if s.startswith(("UPDATE process_instance", "DELETE FROM timer"))
                or (s.startswith("SELECT task.") and "FROM task" in s)], shown  # nothing a new instance lacks
