#!/usr/bin/env python
"""The CPU time of one platform completion, by phase of ``app.workflow.commands.complete`` (bench/README.md).

    .venv/bin/python bench/completion_phases.py                      # SQLite, 30 cases counted
    .venv/bin/python bench/completion_phases.py --database-url postgresql://postgres@127.0.0.1:5432/bench_x
    TREE=/tmp/base .venv/bin/python /tmp/base/bench/completion_phases.py ...   # another tree's app (a baseline)
    .venv/bin/python bench/completion_phases.py --calls              # Python calls per completion, by step

Each phase is timed on this process's CPU clock (``time.process_time``) by a wrapper installed for the run, so the
numbers move less with the machine's load than wall times do (a loaded host still slows the CPU's caches); nothing
is profiled, so nothing is inflated. The main path of ``bench/task_completion.py``, 5 cases warm-up. Printed, never
asserted. Phases nest as printed (indented lines are inside ``save`` or ``flush``). On PostgreSQL on this host the
last line is the server's side of the same completions: the CPU its backend process ran for them (from
``/proc/<pid>/schedstat``, nanoseconds), the parsing, planning, executing and committing of their statements.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("TREE") or Path(__file__).resolve().parent.parent)
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from task_completion import prepare_postgres  # noqa: E402
from workload import main_path  # noqa: E402

PHASES = [
    ("commands", "lock_for_completion", "lock + read (+ audit row)"),
    ("commands", "validate_form_data", "form validation"),
    ("commands", "_run", "engine (load + run + dump + snapshot)"),
    ("commands", "save", "save: instance, projections, events"),
    ("projection", "mark_completed", "  mark_completed (+ task_completed receivers)"),
    ("projection", "_open_tasks", "  _open_tasks (routing, new tasks, their notices)"),
    ("commands", "flush", "flush: unit of work, timeline, notifications"),
]


class _Collections:
    """CPU time in Python's cyclic garbage collector (``gc.callbacks``) from ``start`` on, and collections by
    generation: the collections that fall inside the counted completions (and their untimed lookups)."""

    def __init__(self) -> None:
        self.seconds, self.by_generation, self._began = 0.0, [0, 0, 0], 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.seconds += time.process_time() - self._began
            self.by_generation[info["generation"]] += 1

    def start(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)


def _backend_pid(connection: Any) -> int | None:
    """The PostgreSQL server process of this connection (psycopg knows it without asking), None on SQLite."""
    info = getattr(connection.connection.dbapi_connection, "info", None)
    return getattr(info, "backend_pid", None)


def _run_ns(pid: int | None) -> int:
    """Nanoseconds a process has run on a CPU (``/proc/<pid>/schedstat``, Linux; the server on this host): 0 when
    there is no such process to read."""
    if pid is None:
        return 0
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def run(url: str, cases: int, calls: bool = False) -> None:
    import sqlalchemy as sa
    from platform_run import Platform

    import app.workflow.commands as commands
    import app.workflow.projection as projection
    from app.extensions import db
    from app.tasks.models import Task

    if url != "sqlite":
        prepare_postgres(url)
    _, steps = main_path()
    bench = Platform(url)
    spent: collections.Counter[str] = collections.Counter()
    modules = {"commands": commands, "projection": projection}

    made = [0]
    by_step: collections.Counter[str] = collections.Counter()
    calls_in: collections.Counter[str] = collections.Counter()

    def timed(original: Callable[..., Any], label: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started, before = time.process_time(), made[0]
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - started
                calls_in[label] += made[0] - before
        return wrapper

    for module, name, label in PHASES:
        setattr(modules[module], name, timed(getattr(modules[module], name), label))
    count, total, commit, server = 0, 0.0, 0.0, 0.0
    collected = _Collections()

    def counted(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            made[0] += 1
    with bench.context():
        bench.setup_demo()
        for n in range(cases + 5):
            case_id, _, _ = bench.start_case(n)
            for step in steps:
                task = bench._open_task(sa.and_(Task.case_id == case_id, Task.bpmn_id == step.bpmn_id))
                user: Any = bench._user(step.username)
                if n == 5:
                    spent.clear()
                    collected.start()
                backend = _backend_pid(db.session.connection())
                served = _run_ns(backend)
                started = time.process_time()
                if calls and n >= 5:
                    made[0] = 0
                    sys.setprofile(counted)
                commands.complete(task, user, dict(step.data))
                completed = time.process_time()
                db.session.commit()
                if calls and n >= 5:
                    sys.setprofile(None)
                    by_step[step.bpmn_id] += made[0]
                if n >= 5:
                    count += 1
                    total += time.process_time() - started
                    commit += time.process_time() - completed
                    server += (_run_ns(backend) - served) / 1e9
                db.session.remove()
    if calls:
        print(f"{url.rsplit('/', 1)[-1]}: Python calls per completion (complete + commit; the same on every run), "
              f"{count} completions: {sum(by_step.values()) / count:.0f}")
        for step in steps:
            print(f"  {step.bpmn_id:52s} {by_step[step.bpmn_id] / cases:8.0f}")
        print("  by phase, per completion:")
        for _, _, label in PHASES:
            print(f"  {label:52s} {calls_in[label] / count:8.0f}")
        return
    print(f"{url.rsplit('/', 1)[-1]}: {count} completions, load average {os.getloadavg()[0]:.2f}; CPU ms per "
          f"completion: total {total / count * 1000:.2f}, of which commit {commit / count * 1000:.2f}")
    for _, _, label in PHASES:
        print(f"  {label:52s} {spent[label] / count * 1000:6.2f}")
    outside = total - commit - sum(spent[label] for _, _, label in PHASES if not label.startswith(" "))
    print(f"  {'the rest of complete (form schema copy, garbage collector)':52s} {outside / count * 1000:6.2f}")
    collected.stop()
    print(f"  {'of all the above, in the garbage collector (by generation)':52s} "
          f"{collected.seconds / count * 1000:6.2f} {collected.by_generation}")
    if url != "sqlite":
        label = "and the PostgreSQL server's CPU for them (its backend)"
        print(f"{label:54s} {server / count * 1000:6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--calls", action="store_true",
                        help="count the Python calls of each completion instead (sys.setprofile), per step")
    args = parser.parse_args()
    if args.database_url != "sqlite" and "bench" not in args.database_url.rsplit("/", 1)[-1]:
        parser.error("the run DROPs the public schema: use a database named *bench*")
    run(args.database_url, args.cases, args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
