#!/usr/bin/env python
"""Starting a week's (month's, quarter's, half-year's) duty cycles for 100,000 enrolled children.

    .venv/bin/python bench/duty_cycles.py                       # 100,000 children, per-child path on 300
    .venv/bin/python bench/duty_cycles.py --children 10000 --per-child 200 --cadences weekly

Uses the PostgreSQL database BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/bench_duties;
its name must contain ``bench``) and **drops and recreates its public schema**. Children, care files and
enrolments are generated with INSERT ... SELECT generate_series over the demo county's villages.

For each cadence the frequency rules are set so that only one duty is due (weekly: the weekly contact;
monthly: the home visit; quarterly: the home visit at a quarterly rule; semiannual: the assessment) and,
in one run, the same moment is started twice:

* **per child**: the path the scheduler took before bulk starts, one ``start_cycle`` per child (overlap
  check, cycle row, ``workflow.commands.start``: the engine, then the rows one by one), on the first
  ``--per-child`` children (their cycles exist afterwards, so the bulk run skips them);
* **bulk**: ``duties.bulk.start_child_cycles`` for everyone else (what ``start_due_duties`` runs), one
  commit at the end;

then prints children/s of each, the bulk time for 100,000 (measured, or scaled from the run's rate when
``--children`` is smaller), the ratio, the statements (SQLAlchemy's; the COPYs are not among them), and
the CPU seconds of the client (one process, one thread: one core) and of the PostgreSQL backends (read
from /proc): on a shared machine the wall time is mostly waiting for a core, the CPU seconds are not.
``--cpu N`` pins the client to core N. The generated cycles, instances,
tasks, timeline entries, notifications and audit rows are deleted between cadences.
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
from stats import server_cpu  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_duties")
RULES = {  # the one duty left on for each cadence (the run is now: the periods containing this moment)
    "weekly": {"weekly_contact": "weekly"},
    "monthly": {"home_visit": "monthly"},
    "quarterly": {"home_visit": "quarterly"},
    "semiannual": {"assessment": "semiannual"},
}
GENERATED = ("audit_event", "notification", "email_outbox", "timeline_entry", "timer", "task", "duty_cycle",
             "process_instance")


def reset_schema(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def demo_county_app(url: str, prefix: str, extra: dict[str, Any] | None = None) -> Any:
    """An app on ``url`` (its schema dropped and recreated) holding the demo county, its shipped processes and
    ladders: what both duty benches start from. ``extra``: create_app's extras (a clock)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.cli import deploy_shipped
    from app.deadlines.ladder import seed_default_ladders
    from app.extensions import db
    from app.org.demo import load_demo

    reset_schema(url)
    instance = Path(tempfile.mkdtemp(prefix=prefix))
    app = create_app({"database_url": url, "instance_dir": instance, "secret_key": "bench", "redis_url": None,
                      **({"extra": extra} if extra else {})})
    with app.app_context():
        upgrade()
        load_demo()
        deploy_shipped("bench")
        seed_default_ladders()
        db.session.commit()
    return app


def generate(db: Any, children: int) -> None:
    """``children`` children spread over the demo villages, each with a care file and an enrolment."""
    ex = db.session.execute
    villages = [r[0] for r in ex(sa.text("SELECT id FROM region WHERE level = 'village' ORDER BY id"))]
    params = {"villages": villages, "n": children}
    ex(sa.text("""
        INSERT INTO child (name, sex, village_id, address, tags, created_at)
        SELECT '儿童' || g, CASE WHEN g % 2 = 0 THEN 'female' ELSE 'male' END,
               (CAST(:villages AS int[]))[1 + g % cardinality(CAST(:villages AS int[]))], '', '["left_behind"]', now()
        FROM generate_series(1, :n) g"""), params)
    ex(sa.text("""
        INSERT INTO case_file (number, child_id, region_id, kind, title, situation, status, opened_at)
        SELECT 'LD-C-' || lpad(c.id::text, 7, '0'), c.id, c.village_id, 'care', c.name || ' 关爱服务档案', '',
               'open', now() - interval '300 days'
        FROM child c"""))
    ex(sa.text("""
        INSERT INTO enrolment (child_id, case_id, tags, key_reasons, started_on, start_reason, note, created_at)
        SELECT c.child_id, c.id, '["left_behind"]', '[]', CURRENT_DATE - 400, 'survey', '', now()
        FROM case_file c WHERE c.kind = 'care'"""))
    db.session.commit()
    ex(sa.text("ANALYZE"))
    db.session.commit()


def set_rules(db: Any, on: dict[str, str]) -> None:
    from app.duties.catalog import CHILD_CALENDAR_DUTIES
    from app.duties.frequencies import set_frequency

    for duty in CHILD_CALENDAR_DUTIES:
        set_frequency(duty, "default", on.get(duty, "none"), None)
    db.session.commit()


def clear(db: Any) -> None:
    """Empty what a cadence generated, leaving the emptied tables' statistics unknown, as before the first cadence.

    TRUNCATE leaves no dead rows and resets ``pg_class.reltuples`` to -1 (unknown: the planner then assumes
    a few pages). A ``VACUUM ANALYZE`` here recorded them as empty (0 rows); the likely effect is that plans
    made at the next cadence's first rows (the foreign-key checks' are kept per connection) chose sequential
    scans of tables that then grew to 100,000 rows within the transaction: the second cadence of a run took
    546 s (server CPU 50 -> 291 s) and the semiannual one did not finish in 7 minutes, where each first
    cadence took 82-86 s.
    """
    db.session.execute(sa.text(f"TRUNCATE {', '.join(GENERATED)} CASCADE"))
    db.session.commit()


