#!/usr/bin/env python
"""Where one platform completion's time goes: cProfile over the main path's completions (bench/README.md).

    .venv/bin/python bench/profile_completion.py                      # SQLite, 40 cases profiled
    .venv/bin/python bench/profile_completion.py --engine             # app.engine alone, in-process view
    .venv/bin/python bench/profile_completion.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x

The platform run profiles ``complete(task, user, data)`` + commit only (the task lookup and user load are
outside, as in task_completion.py). Where the engine runs in a pooled worker its time shows up here as the
wait for the worker's answer (``select``/``os.read``); ``--engine`` profiles the engine commands with the
backstop off so their own insides are visible. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from task_completion import prepare_postgres  # noqa: E402
from workload import main_files, main_path  # noqa: E402


def _print(profile: cProfile.Profile, count: int, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"profiled {count} completions: {total / count * 1000:.2f} ms per completion under cProfile "
          "(cProfile's own overhead inflates Python-heavy parts)")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def profile_engine(cases: int, top: int) -> None:
    from app import engine
    from app.engine import isolation

    isolation.configure(isolation.Backstop(enabled=False))
    start, steps = main_path()
    parsed = engine.parse_bundle(main_files())
    key = "profile-" + parsed.process_id
    profile = cProfile.Profile()
    count = 0
    for n in range(cases + 5):
        snap = engine.start_instance(key, parsed.spec_json, {**start, "case_number": f"P-{n}"})
        for step in steps:
            ready = next(r for r in snap.ready_tasks if r.bpmn_id == step.bpmn_id)
            if n >= 5:
                profile.enable()
            snap = engine.complete_task(key, parsed.spec_json, snap.state, ready.id, dict(step.data))
            if n >= 5:
                profile.disable()
                count += 1
    _print(profile, count, top)


def profile_platform(url: str, cases: int, top: int) -> None:
    import sqlalchemy as sa
    from platform_run import Platform

    import app.workflow.commands
    from app.extensions import db
    from app.tasks.models import Task

    if url != "sqlite":
        prepare_postgres(url)
    _, steps = main_path()
    bench = Platform(url)
    profile = cProfile.Profile()
    count = 0
    with bench.context():
        bench.setup_demo()
        for n in range(cases + 5):
            case_id, _, _ = bench.start_case(n)
            for step in steps:
                task = bench._open_task(sa.and_(Task.case_id == case_id, Task.bpmn_id == step.bpmn_id))
                user: Any = bench._user(step.username)
                if n >= 5:
                    profile.enable()
                app.workflow.commands.complete(task, user, dict(step.data))
                db.session.commit()
                if n >= 5:
                    profile.disable()
                    count += 1
                db.session.remove()
    _print(profile, count, top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--engine", action="store_true", help="profile app.engine alone, backstop off")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if args.database_url != "sqlite" and "bench" not in args.database_url.rsplit("/", 1)[-1]:
        parser.error("the profile DROPs the public schema: use a database named *bench*")
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.engine:
        profile_engine(args.cases, args.top)
    else:
        profile_platform(args.database_url, args.cases, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
