#!/usr/bin/env python
"""The CPU a request costs before its own work: ``GET /healthz``, ``GET /api/v1/me`` and an empty inbox, in-process.

    .venv/bin/python bench/request_floor.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x \\
        --redis-url redis://127.0.0.1:6379/12
    .venv/bin/python bench/request_floor.py ... --profile /tmp/me.prof --profile-path /api/v1/me   # and cProfile it
    .venv/bin/python bench/request_floor.py ... --calls          # Python calls per request and per hook instead

What every request of ``bench/load.py``'s loop pays whatever it does (issue 17 part 3): Flask's dispatch and the
app's hooks (request log, metrics, limiter, security headers, the session's teardown), and for the API the bearer
token's check. ``/healthz`` is the plumbing with one ``SELECT 1``; ``/api/v1/me`` adds the token and a small
answer; ``GET /api/v1/tasks`` is the inbox of a unit with no open task (the demo county, nothing started). The
stack is prepared as ``bench/load.py`` prepares it (the database, whose name must contain ``bench``, is emptied;
the Redis database is FLUSHDB'd) and the requests go through Flask's test client in this process, so no HTTP
server's parsing is counted. Printed: median and mean CPU ms (``time.process_time``) over ``--requests`` of each,
``--rounds`` times. Nothing is asserted.

``--calls`` prints instead the Python function calls (``sys.setprofile``: Python and C functions) each request
makes, in all and inside each of the app's hooks (before/after/teardown request, app context teardown): the same
count every run on any machine, where CPU milliseconds on a shared 2-core host swing by a third between runs; a
proxy for the Python work (not for SQL, JSON or the server), to compare two trees on (bench/README.md, session 18).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
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


def count_calls(app: Any, client: Any, paths: list[tuple[str, dict[str, str]]], requests: int) -> None:
    """Python calls per request of each path, and inside each hook (the busiest first)."""
    calls = [0]

    def counted(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            calls[0] += 1

    inside: collections.Counter[str] = collections.Counter()

    def wrapped(hook: Any, label: str) -> Any:
        @functools.wraps(hook)
        def run(*args: Any, **kwargs: Any) -> Any:
            before = calls[0]
            try:
                return hook(*args, **kwargs)
            finally:
                inside[label] += calls[0] - before
        return run

    def name(hook: Any) -> str:
        hook = getattr(hook, "func", hook)  # a functools.partial (Flask-Limiter's header hook)
        return str(getattr(hook, "__qualname__", None) or hook).split(".<locals>")[0]

    for kind in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs"):
        for hooks in getattr(app, kind).values():
            hooks[:] = [wrapped(h, f"{kind.split('_')[0]} {name(h)}") for h in hooks]
    app.teardown_appcontext_funcs[:] = [wrapped(h, f"app context teardown {name(h)}")
                                        for h in app.teardown_appcontext_funcs]
    print(f"Python calls per request (mean of {requests}, after 20 not counted)")
    for path, headers in paths:
        for _ in range(20):
            client.get(path, headers=headers)
        calls[0] = 0
        inside.clear()
        sys.setprofile(counted)
        try:
            for _ in range(requests):
                client.get(path, headers=headers)
        finally:
            sys.setprofile(None)
        print(f"{path.split('?')[0]}: {calls[0] / requests:.0f}; in its hooks: " + ", ".join(
            f"{label} {n / requests:.0f}" for label, n in inside.most_common() if n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True, help="a Redis database the script may FLUSHDB")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", help="write a cProfile (CPU clock) of --requests of --profile-path here")
    parser.add_argument("--profile-path", default="/api/v1/me")
    parser.add_argument("--calls", action="store_true", help="Python calls per request and per hook, no timing")
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

    if args.calls:
        count_calls(app, client, paths, args.requests)
        return 0
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