class Counter:
    """Statements executed, and the wall time spent inside them (driver + server, waiting included)."""

    def __init__(self, engine: Any) -> None:
        self.n, self.sql, self._t0 = 0, 0.0, 0.0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self.n += 1
        self._t0 = time.perf_counter()

    def _after(self, *args: Any) -> None:
        self.sql += time.perf_counter() - self._t0


def per_child(db: Any, at: datetime, count: int) -> tuple[int, float, float]:
    """The path before bulk starts: ``_overlaps`` + ``start_cycle`` per child, as ``_Run.start`` did."""
    from app.cases.models import Case
    from app.common.clock import county_zone
    from app.duties.bulk import _enrolled
    from app.duties.cycles import period_of
    from app.duties.frequencies import cadence_for, effective_frequencies
    from app.duties.scheduler import _overlaps, start_cycle

    tz = county_zone()
    table = effective_frequencies()
    rows = _enrolled(at.astimezone(tz).date())[:count]
    started = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for enrolment, case_id, *_ in rows:
        case = db.session.get(Case, case_id)
        for duty in ("weekly_contact", "home_visit", "assessment"):
            cadence = cadence_for(duty, enrolment, case.grade, table)
            if cadence is None:
                continue
            period = period_of(cadence, at, tz)
            subject = f"child:{enrolment.child_id}"
            if _overlaps(duty, subject, period):
                continue
            cycle = start_cycle(duty, subject, period.key, case, period_start=period.start.astimezone(UTC),
                                due_at=period.end.astimezone(UTC), data={"cadence": cadence},
                                child_id=enrolment.child_id)
            started += cycle is not None
    db.session.commit()
    return started, time.perf_counter() - wall, time.process_time() - cpu


def bulk_run(db: Any, at: datetime) -> tuple[int, float, float, float]:
    """(cycles started, wall s, client CPU s, server CPU s) of one bulk run, committed."""
    from app.common.clock import county_zone
    from app.duties.bulk import start_child_cycles
    from app.duties.models import DutyCycle

    with db.engine.connect() as probe:
        server = server_cpu(probe)
        wall, cpu = time.perf_counter(), time.process_time()
        existing = {tuple(r) for r in db.session.execute(sa.select(DutyCycle.duty, DutyCycle.subject,
                                                                   DutyCycle.period))}
        started = start_child_cycles(at, county_zone(), existing)
        db.session.commit()
        took, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return started, took, cpu, server_cpu(probe) - server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--per-child", type=int, default=300, help="children started by the per-child path")
    parser.add_argument("--cadences", default="weekly,monthly,quarterly,semiannual")
    parser.add_argument("--cpu", type=int, default=-1, help="pin the client to this core (default: not pinned)")
    parser.add_argument("--allow-reset", action="store_true", help="reset a database whose name lacks 'bench'")
    args = parser.parse_args()
    if "bench" not in DB_URL.rsplit("/", 1)[-1] and not args.allow_reset:
        sys.exit(f"refusing to reset {DB_URL}: its name does not contain 'bench' (--allow-reset)")
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})

    from app.common.clock import now
    from app.extensions import db

    print(f"bench/duty_cycles.py  {datetime.now(UTC).isoformat(timespec='seconds')}  {DB_URL}  "
          f"load average {os.getloadavg()[0]:.2f}  client on core {args.cpu}")
    app = demo_county_app(DB_URL, "liandong-bench-duties-")
    with app.app_context():
        start = time.perf_counter()
        generate(db, args.children)
        print(f"generated {args.children:,} enrolled children in {time.perf_counter() - start:.1f} s")
        counter = Counter(db.engine)
        print("\n| cadence | per child: children/s | bulk: children | bulk s | bulk children/s | "
              "bulk time for 100,000 | bulk / per child | statements per 1,000 (per child / bulk) | "
              "bulk: client CPU / server CPU / in SQL, s |")
        print("|---|---|---|---|---|---|---|---|---|")
        for cadence in args.cadences.split(","):
            at = now()
            set_rules(db, RULES[cadence])
            before = counter.n
            one, one_s, _ = per_child(db, at, args.per_child)
            one_statements = counter.n - before
            before, sql = counter.n, counter.sql
            many, many_s, many_cpu, many_server = bulk_run(db, at)
            many_statements, many_sql = counter.n - before, counter.sql - sql
            rate_one, rate_many = one / one_s, many / many_s
            print(f"| {cadence} | {rate_one:,.0f} | {many:,} | {many_s:.1f} | {rate_many:,.0f} | "
                  f"{100_000 / rate_many:.1f} s | {rate_many / rate_one:.1f}x | "
                  f"{one_statements * 1000 / max(one, 1):,.0f} / {many_statements * 1000 / max(many, 1):,.1f} | "
                  f"{many_cpu:.1f} / {many_server:.1f} / {many_sql:.1f} |", flush=True)
            clear(db)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
