"""A scheduler that survives (issue 11, part 3): ``flask cron`` and ``flask worker`` against a Redis the
test starts itself, which it stops, restarts and hangs (SIGSTOP); outbox hand-over with a hung Redis.

The commands run as real subprocesses on the test database (PostgreSQL), each in its own session
so the test kills exactly them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import escalation_rows, open_case, tasks_of
from procs import RedisServer, app_env, group_alive, spawn, stop_group, wait_for

from app.deadlines.ladder import LadderStep, replace_ladder
from app.deadlines.models import SweepMark
from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def _env(app: Any, redis: RedisServer, **extra: str) -> dict[str, str]:
    return app_env(os.environ["DATABASE_URL"], redis.url, Path(app.config["LIANDONG"].instance_dir), **extra)


def _log(app: Any, name: str) -> Path:
    return Path(app.config["LIANDONG"].instance_dir) / f"{name}.log"


def _queued(redis: RedisServer, queue: str = "default") -> int:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return int(Redis.from_url(redis.url, socket_timeout=0.5).llen(f"rq:queue:{queue}"))
    except RedisError:
        return 0


def _swept_at() -> Any:
    db.session.rollback()
    return db.session.scalar(sa.select(SweepMark.swept_at))


def test_cron_rides_out_redis_stopped_restarted_and_hung_and_sweeps_from_the_database_meanwhile(
        app: Any, county: Any, redis_server: RedisServer) -> None:
    replace_ladder("four_in_one", "police", [LadderStep(1, "overdue", "due", audiences=("unit_head",))])
    case = open_case("four_in_one", "t01v01")  # opened on the test clock (March): long overdue in real time
    [task] = tasks_of(case.id)
    db.session.commit()
    cron = spawn(["flask", "cron"], _env(app, redis_server, LIANDONG_SWEEP_INTERVAL="1"), _log(app, "cron"))
    try:
        wait_for(lambda: _queued(redis_server) > 0, 30, "the cron to enqueue a sweep")
        assert escalation_rows(task.id) == []  # enqueued only: no worker runs it

        redis_server.stop()
        wait_for(lambda: escalation_rows(task.id), 30, "the cron's sweep from the database while Redis is down")
        assert cron.poll() is None
        first = _swept_at()

        redis_server.start()  # same port, empty
        wait_for(lambda: _queued(redis_server) > 0, 60, "the cron to enqueue again once Redis is back")

        wait_for(lambda: _queued(redis_server) > 2, 30, "the cron to enqueue a few sweeps")
        paused_mark = _swept_at() or first
        redis_server.pause()  # a hung Redis: connections open, nothing answers
        wait_for(lambda: (_swept_at() or first) > paused_mark, 40, "a sweep from the database while Redis hangs")
        assert cron.poll() is None
        redis_server.resume()
        before = _queued(redis_server)
        wait_for(lambda: _queued(redis_server) > before, 60, "the cron to enqueue after the hang")
        assert cron.poll() is None
    finally:
        if redis_server.paused:
            redis_server.resume()
        cron.send_signal(signal.SIGTERM)
        try:
            assert cron.wait(20) == 0  # a stop signal is the one way it ends
        finally:
            stop_group(cron)
    assert [e.level for e in escalation_rows(task.id)] == [1]


def test_worker_rides_out_redis_restarted_and_hung(
        app: Any, county: Any, redis_server: RedisServer) -> None:
    from redis import Redis

    from workers import jobs
    from workers.queues import DEFAULT, enqueue

    replace_ladder("four_in_one", "police", [LadderStep(1, "overdue", "due", audiences=("unit_head",))])
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    db.session.commit()
    conn = Redis.from_url(redis_server.url)
    worker = spawn(["flask", "worker", "--queues", "default"], _env(app, redis_server), _log(app, "worker"))
    try:
        wait_for(lambda: conn.scard("rq:workers") == 1, 30, "the worker to register")
        redis_server.stop()
        time.sleep(3)
        assert worker.poll() is None
        redis_server.start()
        conn = Redis.from_url(redis_server.url)
        enqueue(jobs.escalate_tasks, [task.id], queue=DEFAULT, connection=conn)
        wait_for(lambda: escalation_rows(task.id), 60, "the worker to run a job after the restart")

        redis_server.pause()
        time.sleep(3)
        redis_server.resume()
        again = enqueue(jobs.escalate_tasks, [task.id], queue=DEFAULT, connection=conn)
        wait_for(lambda: again.get_status(refresh=True) == "finished", 60, "a job after the hang")
        assert worker.poll() is None and len(escalation_rows(task.id)) == 1
    finally:
        if redis_server.paused:
            redis_server.resume()
        stop_group(worker)


def test_killing_the_worker_that_holds_the_scheduler_leaves_no_orphan(
        app: Any, county: Any, redis_server: RedisServer) -> None:
    from redis import Redis

    conn = Redis.from_url(redis_server.url)
    worker = spawn(["flask", "worker", "--queues", "default"], _env(app, redis_server), _log(app, "worker"))
    try:
        wait_for(lambda: conn.exists("rq:scheduler-lock:default"), 30, "the worker's scheduler to take its lock")
        os.kill(worker.pid, signal.SIGKILL)  # the worker process alone, as the OOM killer would
        worker.wait(10)
        wait_for(lambda: not group_alive(worker.pid), 5, "the worker's process group to be empty")
    finally:
        stop_group(worker)


def test_a_hung_redis_delays_a_committing_request_by_a_short_timeout_at_most(
        app: Any, county: Any, redis_server: RedisServer, monkeypatch: Any) -> None:
    from app.common.clock import now
    from app.notifications.dispatch import PAUSE
    from app.notifications.models import EmailOutbox
    from workers.queues import ENQUEUE_TIMEOUT

    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", redis_server.url)

    def commit_one(n: int) -> float:
        db.session.add(EmailOutbox(to_address="liaison@police.example", subject=f"s{n}", body="b",
                                   created_at=now()))
        started = time.monotonic()
        db.session.commit()
        return time.monotonic() - started

    assert commit_one(0) < 1.0 and _queued(redis_server, "notify") == 1
    redis_server.pause()
    try:
        assert commit_one(1) < ENQUEUE_TIMEOUT + 1.0  # was 30 s per request
        assert commit_one(2) < 0.5  # then requests stop trying for PAUSE seconds: the sweep sends them
    finally:
        redis_server.resume()
    assert PAUSE >= 5 and db.session.scalar(sa.select(sa.func.count(EmailOutbox.id))) == 3
