#!/usr/bin/env python
"""Deadline sweep and coordinator dashboard at 1,000,000 open tasks, and the deadline-to-escalation delay.

    .venv/bin/python bench/sweep.py                      # 1,000,000 open tasks, 1% overdue
    .venv/bin/python bench/sweep.py --tasks 100000       # smaller
    .venv/bin/python bench/sweep.py --no-worker          # skip the worker delay (no Redis)
    .venv/bin/python bench/sweep.py --baseline REV       # also sweep the same rows with the code of REV first

``--baseline REV`` checks REV out with ``git worktree add /tmp/sweepbase-<rev> REV`` (once per revision; a
different REV there is refused), runs one inline sweep with that code in a subprocess over the
generated rows, puts the rows back as they were (ladder levels restored; escalation rows,
notifications, mails and the sweep's timeline rows deleted, then VACUUM ANALYZE) and runs
the sweep of this tree over the same rows: before and after in one run, on the same data.

Uses the PostgreSQL database ``bench`` (BENCH_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/bench) and resets its schema first; the
rows are generated with INSERT ... SELECT generate_series, not the ORM. The
delay part runs a real ``flask cron`` and ``flask worker`` on Redis database 3
(BENCH_REDIS_URL), which it flushes. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from stats import server_cpu  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
KINDS = ["police", "township", "village_committee", "civil_affairs", "education"]


def reset_schema() -> None:
    engine = sa.create_engine(DB_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def timed(label: str, fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    best, median = min(samples), statistics.median(samples)
    print(f"  {label:44} median {median * 1000:9.1f} ms   best {best * 1000:9.1f} ms   (n={repeat})")
    return result


def generate(db, n_tasks: int, overdue_pct: float, n_completed: int) -> None:  # type: ignore[no-untyped-def]
    """Cases (10 open tasks each) spread over the demo villages; ``overdue_pct`` of tasks past due."""
    n_cases = max(1, n_tasks // 10)
    every = int(round(100 / overdue_pct))
    ex = db.session.execute
    villages = [r[0] for r in ex(sa.text("SELECT id FROM region WHERE level = 'village' ORDER BY id"))]
    spec_id = ex(sa.text("SELECT id FROM process_spec ORDER BY id LIMIT 1")).scalar()
    units = {k: ex(sa.text("SELECT id FROM unit WHERE kind = :k ORDER BY id LIMIT 1"), {"k": k}).scalar()
             for k in KINDS}
    params = {"villages": villages, "kinds": KINDS, "units": [units[k] for k in KINDS], "spec": spec_id,
              "n_cases": n_cases, "n_tasks": n_tasks, "every": every, "n_done": n_completed}
    ex(sa.text("""
        INSERT INTO child (name, sex, village_id, address, tags, created_at)
        SELECT 'bench-' || g, 'female', (CAST(:villages AS int[]))[1 + g % cardinality(CAST(:villages AS int[]))], '', '[]', now()
        FROM generate_series(1, :n_cases) g"""), params)
    ex(sa.text("""
        INSERT INTO case_file (number, child_id, region_id, situation, status, opened_at)
        SELECT 'BENCH' || c.id, c.id, c.village_id, 'living_alone', 'open', now() - interval '40 days'
        FROM child c"""), params)
    ex(sa.text("""
        INSERT INTO process_instance (case_id, spec_id, state, serializer_version, version, status, data,
                                      started_at, updated_at)
        SELECT id, :spec, '{}', 'bench', 1, 'running', '{}', opened_at, opened_at FROM case_file"""), params)
    # Open tasks: every `every`-th one was due between 1 hour and 7 days ago and was reminded already.
    ex(sa.text("""
        INSERT INTO task (instance_id, case_id, engine_task_id, bpmn_id, name, lane, department_kind, unit_id,
                          state, instructions, deadline, created_at, due_at, remind_at, escalation_level,
                          next_escalation_at)
        SELECT pi.id, pi.case_id, substr(md5(g::text), 1, 36), 'step_' || (g % 12), '步骤 ' || (g % 12),
               k.kind, k.kind, k.unit, 'open', '', '3WD', t.created, t.due, t.remind,
               CASE WHEN g % :every = 0 THEN 1 ELSE 0 END,
               CASE WHEN g % :every = 0 THEN t.due ELSE t.remind END
        FROM generate_series(1, :n_tasks) g
        JOIN process_instance pi ON pi.id = (SELECT min(id) FROM process_instance) + (g - 1) % :n_cases
        CROSS JOIN LATERAL (SELECT (CAST(:kinds AS text[]))[1 + g % 5] AS kind, (CAST(:units AS int[]))[1 + g % 5] AS unit) k
        CROSS JOIN LATERAL (
          SELECT now() - interval '10 days' AS created,
                 CASE WHEN g % :every = 0 THEN now() - interval '1 hour' - (g % 7) * interval '1 day'
                      ELSE now() + interval '1 day' + (g % 30) * interval '1 day' END AS due,
                 CASE WHEN g % :every = 0 THEN now() - interval '2 days' - (g % 7) * interval '1 day'
                      ELSE now() + (g % 30) * interval '1 day' + interval '6 hours' END AS remind
        ) t"""), params)
    # Completed tasks over the last 30 days, for the on-time rates and the trend (about 80% on time).
    ex(sa.text("""
        INSERT INTO task (instance_id, case_id, engine_task_id, bpmn_id, name, lane, department_kind, unit_id,
                          state, instructions, deadline, created_at, due_at, completed_at, escalation_level)
        SELECT pi.id, pi.case_id, substr(md5('done' || g), 1, 36), 'step_' || (g % 12), '步骤 ' || (g % 12),
               (CAST(:kinds AS text[]))[1 + g % 5], (CAST(:kinds AS text[]))[1 + g % 5], (CAST(:units AS int[]))[1 + g % 5], 'completed', '', '3WD',
               c.done - interval '3 days', c.done + CASE WHEN g % 5 = 0 THEN interval '-6 hours'
                                                         ELSE interval '6 hours' END, c.done, 0
        FROM generate_series(1, :n_done) g
        JOIN process_instance pi ON pi.id = (SELECT min(id) FROM process_instance) + (g - 1) % :n_cases
        CROSS JOIN LATERAL (SELECT now() - (g % 30) * interval '1 day' - (g % 600) * interval '1 minute' AS done) c
        """), params)
    db.session.commit()
    ex(sa.text("ANALYZE"))
    db.session.commit()


BASE_DIR = Path("/tmp/sweepbase")
SNAPSHOT = "bench_due_snapshot"
BASE_SWEEP = """
import sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
from stats import server_cpu
from app import create_app
from app.extensions import db
from workers.jobs import sweep
app = create_app({{"database_url": {db!r}, "instance_dir": {instance!r}, "secret_key": "bench", "redis_url": None}})
with app.app_context():
    start, cpu = time.perf_counter(), time.process_time()
    report = sweep(inline=True)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    with db.engine.connect() as probe:
        server = server_cpu(probe)
    print(report["tasks_due"], report["steps_taken"], took, cpu, server)
