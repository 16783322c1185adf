#!/usr/bin/env python
"""Task-completion latency of Liandong's service layer against bare SpiffWorkflow (see bench/README.md).

    .venv/bin/python bench/task_completion.py                       # SQLite, N=1000
    .venv/bin/python bench/task_completion.py --both --cases 1000   # SQLite, then PostgreSQL
    LIANDONG_ENGINE_BACKSTOP=0 .venv/bin/python bench/task_completion.py   # without the process backstop

Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import baselines  # noqa: E402
from platform_run import Breakdown, Platform, PlatformResult  # noqa: E402
from stats import Samples, ratio, table  # noqa: E402
from workload import (  # noqa: E402
    CHAIN_PROCESS,
    CHAIN_START,
    SCENARIO,
    VILLAGE,
    chain_files,
    main_files,
    main_path,
)

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/bench"


def prepare_postgres(url: str) -> None:
    """Create the database if it does not exist, then drop and recreate its public schema."""
    import psycopg
    import sqlalchemy as sa
    from psycopg import sql

    target = sa.engine.make_url(url)
    admin = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database or "bench")))
    plain = target.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _f(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _window(times: list[list[float]], first: int, last: int) -> Samples:
    """Steps first..last (1-based, inclusive) of every instance."""
    return Samples(f"{first}-{last}", [t for run in times for t in run[first - 1:last]])


def main_table(bare: baselines.MainResult, trip: baselines.MainResult, eng: baselines.MainResult,
               runs: list[PlatformResult]) -> str:
    cols: list[tuple[str, Samples, Samples]] = [("bare Spiff", bare.starts, bare.completions),
                                                ("round trip", trip.starts, trip.completions),
                                                ("app.engine", eng.starts, eng.completions)]
    for r in runs:
        cols.append((f"stored trip {r.database}", r.stored_trip.starts, r.stored_trip.completions))
    cols += [(r.database, r.starts, r.completions) for r in runs]
    stored = {r.database: r.stored_trip.completions for r in runs}
    base = bare.completions
    blank = ["-"] * (3 + len(runs))

    def vs_stored(name: str, c: Samples) -> str:
        own = stored.get(name.removeprefix("stored trip "))
        return ratio(c.ms(50), own.ms(50)) if own is not None else "-"
    rows = [
        ["complete p50 ms"] + [_f(c.ms(50)) for _, _, c in cols],
        ["complete p95 ms"] + [_f(c.ms(95)) for _, _, c in cols],
        ["complete p99 ms"] + [_f(c.ms(99)) for _, _, c in cols],
        ["complete mean ms"] + [_f(c.mean_ms) for _, _, c in cols],
        ["completions / s (serial)"] + [_f(c.per_second, 1) for _, _, c in cols],
        ["case start p50 ms"] + [_f(s.ms(50)) for _, s, _ in cols],
        ["case start p95 ms"] + [_f(s.ms(95)) for _, s, _ in cols],
        ["p50 ratio x / bare"] + [ratio(c.ms(50), base.ms(50)) for _, _, c in cols],
        ["p50 ratio x / round trip"] + [ratio(c.ms(50), trip.completions.ms(50)) for _, _, c in cols],
        ["p50 ratio x / stored trip (same DB)"] + [vs_stored(name, c) for name, _, c in cols],
        ["throughput ratio x / bare"] + [_f(c.per_second / base.per_second, 4) for _, _, c in cols],
        ["p50 ratio x / app.engine"] + [ratio(c.ms(50), eng.completions.ms(50)) for _, _, c in cols],
        ["SQL statements / completion", *blank] + [
            _f(r.breakdown.statements / max(r.breakdown.count, 1), 1) for r in runs],
        ["flushes / completion", *blank] + [
            _f(r.breakdown.flushes / max(r.breakdown.count, 1), 1) for r in runs],
        ["SQL statements / case start", *blank] + [
            _f(sum(r.start_statements) / max(len(r.start_statements), 1), 1) for r in runs],
    ]
    return table([""] + [name for name, _, _ in cols], rows)


def breakdown_table(runs: list[PlatformResult]) -> str:
    cols: list[tuple[str, Breakdown, int]] = [(r.database, r.breakdown, r.spec_row_bytes) for r in runs]
    cols += [(f"{r.database} chain", r.chain_breakdown, r.chain_spec_row_bytes) for r in runs
             if r.chain_breakdown.count]
    rows = []
    for label, get in [
        ("app.engine.complete_task (load+run+dump)", lambda b: b.engine),
        ("form validation (jsonschema)", lambda b: b.forms),
        ("SQL cursor execute (all statements)", lambda b: b.sql),
        ("COMMIT (minus its flush's SQL)", lambda b: b.commit),
        ("rest: ORM, projections, timeline, codecs", lambda b: b.total - b.engine - b.forms - b.sql - b.commit),
        ("total complete+commit (wall)", lambda b: b.total),
        ("  of which this process's CPU time", lambda b: b.cpu),
    ]:
        rows.append([label] + [_f(get(b) / max(b.count, 1) * 1000) for _, b, _ in cols])
    rows.append(["SQL statements / completion"] + [_f(b.statements / max(b.count, 1), 1) for _, b, _ in cols])
    rows.append(["flushes / completion"] + [_f(b.flushes / max(b.count, 1), 1) for _, b, _ in cols])
    rows.append(["process_spec content reads / completion"] + [_f(b.spec_loads / max(b.count, 1), 1) for _, b, _ in cols])
    rows.append(["process_spec row size (JSON KB)"] + [_f(size / 1024, 1) for _, _, size in cols])
    return table(["mean ms per completion"] + [name for name, _, _ in cols], rows)


def step_table(bare: baselines.MainResult, trip: baselines.MainResult, eng: baselines.MainResult, runs: list[PlatformResult]) -> str:
    headers = ["step (p50 ms)", "bare", "round trip", "engine"]
    for r in runs:
        headers += [f"stored {r.database}", r.database, "stmts"]
    headers.append("state B after")
    rows = []
    for bpmn_id in bare.per_step:
        row = [bpmn_id, _f(bare.per_step[bpmn_id].ms(50)), _f(trip.per_step[bpmn_id].ms(50)),
               _f(eng.per_step[bpmn_id].ms(50))]
        for r in runs:
            row += [_f(r.stored_trip.per_step[bpmn_id].ms(50)), _f(r.per_step[bpmn_id].ms(50)), str(r.per_step_statements.get(bpmn_id, "-"))]
        row.append(str(eng.state_bytes.get(bpmn_id, "-")))
        rows.append(row)
    return table(headers, rows)


def chain_table(n: int, window: int, bare: list[list[float]], eng: list[list[float]],
                eng_sizes: dict[int, int], runs: list[PlatformResult]) -> str:
    early, late = (1, window), (n - window + 1, n)
    head = ["", f"mean {early[0]}-{early[1]}", f"mean {late[0]}-{late[1]}", "late/early",
            f"p50 {early[0]}-{early[1]}", f"p50 {late[0]}-{late[1]}", f"state B @{window}", f"state B @{n}"]
    rows = []
    for name, times, sizes, stored in [("bare Spiff", bare, {}, {}), ("app.engine", eng, eng_sizes, {}),
                                       *[(r.database, r.chain_times, r.chain_sizes, r.chain_stored_sizes)
                                         for r in runs]]:
        a, b = _window(times, *early), _window(times, *late)

        def size(i: int, sizes: dict[int, int] = sizes, stored: dict[int, int] = stored) -> str:
            if i not in sizes:
                return "-"
            return f"{sizes[i]}" + (f" ({stored[i]} on disk)" if i in stored else "")

        rows.append([name, _f(a.mean_ms), _f(b.mean_ms), ratio(b.mean_ms, a.mean_ms), _f(a.ms(50)), _f(b.ms(50)),
                     size(window), size(n)])
    return table(head, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000, help="cases driven through the main path (N)")
    parser.add_argument("--warmup", type=int, default=10, help="extra cases run first and not counted")
    parser.add_argument("--database-url", default="sqlite",
                        help="'sqlite' (a temporary file, the default) or a PostgreSQL URL")
    parser.add_argument("--both", action="store_true", help=f"SQLite, then PostgreSQL ({DEFAULT_PG})")
    parser.add_argument("--chain-steps", type=int, default=200, help="user tasks in the history-growth chain")
    parser.add_argument("--chain-instances", type=int, default=10, help="chain instances per database")
    parser.add_argument("--chain-window", type=int, default=10, help="steps averaged at each end of the chain")
    parser.add_argument("--allow-reset", action="store_true",
                        help="allow dropping the public schema of a PostgreSQL database not named *bench*")
    args = parser.parse_args()

    urls = ["sqlite", args.database_url if args.database_url != "sqlite" else DEFAULT_PG] if args.both \
        else [args.database_url]
    for url in urls:
        if url != "sqlite" and "bench" not in url.rsplit("/", 1)[-1] and not args.allow_reset:
            parser.error(f"{url}: the benchmark DROPs the public schema; use a database named *bench* "
                         "or pass --allow-reset")
    if os.environ.get("LIANDONG_ENGINE_BACKSTOP") == "0":  # the app.engine column too, not only the platform's
        from app.engine import isolation

        isolation.configure(isolation.Backstop(enabled=False))
    started = time.perf_counter()
    start, steps = main_path()
    shown_dbs = ", ".join("sqlite (temp file)" if u == "sqlite" else u.split("@")[-1] for u in urls)
    print(f"env: Python {platform.python_version()}, SpiffWorkflow {version('SpiffWorkflow')}, "
          f"SQLAlchemy {version('SQLAlchemy')}, database {shown_dbs}, N={args.cases} cases "
          f"(+{args.warmup} warm-up), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"main path: four_in_one / {SCENARIO}, {len(steps)} user tasks per case, village {VILLAGE}; "
          f"chain: {args.chain_steps} user tasks x {args.chain_instances} instances")

    progress("baselines: bare SpiffWorkflow (in memory and round trip) and app.engine ...")
    bare = baselines.bare_main(main_files(), "four_in_one", start, steps, args.cases, args.warmup)
    trip = baselines.roundtrip_main(main_files(), "four_in_one", start, steps, args.cases, args.warmup)
    eng = baselines.engine_main(main_files(), start, steps, args.cases, args.warmup)
    files = chain_files(args.chain_steps)
    bare_chain = baselines.bare_chain(files, CHAIN_PROCESS, args.chain_steps, args.chain_instances, CHAIN_START)
    eng_chain, eng_sizes = baselines.engine_chain(files, args.chain_steps, args.chain_instances, CHAIN_START)

    runs: list[PlatformResult] = []
    for url in urls:
        progress(f"platform on {url.split('@')[-1]} ...")
        if url != "sqlite":
            prepare_postgres(url)
        bench = Platform(url)
        with bench.context():
            from app.extensions import db

            stored = baselines.stored_roundtrip_main(db.engine, main_files(), "four_in_one", start, steps,
                                                     args.cases, args.warmup)
            bench.setup_demo()
            result = bench.run_main(steps, args.cases, args.warmup, progress)
            if args.chain_instances > 0:
                bench.run_chain(result, args.chain_steps, args.chain_instances, progress)
        result.stored_trip = stored
        runs.append(result)

    print()
    print("== main path: one completion = complete(task, user, data) + commit; start = accept_report + commit ==")
    print(main_table(bare, trip, eng, runs))
    print()
    print("== where a platform completion's time goes ==")
    print(breakdown_table(runs))
    print()
    print("== per step ==")
    print(step_table(bare, trip, eng, runs))
    if args.chain_instances > 0:
        print()
        print(f"== history growth: completion latency (ms) early vs late in a {args.chain_steps}-step chain, "
              f"{args.chain_instances} instances; state = stored JSON bytes after that step ==")
        print(chain_table(args.chain_steps, args.chain_window, bare_chain, eng_chain, eng_sizes, runs))
    print()
    print(f"total run time {time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f} "
          f"(other processes on these {os.cpu_count()} CPUs inflate every wall time above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
