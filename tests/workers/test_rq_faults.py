"""Faults against the real Redis and PostgreSQL: a killed worker, Redis down, two sweeps at once.

Worker subprocesses run ``flask worker`` exactly as an operator would, on the
test database and on the Redis database named by ``REDIS_URL`` (flushed before
and after each test: use a database of your own, e.g. /3).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import Api, escalation_rows, free_port, notifications, open_case, tasks_of, usernames
from flows.scenarios import SCENARIOS

from app.cases.models import TimelineEntry
from app.deadlines.ladder import LadderStep, replace_ladder
from app.extensions import db
from app.org.queries import user_by_username

ROOT = Path(__file__).resolve().parent.parent.parent
FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]
pytestmark = [pytest.mark.committing, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def redis_conn() -> Iterator[Any]:
    from redis import Redis

    conn = Redis.from_url(os.environ["REDIS_URL"])
    conn.flushdb()
    yield conn
    conn.flushdb()


def _worker(app: Any, *args: str) -> subprocess.Popen[str]:
    settings = app.config["LIANDONG"]
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"],
           "LIANDONG_INSTANCE_DIR": str(settings.instance_dir), "LIANDONG_SECRET_KEY": "test-secret",
           "FLASK_APP": "app:create_app"}
    log = Path(settings.instance_dir) / "worker.log"
    with open(log, "a", encoding="utf-8") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "flask", "worker", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait(predicate: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        db.session.rollback()
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _one_step_ladder() -> None:
    replace_ladder("four_in_one", "police", [LadderStep(1, "overdue", "due", audiences=("unit_head",),
                                                        marks_overdue=True)])
    db.session.commit()


def test_worker_killed_mid_job_reruns_it_and_records_exactly_once(app: Any, county: Any, redis_conn: Any) -> None:
    from rq.registry import StartedJobRegistry

    from workers import jobs
    from workers.queues import DEFAULT, enqueue

    _one_step_ladder()
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    # Hold the notification table so the job stops half-way: its task locked, nothing committed (on PostgreSQL
    # the batch's writes are one statement, `WITH s AS ... INSERT INTO notification ...`, waiting for the table).
    # The job's backend is found as the one the blocker blocks: pg_stat_activity.query is cut at
    # track_activity_query_size (1 kB by default), before the batch statement's INSERT INTO notification.
    blocker = db.engine.connect()
    blocker.execute(sa.text("LOCK TABLE notification IN SHARE MODE"))
    blocker_pid = blocker.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    blocked = sa.text("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                      "AND CAST(:blocker AS integer) = ANY (pg_blocking_pids(pid))")
    job = enqueue(jobs.escalate_tasks, [task.id], queue=DEFAULT, connection=redis_conn)
    worker = _worker(app, "--queues", "default")
    waiting: list[int] = []
    try:
        def job_blocked() -> bool:
            waiting[:] = db.session.scalars(blocked, {"blocker": blocker_pid}).all()
            return len(waiting) == 1

        _wait(job_blocked, 60, "the job to block mid-transaction")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
        if worker.poll() is None:  # the wait failed: leave no worker behind to take a later run's jobs
            os.killpg(worker.pid, signal.SIGKILL)
    _wait(lambda: db.session.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid "
                                             "AND xact_start IS NOT NULL"),
                                     {"pid": waiting[0]}).scalar() == 0, 30, "the dead worker's transaction to end")
    assert escalation_rows(task.id) == [] and notifications(kind="overdue") == []
    assert job.id in StartedJobRegistry(DEFAULT, connection=redis_conn).get_job_ids()

    # Stand-ins for waiting out RQ's clocks: the dead worker's heartbeat (job timeout + 60 s) and its
    # scheduler lock (61 s). The cleanup is RQ's own abandoned-job handling: it retries the job.
    StartedJobRegistry(DEFAULT, connection=redis_conn).cleanup(timestamp=time.time() + 3600)
    for key in redis_conn.scan_iter("rq:scheduler-lock:*"):
        redis_conn.delete(key)
    again = _worker(app, "--queues", "default")
    try:
        _wait(lambda: len(escalation_rows(task.id)) == 1 and len(notifications(kind="overdue")) == 1, 60,
              "the retried job")
        time.sleep(1)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)
    [row] = escalation_rows(task.id)
    assert (row.level, row.name) == (1, "overdue") and usernames(row.recipients) == {"police_t01_head"}
    assert [n.user_id for n in notifications(kind="overdue")] == [user_by_username("police_t01_head").id]
    assert job.get_status(refresh=True) == "finished"


def test_redis_down_liaisons_still_work_and_missed_steps_happen_when_it_is_back(
        app: Any, county: Any, clock: Any, redis_conn: Any, smtp: Any, monkeypatch: Any) -> None:
    from redis.exceptions import ConnectionError as RedisDown
    from rq import SimpleWorker

    from app.org.operations import issue_token
    from workers.jobs import sweep
    from workers.queues import QUEUES, get_queue

    user = user_by_username("police_t01")
    user.email = "liaison@police.example"
    done_case, late_case = open_case("four_in_one", "t01v01"), open_case("four_in_one", "t01v02")
    [done], [late] = tasks_of(done_case.id), tasks_of(late_case.id)
    token = issue_token(user)
    db.session.commit()
    settings = app.config["LIANDONG"]
    monkeypatch.setattr(settings, "redis_url", f"redis://127.0.0.1:{free_port()}/3")  # nothing listens there

    resp = Api(app.test_client(), token).post(f"/api/v1/tasks/{done.id}/complete", json={"data": FIRST.data})
    assert resp.status_code == 200, resp.get_json()  # the liaison's work does not need Redis
    clock.advance(minutes=50)  # the other task's reminder time passes while Redis is down
    with pytest.raises(RedisDown):
        sweep()  # the scheduler cannot enqueue anything
    assert escalation_rows() == [] and smtp.messages == []

    monkeypatch.setattr(settings, "redis_url", os.environ["REDIS_URL"])

    def back_up() -> None:  # Redis is back: the cron's sweep runs, a worker drains the queues
        sweep()
        SimpleWorker([get_queue(q, redis_conn) for q in QUEUES], connection=redis_conn).work(burst=True)

    back_up()
    assert [(e.level, e.name, e.outcome) for e in escalation_rows(late.id)] == [(1, "remind", "notified")]
    clock.advance(minutes=15)
    back_up()
    assert [e.name for e in escalation_rows(late.id)] == ["remind", "overdue"]
    assert escalation_rows(done.id) == []
    mailed = smtp.subjects()
    assert any("即将到期" in s for s in mailed) and any("已逾期" in s for s in mailed)
    assert len([s for s in mailed if "LD2026" in s]) == len(mailed) >= 3  # incl. the new task made while down


def test_two_sweeps_at_once_never_duplicate(app: Any, county: Any, clock: Any) -> None:
    from workers.jobs import escalate_tasks, sweep

    cases = [open_case("four_in_one", f"t0{1 + n % 3}v0{1 + n % 2}") for n in range(24)]
    ids = [tasks_of(c.id)[0].id for c in cases]
    clock.advance(hours=4)  # remind, due and the police grace period all passed
    db.session.commit()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        try:
            with app.app_context():
                barrier.wait()
                fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in (
        lambda: sweep(inline=True),
        lambda: sweep(inline=True),  # two inline sweeps share the batches through SKIP LOCKED
        lambda: [escalate_tasks([i]) for i in reversed(ids)],
        lambda: [escalate_tasks(ids[i:i + 5]) for i in range(0, len(ids), 5)])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    rows = escalation_rows()
    assert sorted((e.task_id, e.level) for e in rows) == sorted((i, lvl) for i in ids for lvl in (1, 2, 3))
    keys = [n.dedupe_key for n in notifications() if n.dedupe_key]
    assert len(keys) == len(set(keys)) and len(keys) == 24 * (2 + 1)  # overdue: liaison + head; coordinator
    timeline = db.session.scalars(sa.select(TimelineEntry.task_id).where(
        TimelineEntry.kind.in_(["task_overdue", "task_escalated"]))).all()
    assert sorted(timeline) == sorted(i for i in ids for _ in (2, 3))  # the reminder (level 1) came after due


def test_failed_jobs_are_listed_for_admins(app: Any, county: Any, redis_conn: Any, monkeypatch: Any) -> None:
    from rq import Queue, SimpleWorker

    from app.org.operations import create_user, issue_token
    from app.org.queries import region_by_code
    from app.org.roles import Role
    from workers import jobs

    Queue("engine", connection=redis_conn).enqueue(jobs.escalate_tasks, ["not-an-id"])  # no retries: fails at once
    with app.app_context():
        SimpleWorker([Queue("engine", connection=redis_conn)], connection=redis_conn).work(burst=True)
    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", os.environ["REDIS_URL"])
    out = app.test_cli_runner().invoke(args=["jobs", "failed"])
    assert out.exit_code == 0 and "workers.jobs.escalate_tasks" in out.output and "engine" in out.output
    # An administrator over every county reads the registry; the first county's own (of two) does not.
    province = create_user("admin_p01", "省系统管理员", None, {Role.ADMIN}, None, region_by_code("p01"))
    admin, county_admin = issue_token(province), issue_token(user_by_username("admin"))
    liaison = issue_token(user_by_username("police_t01"))
    db.session.commit()
    body = Api(app.test_client(), admin).get("/api/v1/jobs/failed").get_json()
    assert body["redis"] is True and [j["func"] for j in body["items"]] == ["workers.jobs.escalate_tasks"]
    assert body["items"][0]["error"]
    assert Api(app.test_client(), county_admin).get("/api/v1/jobs/failed").status_code == 403
    assert Api(app.test_client(), liaison).get("/api/v1/jobs/failed").status_code == 403
