#!/usr/bin/env python
"""The Monday sweep of duty cycles (``duties.scheduler.sweep_cycles``) after a week of weekly contacts.

    .venv/bin/python bench/duty_sweep.py --children 10000 --done 0.95
    TREE=/tmp/base .venv/bin/python bench/duty_sweep.py ...     # another tree's app (a baseline)

Uses the PostgreSQL database BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bench_duty_sweep; its
name must contain ``bench``) and **drops and recreates its public schema**. Generates enrolled children as
bench/duty_cycles.py does, starts every child's weekly contact in bulk on a Monday, marks ``--done`` of the
instances completed (the contact was made: what the sweep reads to settle a cycle as done), and one week later runs
the sweep once in a session of its own, as the scheduler's job does; prints its wall time, the client's CPU, the
statements it sent (SELECTs apart) and how the cycles ended. The missed ones are escalated, one by one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta
from pathlib import Path

from duty_cycles import RULES, demo_county_app, generate, set_rules  # this directory's, before TREE's app

ROOT = Path(os.environ.get("TREE") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_duty_sweep")
MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # 09:00 county time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--done", type=float, default=0.95, help="share of the week's contacts made")
    args = parser.parse_args()
    if "bench" not in DB_URL.rsplit("/", 1)[-1]:
        sys.exit(f"refusing to reset {DB_URL}: its name does not contain 'bench'")

    from app.common.clock import FixedClock, county_zone
    from app.duties.bulk import start_child_cycles
    from app.duties.models import DutyCycle
    from app.duties.scheduler import sweep_cycles
    from app.extensions import db

    print(f"bench/duty_sweep.py  {datetime.now(UTC).isoformat(timespec='seconds')}  tree {ROOT}  {DB_URL}  "
          f"load average {os.getloadavg()[0]:.2f}")
    clock = FixedClock(MONDAY)
    app = demo_county_app(DB_URL, "liandong-bench-sweep-", {"clock": clock})
    with app.app_context():
        generate(db, args.children)
        set_rules(db, RULES["weekly"])
        started = start_child_cycles(MONDAY, county_zone(), set())
        db.session.commit()
        db.session.execute(sa.text(
            "UPDATE process_instance SET status = 'completed', completed_at = :at "
            "WHERE id IN (SELECT instance_id FROM duty_cycle WHERE instance_id % 100 < :cut)"),
            {"at": MONDAY + timedelta(days=2), "cut": round(args.done * 100)})
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        db.session.remove()

        later = MONDAY + timedelta(weeks=1)
        clock.at = later
        statements = Tally[str]()

        def note(conn: object, cursor: object, statement: str, *rest: object) -> None:
            statements["SELECT" if statement.lstrip().upper().startswith("SELECT") else "other"] += 1

        sa.event.listen(db.engine, "before_cursor_execute", note)
        wall, cpu = time.perf_counter(), time.process_time()
        missed = sweep_cycles(later)
        db.session.commit()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sa.event.remove(db.engine, "before_cursor_execute", note)
        ended = Tally(str(s) for s in db.session.scalars(sa.select(DutyCycle.status).where(
            DutyCycle.child_id.is_not(None))))
    print(f"{started:,} weekly contacts started; sweep one week later: {wall:.2f} s wall, {cpu:.2f} s client CPU, "
          f"{statements['SELECT']:,} SELECTs + {statements['other']:,} other statements; {missed:,} missed; "
          f"cycles now {dict(sorted(ended.items()))}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
