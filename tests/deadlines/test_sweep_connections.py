"""One inline sweep drained by two database connections (issue 17 part 4): every due step exactly once.

The threads' batches are held at a barrier so both connections lock their first batch at the same time
(``SKIP LOCKED`` must hand them different tasks); a task locked twice would show in the sum of the batches.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from deadline_helpers import escalation_rows, notifications, open_case, tasks_of

from app.extensions import db

pytestmark = [pytest.mark.committing]


@pytest.mark.postgres
def test_two_connections_drain_one_sweep_exactly_once(app: Any, county: Any, clock: Any, monkeypatch: Any) -> None:
    import workers.jobs as jobs

    cases = [open_case("four_in_one", f"t0{1 + n % 3}v0{1 + n % 2}") for n in range(24)]
    ids = [tasks_of(c.id)[0].id for c in cases]
    clock.advance(hours=4)  # remind, due and the police grace period all passed: three steps per task
    db.session.commit()
    monkeypatch.setattr(jobs, "CHUNK", 4)
    monkeypatch.setitem(app.config, "LIANDONG", app.config["LIANDONG"].model_copy(update={"sweep_connections": 2}))
    barrier = threading.Barrier(2, timeout=60)
    batches: list[tuple[str, int]] = []
    seen: set[str] = set()
    real = jobs.escalate_due

    def recording(at: Any, limit: int) -> tuple[int, int]:
        name = threading.current_thread().name
        if name.startswith("sweep") and name not in seen:  # each drain thread's first batch
            seen.add(name)
            barrier.wait()
        locked, taken = real(at, limit)
        batches.append((name, locked))
        return locked, taken

    monkeypatch.setattr(jobs, "escalate_due", recording)
    report = jobs.sweep(inline=True)

    assert report["tasks_due"] == 24 and report["steps_taken"] == 24 * 3
    assert sum(locked for _, locked in batches) == 24  # no task in two batches
    drained = {name for name, locked in batches if name.startswith("sweep") and locked}
    assert len(drained) == 2, batches  # both connections took tasks
    db.session.rollback()
    assert sorted((e.task_id, e.level) for e in escalation_rows()) == sorted((i, lvl) for i in ids for lvl in (1, 2, 3))
    keys = [n.dedupe_key for n in notifications() if n.dedupe_key]
    assert len(keys) == len(set(keys)) == 24 * (2 + 1)  # overdue: liaison + head; the reminder skipped; coordinator
    assert jobs.sweep(inline=True)["steps_taken"] == 0


def test_sqlite_or_one_connection_sweeps_in_the_calling_thread(app: Any, county: Any, clock: Any,
                                                               monkeypatch: Any) -> None:
    import workers.jobs as jobs

    for n in range(9):
        open_case("four_in_one", f"t0{1 + n % 3}v0{1 + n % 2}")
    clock.advance(hours=4)
    db.session.commit()
    monkeypatch.setattr(jobs, "CHUNK", 4)
    postgres = db.session.connection().dialect.name == "postgresql"
    db.session.rollback()
    update = {"sweep_connections": 1 if postgres else 2}  # SQLite has one writer: one connection whatever is set
    monkeypatch.setitem(app.config, "LIANDONG", app.config["LIANDONG"].model_copy(update=update))
    threads: list[str] = []
    real = jobs.escalate_due

    def recording(at: Any, limit: int) -> tuple[int, int]:
        threads.append(threading.current_thread().name)
        return real(at, limit)

    monkeypatch.setattr(jobs, "escalate_due", recording)
    assert jobs.sweep(inline=True)["steps_taken"] == 9 * 3
    assert threads and set(threads) == {threading.current_thread().name}