"""


def baseline_tree(rev: str) -> Path:
    """The code of ``rev`` in a worktree of its own (never git stash: the stash is shared)."""
    want = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    base = BASE_DIR.with_name(f"{BASE_DIR.name}-{want[:10]}")  # one per revision: engineers share /tmp
    if base.exists():
        have = subprocess.run(["git", "rev-parse", "HEAD"], cwd=base, check=True, capture_output=True,
                              text=True).stdout.strip()
        if have != want:
            sys.exit(f"{base} holds {have[:10]}, not {rev}: `git worktree remove {base}` first")
        return base
    subprocess.run(["git", "worktree", "add", "--detach", str(base), want], cwd=ROOT, check=True,
                   capture_output=True)
    return base


def snapshot_due(db) -> None:  # type: ignore[no-untyped-def]
    db.session.execute(sa.text(f"DROP TABLE IF EXISTS {SNAPSHOT}"))
    db.session.execute(sa.text(
        f"CREATE TABLE {SNAPSHOT} AS SELECT id, escalation_level, next_escalation_at FROM task "
        "WHERE state = 'open' AND next_escalation_at <= now()"))
    db.session.commit()


def restore_due(db) -> None:  # type: ignore[no-untyped-def]
    """Undo a sweep: the ladder levels back, its escalation rows, notifications, mails and timeline rows gone."""
    ex = db.session.execute
    ex(sa.text(f"UPDATE task t SET escalation_level = s.escalation_level, next_escalation_at = s.next_escalation_at "
               f"FROM {SNAPSHOT} s WHERE t.id = s.id"))
    for table in ("escalation", "email_outbox", "notification"):
        ex(sa.text(f"DELETE FROM {table}"))
    ex(sa.text("DELETE FROM timeline_entry WHERE kind IN ('task_overdue', 'task_escalated')"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE task, escalation, notification, email_outbox, timeline_entry"))


DROPPED_KEYS = (
    ("f2a6c8e1d4b7_sweep_rows_without_repeated_foreign_keys.py", "escalation", "fk_escalation_case_id_case_file",
     "case_id", "case_file"),
    ("f2a6c8e1d4b7_sweep_rows_without_repeated_foreign_keys.py", "escalation", "fk_escalation_unit_id_unit",
     "unit_id", "unit"),
    ("f2a6c8e1d4b7_sweep_rows_without_repeated_foreign_keys.py", "notification", "fk_notification_case_id_case_file",
     "case_id", "case_file"),
    ("d4f7b2e9a6c1_task_references_without_foreign_keys.py", "escalation", "fk_escalation_task_id_task",
     "task_id", "task"),
    ("d4f7b2e9a6c1_task_references_without_foreign_keys.py", "timeline_entry", "fk_timeline_entry_task_id_task",
     "task_id", "task"),
    ("d4f7b2e9a6c1_task_references_without_foreign_keys.py", "notification", "fk_notification_task_id_task",
     "task_id", "task"),
)
"""Foreign keys a migration (the file named) dropped: put back (NOT VALID: checked for new rows, like the old
schema) while a baseline older than it sweeps, so BEFORE pays for them as it did."""


def baseline_keys(db, rev: str, tree: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Re-create the dropped foreign keys that ``rev``'s schema still had; the names re-created."""
    present = set(db.session.execute(sa.text("SELECT conname FROM pg_constraint WHERE contype = 'f'")).scalars())
    made = []
    for migration, table, name, column, referred in DROPPED_KEYS:
        if (tree / "migrations/versions" / migration).exists() or name in present:
            continue
        db.session.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
                                   f"REFERENCES {referred} (id) NOT VALID"))
        made.append(name)
    db.session.commit()
    return made


