#!/usr/bin/env python
"""The case view at a long history: a case with 500 timeline entries and 100 tasks (issue 17 part 6).

    .venv/bin/python bench/case_view.py                       # SQLite (a temporary file)
    .venv/bin/python bench/case_view.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x

Server side, through Flask's test client in this process (no network, no browser): the p50 of
``GET /cases/<id>`` (the page, as the county coordinator) and ``GET /api/v1/cases/<id>`` (bearer token),
for a fresh case and for the same kind of case grown with ``tests/casegrowth.grow_case`` (500 entries,
100 tasks, 25 more process instances), with the statements each request executed. The statement counts
are pinned by tests/cases/test_case_paging.py; the times are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from time import perf_counter, process_time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

import sqlalchemy as sa  # noqa: E402


def _measure(client: Any, url: str, repeat: int, headers: dict[str, str] | None = None) -> tuple[float, float, int]:
    """p50 ms of ``client.get(url)`` and the statements of the last one (a PageClient is kept signed in
    and its per-request caches cleared before the clock starts)."""
    from webhelpers import PageClient

    from app.extensions import db

    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    times, cpu = [], []
    for n in range(repeat + 3):
        db.session.remove()
        PageClient._forget_cached_user()
        if isinstance(client, PageClient):
            client._keep_alive()
        seen.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        t0, c0 = perf_counter(), process_time()
        resp = (client.client if isinstance(client, PageClient) else client).get(url, headers=headers or {})
        elapsed, used = perf_counter() - t0, process_time() - c0
        sa.event.remove(db.engine, "before_cursor_execute", count)
        if resp.status_code == 404 and url.endswith(("/timeline", "/tasks")):
            return float("nan"), float("nan"), 0  # a tree from before these lists were paged
        assert resp.status_code == 200, (url, resp.status_code)
        if n >= 3:
            times.append(elapsed)
            cpu.append(used)
    return statistics.median(times) * 1000, statistics.median(cpu) * 1000, len(seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    if args.database_url != "sqlite":
        if "bench" not in args.database_url.rsplit("/", 1)[-1]:
            parser.error("the benchmark DROPs the public schema: use a database named *bench*")
        from task_completion import prepare_postgres

        prepare_postgres(args.database_url)
    tmp = tempfile.TemporaryDirectory(prefix="liandong-case-view-")
    url = args.database_url if args.database_url != "sqlite" else f"sqlite:///{Path(tmp.name) / 'bench.db'}"

    from casegrowth import grow_case
    from flask_migrate import upgrade
    from helpers import report_payload

    from app import create_app
    from app.extensions import db, limiter

    app = create_app({"database_url": url, "instance_dir": Path(tmp.name) / "instance", "secret_key": "bench"})
    with app.app_context():
        upgrade()
        from app.cli import deploy_shipped
        from app.org.demo import load_demo
        from app.org.operations import issue_token
        from app.org.queries import user_by_username

        load_demo()
        deploy_shipped("bench")
        db.session.commit()
        limiter.enabled = False
        tokens = {name: issue_token(user_by_username(name), "bench") for name in ("reporter_school", "coordinator")}
        db.session.commit()
        api = app.test_client()

        def auth(name: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[name]}"}

        cases = []
        for situation in ("living_alone", "domestic_violence"):
            resp = api.post("/api/v1/reports", json=report_payload(situation, "t01v01"), headers=auth("reporter_school"))
            assert resp.status_code == 201, resp.get_json()
            cases.append(resp.get_json()["case_id"])
        fresh, grown = cases
        grow_case(grown, entries=args.entries, tasks=args.tasks, instances=25)
        entries = db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry WHERE case_id = :c"), {"c": grown})
        tasks = db.session.scalar(sa.text("SELECT count(*) FROM task WHERE case_id = :c"), {"c": grown})

        from webhelpers import PageClient

        page = PageClient(app, "coordinator")
        print(f"load average {os.getloadavg()[0]:.2f}; database {db.engine.dialect.name}; {args.repeat} requests each "
              f"(+3 warm-up); grown case: {entries} timeline entries, {tasks} tasks, 26 process instances")
        print(f"{'request':<34}{'fresh p50 ms':>14}{'CPU ms':>8}{'stmts':>7}{'grown p50 ms':>14}{'CPU ms':>8}{'stmts':>7}")
        for label, path, client, headers in (
                ("GET /cases/<id> (page)", "/cases/{}", page, None),
                ("GET /api/v1/cases/<id>", "/api/v1/cases/{}", api, auth("coordinator")),
                ("GET /api/v1/cases/<id>/timeline", "/api/v1/cases/{}/timeline", api, auth("coordinator")),
                ("GET /api/v1/cases/<id>/tasks", "/api/v1/cases/{}/tasks", api, auth("coordinator"))):
            a, ca, sa_ = _measure(client, path.format(fresh), args.repeat, headers)
            b, cb, sb = _measure(client, path.format(grown), args.repeat, headers)
            print(f"{label:<34}{a:>14.2f}{ca:>8.2f}{sa_:>7}{b:>14.2f}{cb:>8.2f}{sb:>7}")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
