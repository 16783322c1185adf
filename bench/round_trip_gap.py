#!/usr/bin/env python
"""What one round trip to PostgreSQL costs after the client has computed for a while (bench/README.md, session 18).

    .venv/bin/python bench/round_trip_gap.py --database-url postgresql://postgres@127.0.0.1:5432/test

``SELECT 1`` through psycopg, autocommit, after a busy loop of 0, 0.2, 1 and 3 ms on this process's CPU (what a
request does between its statements), median and mean wall ms of the round trip alone; then two statements in
psycopg's pipeline mode (one wait for both). In a tight loop both processes stay on their CPUs; after a gap the
server's backend has gone to sleep and must be woken, and that is what a completion pays per statement. Reads
nothing, writes nothing; printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import psycopg


def _busy(ms: float) -> None:
    until = time.perf_counter() + ms / 1000
    while time.perf_counter() < until:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--trips", type=int, default=1000)
    args = parser.parse_args()
    with psycopg.connect(args.database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        cur = conn.cursor()
        for gap in (0.0, 0.2, 1.0, 3.0):
            spent = []
            for _ in range(args.trips):
                _busy(gap)
                started = time.perf_counter()
                cur.execute("SELECT 1")
                cur.fetchall()
                spent.append(time.perf_counter() - started)
            print(f"after {gap:3.1f} ms of CPU: SELECT 1 median {statistics.median(spent) * 1000:.3f} ms, "
                  f"mean {statistics.mean(spent) * 1000:.3f} ms")
        for gap in (0.0, 1.0):
            spent = []
            for _ in range(args.trips):
                _busy(gap)
                started = time.perf_counter()
                with conn.pipeline():
                    cur.execute("SELECT 1")
                    conn.cursor().execute("SELECT 2")
                spent.append(time.perf_counter() - started)
            print(f"after {gap:3.1f} ms of CPU: two statements in one pipeline, median "
                  f"{statistics.median(spent) * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