OLD_INDEXES = "migrations/versions/c5e1a7d3b9f4_task_indexes_without_nulls.py"
"""The migration that left NULLs out of two task indexes and dropped ``ix_task_instance_id``: a baseline older
than it sweeps with the old indexes (each rebuilt on the million rows before it, and back after)."""


def task_indexes(db, old: bool) -> None:  # type: ignore[no-untyped-def]
    """The task indexes as a tree before (``old``) or after ``OLD_INDEXES`` has them."""
    ex = db.session.execute
    for column in ("completed_at", "assignee_id"):
        ex(sa.text(f"DROP INDEX IF EXISTS ix_task_{column}"))
        ex(sa.text(f"CREATE INDEX ix_task_{column} ON task ({column})"
                   + ("" if old else f" WHERE {column} IS NOT NULL")))
    ex(sa.text("DROP INDEX IF EXISTS ix_task_instance_id"))
    if old:
        ex(sa.text("CREATE INDEX ix_task_instance_id ON task (instance_id)"))
    db.session.commit()


def drop_keys(db, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    for _migration, table, name, _column, _referred in DROPPED_KEYS:
        if name in names:
            db.session.execute(sa.text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    db.session.commit()


def run_baseline(app, rev: str) -> None:  # type: ignore[no-untyped-def]
    from app.extensions import db

    tree = baseline_tree(rev)
    with app.app_context():
        snapshot_due(db)
        keys = baseline_keys(db, rev, tree)
        old_indexes = not (tree / OLD_INDEXES).exists() and (ROOT / OLD_INDEXES).exists()
        if old_indexes:
            task_indexes(db, old=True)
    if keys:
        print(f"  (foreign keys of {rev}'s schema put back for it: {', '.join(keys)})")
    if old_indexes:
        print(f"  (task indexes of {rev}'s schema put back for it: NULLs kept, ix_task_instance_id)")
    code = BASE_SWEEP.format(root=str(tree), bench=str(ROOT / "bench"), db=DB_URL,
                             instance=str(app.config["LIANDONG"].instance_dir))
    with app.app_context(), db.engine.connect() as probe:
        ours = server_cpu(probe)  # this process's idle backends, counted again by the child's total
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, check=True, capture_output=True, text=True)
    due, taken, took, cpu, server = out.stdout.split()[-5:]
    print(f"  BEFORE ({rev}, {tree}): {int(due):,} tasks due, {int(taken):,} ladder steps taken in "
          f"{float(took):.2f} s, client CPU {float(cpu):.2f} s, server CPU {float(server) - ours:.2f} s "
          f"({int(taken) / float(took):,.0f} steps/s)")
    with app.app_context():
        restore_due(db)
        drop_keys(db, keys)
        if old_indexes:
            task_indexes(db, old=False)


class StatementTimes:
    """Wall time of each statement the sweep sends, summed by its first words (``--statements``): from the
    cursor's execute to its return, so the server's work on it plus the round trip (the client's time
    building parameters is outside it)."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self._started: dict[int, float] = {}

    @staticmethod
    def _kind(statement: str) -> str:
        words = statement.split()
        head = " ".join(words[:3])
        if words and words[0].upper() == "WITH":  # a CTE: name what it writes
            for verb in ("INSERT INTO", "UPDATE", "DELETE FROM"):
                at = statement.find(verb)
                if at >= 0:
                    return "WITH ... " + " ".join(statement[at:].split()[:3])
        return head[:60]

    def before(self, conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        self._started[id(cursor)] = time.perf_counter()

    def after(self, conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        began = self._started.pop(id(cursor), None)
        if began is not None:
            self.totals.setdefault(self._kind(statement), []).append(time.perf_counter() - began)

    def report(self) -> None:
        print("    per statement (wall from execute to return, summed over the sweep's batches):")
        for kind, times in sorted(self.totals.items(), key=lambda kv: -sum(kv[1])):
            print(f"      {sum(times) * 1000:9.1f} ms  n={len(times):<5} {kind}")


def after_sweep(app, label: str, per_statement: bool = False) -> None:  # type: ignore[no-untyped-def]
    """One inline sweep of this tree: wall, client CPU (all threads) and server CPU (all backends)."""
    from app.extensions import db
    from workers.jobs import sweep

    times = StatementTimes() if per_statement else None
    with app.app_context(), db.engine.connect() as probe:
        if times is not None:
            sa.event.listen(db.engine, "before_cursor_execute", times.before)
            sa.event.listen(db.engine, "after_cursor_execute", times.after)
        server = server_cpu(probe)
        start, cpu = time.perf_counter(), time.process_time()
        report = sweep(inline=True)
        took, cpu = time.perf_counter() - start, time.process_time() - cpu
        server = server_cpu(probe) - server
        if times is not None:
            sa.event.remove(db.engine, "before_cursor_execute", times.before)
            sa.event.remove(db.engine, "after_cursor_execute", times.after)
    print(f"  {label}: {report['tasks_due']:,} tasks due, {report['steps_taken']:,} ladder steps taken "
          f"(escalation rows + notifications + timeline) in {took:.2f} s, client CPU {cpu:.2f} s, "
          f"server CPU {server:.2f} s ({report['steps_taken'] / took:,.0f} steps/s)")
    if times is not None:
        times.report()


def worker_delay(app, samples: int, interval: int) -> None:  # type: ignore[no-untyped-def]
    """Tasks whose next ladder step falls due in the next seconds, with `flask cron` + `flask worker` running."""
    from redis import Redis

    from app.extensions import db

    Redis.from_url(REDIS_URL).flushdb()
    env = {**os.environ, "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "FLASK_APP": "app:create_app",
           "LIANDONG_INSTANCE_DIR": str(app.config["LIANDONG"].instance_dir), "LIANDONG_SECRET_KEY": "bench",
           "LIANDONG_SWEEP_INTERVAL": str(interval)}
    logs = Path(app.config["LIANDONG"].instance_dir)
    procs = []
    for command in (["cron"], ["worker"]):
        with open(logs / f"{command[0]}.log", "w") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "flask", *command], cwd=ROOT, env=env,
                                          stdout=out, stderr=subprocess.STDOUT))
    try:
        time.sleep(4)  # both processes up
        with app.app_context():
            ids = [r[0] for r in db.session.execute(sa.text(
                "SELECT id FROM task WHERE state = 'open' AND next_escalation_at > now() + interval '1 day' "
                "ORDER BY id LIMIT :n"), {"n": samples})]
            for n, task_id in enumerate(ids):  # due 2 s apart, starting in 3 s
                db.session.execute(sa.text(
                    "UPDATE task SET due_at = now() + make_interval(secs => :s), remind_at = now() - interval '1 hour', "
                    "escalation_level = 1, next_escalation_at = now() + make_interval(secs => :s) WHERE id = :id"),
                    {"s": 3 + 2 * n, "id": task_id})
            db.session.commit()
            deadline = time.monotonic() + 3 + 2 * samples + 3 * interval + 30
            rows = []
            while time.monotonic() < deadline:
                rows = db.session.execute(sa.text(
                    "SELECT extract(epoch FROM recorded_at - scheduled_at) FROM escalation "
                    "WHERE task_id = ANY(:ids) AND level = 2"), {"ids": ids}).all()
                db.session.rollback()
                if len(rows) == len(ids):
                    break
                time.sleep(0.2)
        delays = sorted(float(r[0]) for r in rows)
        if not delays:
            print("  no escalation recorded: is Redis up? see the cron/worker logs in", logs)
            return
        print(f"  sweep interval {interval} s, {len(delays)}/{len(ids)} escalations recorded: delay "
              f"median {statistics.median(delays):.2f} s, mean {statistics.mean(delays):.2f} s, "
              f"max {max(delays):.2f} s, min {min(delays):.2f} s")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def prepare(db, args) -> None:  # type: ignore[no-untyped-def]
    """Schema, demo county, shipped processes and ladders, then the generated rows."""
    from flask_migrate import upgrade

    from app.cli import deploy_shipped
    from app.deadlines.ladder import seed_default_ladders
    from app.org.demo import load_demo

    upgrade()
    load_demo()
    deploy_shipped("bench")
    seed_default_ladders()
    db.session.commit()
    start = time.perf_counter()
    generate(db, args.tasks, args.overdue_pct, args.completed)
    counts = db.session.execute(sa.text(
        "SELECT count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'open' AND due_at <= now()),"
        " count(*) FILTER (WHERE state = 'completed') FROM task")).one()
    print(f"generated in {time.perf_counter() - start:.1f} s: {counts[0]:,} open tasks, {counts[1]:,} overdue, "
          f"{counts[2]:,} completed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--overdue-pct", type=float, default=1.0)
    parser.add_argument("--completed", type=int, default=100_000)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--interval", type=int, default=5, help="sweep interval for the delay measurement (s)")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--baseline", metavar="REV", help="sweep the same rows with the code of REV first")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --baseline: before, after, before, after ... on the same restored rows")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard queries")
    parser.add_argument("--statements", action="store_true",
                        help="print each statement kind's summed wall time for this tree's sweeps")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the rows an earlier run generated (no reset; its swept rows are put back first)")
    args = parser.parse_args()

    from app import create_app
    from app.extensions import db

    print(f"bench/sweep.py  {datetime.now(UTC).isoformat(timespec='seconds')}  {DB_URL}  "
          f"load average {os.getloadavg()[0]:.2f}")
    if not args.reuse:
        reset_schema()
    instance = Path(tempfile.mkdtemp(prefix="liandong-bench-"))
    app = create_app({"database_url": DB_URL, "instance_dir": instance, "secret_key": "bench", "redis_url": None})
    with app.app_context():
        if args.reuse:
            restore_due(db)  # the rows as generated: the snapshot an earlier run took before its first sweep
            from flask_migrate import upgrade

            upgrade()  # rows generated by an older tree: its schema brought to this tree's
            print("reusing the rows an earlier run generated")
        else:
            prepare(db, args)

    from app.common.clock import now
    from app.dashboard import queries
    from app.deadlines.escalation import due_task_ids
    from app.org.queries import user_by_username
    from workers.jobs import sweep

    print("\none sweep (inline: batches of 1,000 due tasks locked with SKIP LOCKED, set-based writes, "
          "one commit per batch)")
    with app.app_context():
        timed("scan: due ladder steps (index range scan)", lambda: due_task_ids(now()), repeat=3)
        db.session.rollback()
    settings = app.config["LIANDONG"]
    for round_ in range(args.rounds if args.baseline else 1):
        if args.rounds > 1:
            print(f"  round {round_ + 1} (load average {os.getloadavg()[0]:.2f})")
        if args.baseline:
            run_baseline(app, args.baseline)
        if args.baseline and settings.sweep_connections > 1 and round_ == 0:
            app.config["LIANDONG"] = settings.model_copy(update={"sweep_connections": 1})
            with app.app_context():
                snapshot_due(db)
            after_sweep(app, "AFTER (this tree, one connection)", args.statements)
            with app.app_context():
                restore_due(db)
            app.config["LIANDONG"] = settings
        with app.app_context():
            snapshot_due(db)
        after_sweep(app, f"AFTER (this tree, {settings.sweep_connections} connections)" if args.baseline else "sweep",
                    args.statements)
        if round_ + 1 < (args.rounds if args.baseline else 1):
            with app.app_context():
                restore_due(db)
    with app.app_context():
        start = time.perf_counter()
        again = sweep(inline=True)
        print(f"  second sweep right after (nothing left): {again['steps_taken']} steps in "
              f"{(time.perf_counter() - start) * 1000:.1f} ms")

    if args.no_dashboard:
        return
    print(f"\ndashboard queries at this size (coordinator scope, {args.tasks:,} open tasks)")
    with app.app_context():
        user = user_by_username("coordinator")
        scope, at = queries.scope_for(user), now()
        start_p, end_p = queries.default_period(at)
        timed("overdue: kind x township", lambda: queries.overdue_matrix(scope, at), repeat=5)
        timed("ageing buckets", lambda: queries.ageing(scope, at), repeat=5)
        timed("escalations today / this week", lambda: queries.escalations(scope, at), repeat=5)
        timed("on-time rate per department (30 days)", lambda: queries.on_time(scope, start_p, end_p), repeat=5)
        timed("on-time rate per step (30 days)", lambda: queries.on_time(scope, start_p, end_p, True), repeat=5)
        timed("trend per day (30 days)", lambda: queries.trend(scope, start_p, end_p), repeat=5)
        timed("drill-down: police overdue, page 1 + count",
              lambda: queries.drill_down(scope, at, queries.DrillDown(kind="police")), repeat=5)
        timed("all panels (one dashboard page)", lambda: queries.panels(scope, at, start_p, end_p), repeat=3)

    if not args.no_worker:
        print("\ndelay between a deadline passing and its escalation being recorded (flask cron + flask worker)")
        worker_delay(app, args.samples, args.interval)


if __name__ == "__main__":
    main()
