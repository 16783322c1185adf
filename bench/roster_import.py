#!/usr/bin/env python
"""A county ledger of 10,000 children: dry run, import, export and the round trip, timed (issue 15, part 8).

    .venv/bin/python bench/roster_import.py                                   # SQLite (a temporary file)
    .venv/bin/python bench/roster_import.py --database-url postgresql://postgres@127.0.0.1:5432/bench_roster
    .venv/bin/python bench/roster_import.py --rows 2000 --bad-every 25

The ledger is ``app.duties.roster_sample``: the demo county's villages, valid ID numbers, two guardians,
a caregiver for every other child, and every ``--bad-every``-th row (default 50: 200 of 10,000) bad in
one of 16 ways in turn (checksum, birth date or sex against the ID number, unknown village, a village of
the other county, no name, unknown category or sub-type, a child in difficulty without one, the same
child twice, too old, a phone, a relation, a non-relative caregiver without an agreement, a date, an ID
number stored as a number). Measured, as the county coordinator, through ``app.duties.roster_files``
(what the page and the API call), each followed by its commit:

* write: the generated rows to XLSX (openpyxl, write-only);
* dry run: read the XLSX, check every row, look up existing children;
* import: the same checks again, then every new child, care file, enrolment, caregiver, timeline entry
  and audit row, in one transaction;
* export: every child in the programme to XLSX; round trip: the dry run of that export (all unchanged).

Rows per second = ledger rows / seconds. Statements per phase are counted too. For PostgreSQL the
database's ``public`` schema is dropped and recreated first, so the name must contain ``bench`` (never
the test suite's database). Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402


def reset(url: str) -> None:
    if "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit(f"refusing to reset {url}: the database name must contain 'bench'")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


class Phase:
    """Wall time and statements of one phase (commit included)."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.statements = engine, 0

    def _count(self, *args: Any) -> None:
        self.statements += 1

    def run(self, fn: Any) -> tuple[Any, float, int]:
        from app.extensions import db

        self.statements = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        start = time.perf_counter()
        try:
            result = fn()
            db.session.commit()
        finally:
            sa.event.remove(self.engine, "before_cursor_execute", self._count)
        return result, time.perf_counter() - start, self.statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--bad-every", type=int, default=50)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    url = args.database_url
    instance = Path(tempfile.mkdtemp(prefix="liandong-bench-roster-"))
    if url:
        reset(url)
    else:
        url = f"sqlite:///{instance / 'bench.db'}"

    from flask_migrate import upgrade

    from app import create_app
    from app.common.clock import local_today
    from app.duties import roster_files
    from app.duties.roster_layout import write_xlsx
    from app.duties.roster_sample import sample_rows
    from app.extensions import db
    from app.org.demo import load_demo
    from app.org.queries import region_by_code, user_by_username

    app = create_app({"database_url": url, "instance_dir": instance, "secret_key": "bench", "redis_url": None,
                      "inline_loop": False})
    with app.app_context():
        upgrade()
        load_demo()
        db.session.commit()
        county, user = region_by_code("c01"), user_by_username("coordinator")
        assert county is not None and user is not None
        phase = Phase(db.engine)
        rows, bad = sample_rows(county, args.rows, bad_every=args.bad_every, today=local_today())
        data, t_write, _ = phase.run(lambda: write_xlsx(rows))
        dialect = db.engine.dialect.name
        load = os.getloadavg()
        print(f"bench/roster_import.py  {datetime.now(UTC).isoformat(timespec='seconds')}  {dialect}  "
              f"rows={args.rows}  bad rows generated={sum(bad.values())} ({len(bad)} kinds)  "
              f"xlsx={len(data) / 1e6:.1f} MB  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        print(f"  {'phase':28} {'seconds':>8} {'rows/s':>9} {'statements':>11}  outcome")
        print(f"  {'write xlsx':28} {t_write:8.2f} {args.rows / t_write:9.0f} {'':>11}")
        (record, plan), t_check, s_check = phase.run(lambda: roster_files.check_upload(user, "bench.xlsx", data))
        print(f"  {'dry run':28} {t_check:8.2f} {args.rows / t_check:9.0f} {s_check:11d}  {plan.counts()}")
        (record, plan), t_import, s_import = phase.run(lambda: roster_files.confirm_import(user, record.id))
        print(f"  {'import (checks again)':28} {t_import:8.2f} {args.rows / t_import:9.0f} {s_import:11d}  "
              f"{plan.counts()}")
        (_, count, exported), t_export, s_export = phase.run(lambda: roster_files.export_xlsx(user))
        print(f"  {'export':28} {t_export:8.2f} {count / t_export:9.0f} {s_export:11d}  {count} children")
        (_, again), t_again, s_again = phase.run(lambda: roster_files.check_upload(user, "export.xlsx", exported))
        print(f"  {'round trip: dry run of it':28} {t_again:8.2f} {count / t_again:9.0f} {s_again:11d}  "
              f"{again.counts()}")
        total = t_check + t_import
        print(f"  dry run + import: {total:.2f} s for {args.rows} rows ({'under' if total < 60 else 'OVER'} a minute)")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
