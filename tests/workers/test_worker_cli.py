"""The operator's commands: a sweep as of a given time, and the worker / jobs commands' guard rails."""

from __future__ import annotations

import os
from typing import Any

import pytest
from deadline_helpers import escalation_rows, open_case, tasks_of

from app.deadlines.ladder import LadderStep, replace_ladder


def test_sweep_at_a_given_time_and_the_clock_is_left_as_it_was(app: Any, county: Any, clock: Any) -> None:
    case = open_case("four_in_one", "t01v01")  # 09:00 county time: remind 09:45, due 10:00, coordinator 12:00
    [task] = tasks_of(case.id)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["deadlines", "sweep", "--at", "2026-03-10T10:10"])  # naive: county time
    assert out.exit_code == 0, out.output
    assert "tasks_due=1" in out.output and "steps_taken=2" in out.output
    assert [(e.level, e.outcome) for e in escalation_rows(task.id)] == [(1, "skipped"), (2, "notified")]
    assert app.extensions["liandong.clock"] is clock and clock.now().hour == 1
    out = runner.invoke(args=["deadlines", "sweep", "--at", "2026-03-10T12:00:01+08:00"])
    assert "steps_taken=1" in out.output and len(escalation_rows(task.id)) == 3
    bad = runner.invoke(args=["deadlines", "sweep", "--at", "tomorrow"])
    assert bad.exit_code == 2 and "not an ISO time" in bad.output


def test_worker_and_jobs_commands_need_redis_and_known_queues(app: Any, monkeypatch: Any) -> None:
    runner = app.test_cli_runner()
    for args in (["worker"], ["cron"], ["jobs", "failed"]):
        out = runner.invoke(args=args)
        assert out.exit_code == 1 and "REDIS_URL is not set" in out.output
    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", "redis://127.0.0.1:6379/15")
    out = runner.invoke(args=["worker", "--queues", "engine,mail"])
    assert out.exit_code == 2 and "unknown queue(s) ['mail']" in out.output


@pytest.mark.redis
@pytest.mark.committing  # rq's worker runs the job in a forked work horse
def test_flask_worker_runs_queued_jobs_in_the_app_context(app: Any, county: Any, clock: Any,
                                                           monkeypatch: Any) -> None:
    from redis import Redis

    from workers import jobs
    from workers.queues import DEFAULT, enqueue

    connection = Redis.from_url(os.environ["REDIS_URL"])
    connection.flushdb()
    replace_ladder("*", "police", [LadderStep(1, "overdue", "due", audiences=("unit_head",))])
    case = open_case("four_in_one", "t02v01")
    [task] = tasks_of(case.id)
    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", os.environ["REDIS_URL"])
    from app.extensions import db

    db.session.commit()
    clock.advance(hours=2)  # the worker runs in this process, on the app's clock
    enqueue(jobs.escalate_tasks, [task.id], queue=DEFAULT)
    try:
        out = app.test_cli_runner().invoke(args=["worker", "--burst", "--queues", "default"])
        assert out.exit_code == 0, out.output
        assert [(e.level, e.name) for e in escalation_rows(task.id)] == [(1, "overdue")]
    finally:
        connection.flushdb()
