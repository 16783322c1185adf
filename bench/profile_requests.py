#!/usr/bin/env python
"""Where each request of load.py's loop spends its time: the whole Flask stack in one process, cProfiled per request.

    .venv/bin/python bench/profile_requests.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x \\
        --redis-url redis://127.0.0.1:6379/12 --cases 20

The same requests as ``bench/load.py`` (``POST /api/v1/reports``, then per step ``GET /api/v1/tasks``, ``POST
.../claim``, ``POST .../complete``, each with the acting user's bearer token) through Flask's test client, so
everything from the WSGI call to the response body runs (authentication, hooks, parsing, the view, the
answer's serialisation, logging, metrics) but no HTTP server and no other client: the numbers are one
request's own cost. Printed per kind of request: wall and CPU milliseconds (median), SQL statements per
request, and the functions that take the most time under cProfile (cumulative and own). The database is
emptied first (its name must contain ``bench``); the Redis database is FLUSHDB'd. Numbers are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from load import KINDS, REPORTER, in_process_app  # noqa: E402
from workload import main_path, report_body  # noqa: E402


class Kind:
    """One kind of request: its profile, wall and CPU times, statement counts."""

    def __init__(self, name: str, clock: str = "wall") -> None:
        self.name = name
        # The CPU clock shows what the request computes; the wall clock adds its waits for the server and a CPU.
        self.profile = cProfile.Profile(time.process_time) if clock == "cpu" else cProfile.Profile()
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.statements: list[int] = []
        self.last: list[str] = []
        self.trips: list[int] = []
        self.last_trips: dict[str, int] = {}
        """What the last request sent PostgreSQL, by kind (BEGIN, COMMIT, ROLLBACK, query: SELECT 1 too), and Redis."""
        """The statements of the last request measured (``--statements``)."""


def _print(kind: Kind, top: int, profiled: bool, statements: bool) -> None:
    print(f"== {kind.name}: n={len(kind.wall)}, wall p50 {statistics.median(kind.wall) * 1000:.2f} ms, "
          f"CPU p50 {statistics.median(kind.cpu) * 1000:.2f} ms, SQL statements "
          f"{dict(sorted(Counter(kind.statements).items()))} ==")
    print(f"   round trips per request (PostgreSQL and Redis) {dict(sorted(Counter(kind.trips).items()))}; "
          f"the last one: {kind.last_trips}")
    if statements:
        print("\n".join(f"  {i}. {text}" for i, text in enumerate(kind.last, 1)))
    if not profiled:
        return
    out = io.StringIO()
    stats = pstats.Stats(kind.profile, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def _count_round_trips() -> Counter[str]:
    """Count what psycopg sends the server: each query (those SQLAlchemy's events do not see, such as the pool's
    ``SELECT 1`` ping, too) and each transaction command (BEGIN, COMMIT, ROLLBACK: one round trip each)."""
    import psycopg

    trips: Counter[str] = Counter()
    command, execute = psycopg.Connection._exec_command, psycopg.Cursor.execute

    def counted_command(self: Any, cmd: Any, *args: Any, **kw: Any) -> Any:
        trips[(cmd if isinstance(cmd, bytes) else str(cmd).encode()).split()[0].decode()] += 1
        return (yield from command(self, cmd, *args, **kw))

    def counted_execute(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        trips["query"] += 1
        return execute(self, query, *args, **kw)

    psycopg.Connection._exec_command = counted_command  # type: ignore[method-assign]
    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]

    import redis

    send = redis.Connection.send_packed_command

    def counted_send(self: Any, command: Any, *args: Any, **kw: Any) -> Any:
        trips["redis"] += 1  # one send per command or per pipeline
        return send(self, command, *args, **kw)

    redis.Connection.send_packed_command = counted_send  # type: ignore[method-assign]
    return trips


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True, help="a Redis database the script may FLUSHDB")
    parser.add_argument("--cases", type=int, default=20, help="cases measured (after 3 not measured)")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--no-profile", action="store_true", help="times and statements only (no cProfile)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="the profile's clock: wall (waits included) or this process's CPU time")
    parser.add_argument("--statements", action="store_true", help="print the SQL of each kind's last request")
    parser.add_argument("--workdir", default="/tmp/liandong-bench-profile")
    args = parser.parse_args()
    if "bench" not in args.database_url.rsplit("/", 1)[-1]:
        parser.error("the profile DROPs the public schema: use a database named *bench*")

    _, steps = main_path()
    app, tokens = in_process_app(args.database_url, args.redis_url, Path(args.workdir),
                                 sorted({REPORTER, *(s.username for s in steps)}))

    import sqlalchemy as sa

    from app.extensions import db

    counted = [0]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counted[0] += 1
        seen.append(" ".join(statement.split())[:int(os.environ.get("BENCH_SQL_WIDTH", "160"))])

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", count)
    trips = _count_round_trips()
    client = app.test_client()
    kinds = {k: Kind(k, args.clock) for k in KINDS}

    def call(kind: str, method: str, path: str, user: str, measured: bool, **kw: Any) -> Any:
        k = kinds[kind]
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        counted[0] = 0
        seen.clear()
        trips.clear()
        w0, c0 = time.perf_counter(), time.process_time()
        if measured and not args.no_profile:
            k.profile.enable()
        resp = client.open(path, method=method, headers=headers, **kw)
        if measured and not args.no_profile:
            k.profile.disable()
        if measured:
            k.wall.append(time.perf_counter() - w0)
            k.cpu.append(time.process_time() - c0)
            k.statements.append(counted[0])
            k.last = list(seen)
            k.trips.append(sum(trips.values()))
            k.last_trips = dict(trips)
        if resp.status_code >= 300:
            raise RuntimeError(f"{method} {path} -> {resp.status_code} {resp.get_data(as_text=True)[:300]}")
        return resp.get_json()

    print(f"load average {os.getloadavg()[0]:.2f}; {args.cases} cases of {len(steps)} steps measured")
    for n in range(args.cases + 3):
        measured = n >= 3
        body = report_body(n)
        body["child"]["id_number"] = f"37000020150601{n % 10000:04d}"
        body["idempotency_key"] = f"bench-profile-{n:08d}"
        case_id = call("report", "POST", "/api/v1/reports", REPORTER, measured, json=body)["case_id"]
        for step in steps:
            inbox = call("inbox", "GET", "/api/v1/tasks?per_page=50", step.username, measured)["items"]
            task_id = next(t["id"] for t in inbox if t["case_id"] == case_id and t["bpmn_id"] == step.bpmn_id)
            call("claim", "POST", f"/api/v1/tasks/{task_id}/claim", step.username, measured)
            call("complete", "POST", f"/api/v1/tasks/{task_id}/complete", step.username, measured,
                 json={"data": dict(step.data)})
    for kind in kinds.values():
        _print(kind, args.top, not args.no_profile, args.statements)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
