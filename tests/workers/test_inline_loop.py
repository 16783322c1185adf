"""Without Redis, the in-process loop sweeps on its own; create_app never starts it unless asked."""

from __future__ import annotations

import time
from typing import Any

from deadline_helpers import escalation_rows, open_case, tasks_of

from app.extensions import db
from workers import loop


def test_loop_takes_due_steps_in_the_background(app: Any, county: Any, clock: Any) -> None:
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    clock.advance(minutes=61)
    db.session.commit()
    runner = loop.InlineLoop(app, interval=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(escalation_rows(task.id)) < 2:
            db.session.rollback()
            time.sleep(0.05)
    finally:
        runner.stop()
    assert [e.level for e in escalation_rows(task.id)] == [1, 2]
    assert runner.sweeps >= 1 and not runner.thread.is_alive()


def test_the_loop_is_started_only_for_the_embedded_setup(app: Any, monkeypatch: Any) -> None:
    assert loop._started is None  # the session's app (inline_loop=False) did not start one
    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", "redis://127.0.0.1:6379/0")
    assert loop.start_inline_loop(app) is None and loop._started is None  # with Redis, `flask cron` sweeps
