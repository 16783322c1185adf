#!/usr/bin/env python
"""The CPU a request costs before its own work: ``GET /healthz``, ``GET /api/v1/me`` and an empty inbox, in-process.

    .venv/bin/python bench/request_floor.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x \\
        --redis-url redis://127.0.0.1:6379/12
    .venv/bin/python bench/request_floor.py ... --profile /tmp/me.prof --profile-path /api/v1/me   # and cProfile it

What every request of ``bench/load.py``'s loop pays whatever it does (issue 17 part 3): Flask's dispatch and the
app's hooks (request log, metrics, limiter, security headers, the session's teardown), and for the API the bearer
token's check. ``/healthz`` is the plumbing with one ``SELECT 1``; ``/api/v1/me`` adds the token and a small
answer; ``GET /api/v1/tasks`` is the inbox of a unit with no open task (the demo county, nothing started). The
stack is prepared as ``bench/load.py`` prepares it (the database, whose name must contain ``bench``, is emptied;
the Redis database is FLUSHDB'd) and the requests go through Flask's test client in this process, so no HTTP
server's parsing is counted. Printed: median and mean CPU ms (``time.process_time``) over ``--requests`` of each,
``--rounds`` times. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from load import REPORTER, in_process_app  # noqa: E402
from workload import main_path  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True, help="a Redis database the script may FLUSHDB")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", help="write a cProfile (CPU clock) of --requests of --profile-path here")
    parser.add_argument("--profile-path", default="/api/v1/me")
    parser.add_argument("--workdir", default="/tmp/liandong-bench-floor")
    args = parser.parse_args()
    if "bench" not in args.database_url.rsplit("/", 1)[-1]:
        parser.error("the run DROPs the public schema: use a database named *bench*")

    _, steps = main_path()
    user = steps[0].username
    app, tokens = in_process_app(args.database_url, args.redis_url, Path(args.workdir), sorted({REPORTER, user}))
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {tokens[user]}"}
    paths: list[tuple[str, dict[str, str]]] = [("/healthz", {}), ("/api/v1/me", bearer),
                                               ("/api/v1/tasks?per_page=50", bearer)]

    def cpu_ms(path: str, headers: dict[str, str]) -> tuple[float, float]:
        spent = []
        for _ in range(args.requests):
            started = time.process_time()
            answer: Any = client.get(path, headers=headers)
            spent.append(time.process_time() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {path} -> {answer.status_code}")
        return statistics.median(spent) * 1000, statistics.mean(spent) * 1000

    print(f"{args.requests} requests each, CPU ms per request (median / mean), load average {os.getloadavg()[0]:.2f}")
    for n in range(args.rounds):
        cells = [f"{path.split('?')[0]} {median:.2f} / {mean:.2f}"
                 for path, headers in paths for median, mean in [cpu_ms(path, headers)]]
        print(f"round {n + 1}: " + "   ".join(cells))
    if args.profile:
        profile = cProfile.Profile(time.process_time)
        headers = {} if args.profile_path == "/healthz" else bearer
        profile.enable()
        for _ in range(args.requests):
            client.get(args.profile_path, headers=headers)
        profile.disable()
        profile.dump_stats(args.profile)
        print(f"profile of {args.requests} x GET {args.profile_path}: {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
