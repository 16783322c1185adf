"""Load and fault tests on the production stack (issue 11, part 6): gunicorn + worker + cron on PostgreSQL
and a Redis the test starts itself. Each test is bounded in time and ends with the invariant check.

Run: DATABASE_URL=postgresql://... REDIS_URL=redis://.../N pytest -m slow tests/load -s
(``-s`` prints the counts and the measured times).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import open_case
from flows.scenarios import SCENARIOS
from helpers import report_payload
from invariants import ClientLog, check_invariants, violations
from procs import RedisServer, wait_for

from app.extensions import db
from load.stack import Client, Stack

pytestmark = [pytest.mark.committing, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(240)]
FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]
VILLAGES = ("t01v01", "t01v02", "t02v01", "t02v02")
LIAISONS = {"t01": ("police_t01", "police_t01_head"), "t02": ("police_t02", "police_t02_head")}


@pytest.fixture
def stack(app: Any, county: Any) -> Iterator[Stack]:
    redis = RedisServer().start()
    running = Stack(Path(app.config["LIANDONG"].instance_dir), redis)
    try:
        yield running.start()
    finally:
        running.stop()
        redis.stop()


def _tokens(usernames: list[str]) -> dict[str, str]:
    from app.org.models import ApiToken
    from app.org.operations import issue_token
    from app.org.queries import user_by_username

    tokens = {}
    for name in usernames:
        user = user_by_username(name)
        assert user is not None, name
        tokens[name] = issue_token(user, name="load")
    # Issued on the test clock (March); the stack runs on the real clock: valid for the next hour there.
    db.session.execute(sa.update(ApiToken).where(ApiToken.name == "load").values(
        expires_at=datetime.now(UTC) + timedelta(hours=1)))
    db.session.commit()
    return tokens


def _run(threads: list[Callable[[], None]], timeout: float = 120) -> None:
    workers = [threading.Thread(target=t, daemon=True) for t in threads]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout)
    assert not any(w.is_alive() for w in workers), "clients did not finish in time"


def _report(client: Client, n: int, key: str | None) -> None:
    body = report_payload("living_alone", VILLAGES[n % len(VILLAGES)], name=f"负载儿童{n}",
                          id_number=f"3700002015{n:08d}")
    if key:
        body["idempotency_key"] = key
    for _ in range(3):  # a dropped connection is retried with the same key, as the offline client does
        status, answer = client.call("POST", "/api/v1/reports", body)
        if status in (200, 201):
            client.log.accepted(key or f"nokey-{n}", int(answer["case_id"]))
            return
        if status and status < 500:
            raise AssertionError(f"report {n}: {status} {answer}")
        time.sleep(0.2)


def _work_tasks(client: Client, task_ids: list[int], rng: random.Random) -> None:
    """Claim then complete; some clients complete without claiming, racing the claimers."""
    for task_id in task_ids:
        if rng.random() < 0.7:
            status, _ = client.call("POST", f"/api/v1/tasks/{task_id}/claim")
            if status != 200:
                continue
        client.call("POST", f"/api/v1/tasks/{task_id}/complete", {"data": FIRST.data})


def _open_police_tasks(client: Client) -> list[int]:
    status, body = client.call("GET", "/api/v1/tasks?state=open&per_page=200")
    assert status == 200, body
    return [t["id"] for t in body["items"] if t["bpmn_id"] == FIRST.bpmn_id]


def _settle(stack: Stack, seconds: float = 20) -> None:
    """Let the worker and cron finish what the load left (escalations of overdue steps, mail)."""
    from redis import Redis

    conn = Redis.from_url(stack.redis.url)
    wait_for(lambda: all(conn.llen(f"rq:queue:{q}") == 0 for q in ("engine", "notify", "default")), seconds,
             "the queues to drain")
    time.sleep(2)


def _assert_no_violations(counts: dict[str, int], stack: Stack) -> None:
    """Every invariant holds; on failure the message names what the stack logged (the 5xx causes)."""
    assert violations(counts) == {}, stack.error_kinds()


def _print(title: str, counts: dict[str, int], extra: dict[str, Any] | None = None) -> None:
    print(f"\n[{title}] " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    if extra:
        print(f"[{title}] " + " ".join(f"{k}={v}" for k, v in extra.items()))


def test_fifty_clients_report_claim_and_complete_with_races(stack: Stack) -> None:
    tokens = _tokens(["hotline_12355", *[u for pair in LIAISONS.values() for u in pair]])
    log = ClientLog()
    hotline = [Client(stack, tokens["hotline_12355"], log) for _ in range(50)]
    # 50 clients: 40 distinct reports, 10 of them sent twice at the same moment (a retry racing the first).
    plan = [(n, f"load-key-{n:04d}") for n in range(40)] + [(n, f"load-key-{n:04d}") for n in range(10)]
    barrier = threading.Barrier(len(plan))

    def reporter(i: int) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            _report(hotline[i], *plan[i])
        return run

    started = time.monotonic()
    _run([reporter(i) for i in range(len(plan))])
    report_seconds = time.monotonic() - started

    # 50 clients on the police tasks: each task wanted by several liaisons of its unit (some racing).
    clients = {name: Client(stack, token, log) for name, token in tokens.items() if name != "hotline_12355"}
    per_unit = {t: _open_police_tasks(clients[pair[0]]) for t, pair in LIAISONS.items()}
    rng = random.Random(11)
    jobs: list[Callable[[], None]] = []
    for n in range(50):
        township = "t01" if n % 2 else "t02"
        client = clients[LIAISONS[township][n % 2 if n % 4 < 2 else 1 - n % 2]]
        ids = list(per_unit[township])
        rng.shuffle(ids)
        share = ids[: max(1, len(ids) // 3)]
        jobs.append(lambda c=client, s=share, seed=n: _work_tasks(c, s, random.Random(seed)))
    started = time.monotonic()
    _run(jobs)
    work_seconds = time.monotonic() - started
    _settle(stack)
    counts = check_invariants(db.session, log)
    _print("load", counts, {"reports_s": round(report_seconds, 1), "tasks_s": round(work_seconds, 1),
                            "statuses": dict(log.statuses), "server_errors": log.server_errors[:5],
                            "logged": stack.error_kinds()})
    assert counts["reports_accepted"] == 40 and counts["cases"] == 40
    assert counts["tasks_completed"] > 0
    assert stack.alive("cron") and stack.alive("web")
    _assert_no_violations(counts, stack)


def _past_deadline_cases(n: int) -> list[int]:
    """Cases whose first step was due long ago: the stack must escalate each exactly once."""
    return [open_case("past_deadline", VILLAGES[i % len(VILLAGES)]).id for i in range(n)]


def _waiting_on_lock(application_name: str) -> bool:
    db.session.rollback()
    return bool(db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name AND wait_event_type = 'Lock'"),
        {"name": application_name}))


def _first_escalation_after(case_ids: list[int], timeout: float) -> float:
    from app.deadlines.models import Escalation

    started = time.monotonic()

    def escalated() -> bool:
        db.session.rollback()
        return bool(db.session.scalar(sa.select(sa.func.count(Escalation.id))
                                      .where(Escalation.case_id.in_(case_ids))))

    wait_for(escalated, timeout, "the first escalation", every=0.05)
    return time.monotonic() - started


def test_faults_killed_web_and_worker_redis_down_and_hung_database_connections_terminated(stack: Stack) -> None:
    tokens = _tokens(["hotline_12355", *[u for pair in LIAISONS.values() for u in pair]])
    log = ClientLog()
    stop = threading.Event()
    counter = iter(range(1000, 100000))
    lock = threading.Lock()

    def load(name: str) -> Callable[[], None]:
        client, hotline = Client(stack, tokens[name], log), Client(stack, tokens["hotline_12355"], log)
        rng = random.Random(name)

        def run() -> None:
            while not stop.is_set():
                with lock:
                    n = next(counter)
                _report(hotline, n, f"fault-key-{n:06d}")
                status, body = client.call("GET", "/api/v1/tasks?state=open&per_page=50")
                if status == 200:
                    ids = [t["id"] for t in body["items"] if t["bpmn_id"] == FIRST.bpmn_id]
                    _work_tasks(client, rng.sample(ids, min(2, len(ids))), rng)
        return run

    threads = [threading.Thread(target=load(name), daemon=True)
               for pair in LIAISONS.values() for name in pair for _ in range(2)]
    for t in threads:
        t.start()
    measured: dict[str, Any] = {}
    try:
        time.sleep(3)
        stack.kill_web_worker()  # gunicorn's master replaces it; its requests in flight are lost
        time.sleep(3)
        # A worker killed mid-job: hold the escalation table so the job stops inside its transaction.
        blocker = db.engine.connect()
        blocker.execute(sa.text("LOCK TABLE escalation IN SHARE MODE"))
        try:
            worker_cases = _past_deadline_cases(4)
            wait_for(lambda: _waiting_on_lock(f"{stack.application_name}-worker"), 30, "the job to block")
            stack.kill_worker()  # and start a new one, as systemd would
        finally:
            blocker.rollback()
            blocker.close()
        measured["worker_killed_to_escalated_s"] = round(_first_escalation_after(worker_cases, 60), 2)

        stack.redis.stop()  # Redis down: pages and the API work, the cron sweeps from the database
        down_at = time.monotonic()
        stack.fault(down_at)
        during = _past_deadline_cases(3)
        measured["due_to_escalated_redis_down_s"] = round(_first_escalation_after(during, 30), 2)
        time.sleep(max(0.0, 5 - (time.monotonic() - down_at)))
        stack.redis.start()
        back = _past_deadline_cases(3)  # due now: the first escalation through the restored queues
        measured["redis_back_to_first_escalation_s"] = round(_first_escalation_after(back, 60), 2)

        stack.redis.pause()  # hung: connections open, nothing answers
        hung_at = time.monotonic()
        hung = _past_deadline_cases(2)
        measured["due_to_escalated_redis_hung_s"] = round(_first_escalation_after(hung, 40), 2)
        time.sleep(max(0.0, 6 - (time.monotonic() - hung_at)))
        stack.redis.resume()
        stack.fault(hung_at)

        started = time.monotonic()  # terminate the stack's database connections, and only them
        db.session.rollback()
        terminated = db.session.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE :name AND pid <> pg_backend_pid()"),
            {"name": stack.application_name + "-%"}).scalar()
        db.session.rollback()
        stack.fault(started)
        measured["connections_terminated"] = terminated
        time.sleep(4)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert stack.alive("cron"), "the cron must survive every fault"
    _settle(stack, 40)
    counts = check_invariants(db.session, log)
    _print("faults", counts, {**measured, "statuses": dict(log.statuses), "server_errors": log.server_errors[:5],
                              "logged": stack.error_kinds()})
    assert measured["connections_terminated"] >= 1
    assert counts["requests"] > 50 and counts["escalations"] >= 12
    _assert_no_violations(counts, stack)
