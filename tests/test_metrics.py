"""``/metrics``: scraped over real HTTP from gunicorn (two workers, multiprocess mode), and kept from strangers."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import submit_report
from procs import app_env, free_port, spawn, stop_group, wait_for
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.extensions import db
from app.tasks.models import Task

pytestmark = pytest.mark.slow


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture
def gunicorn(app: Flask, tmp_path: Path) -> Iterator[str]:
    """deploy/gunicorn.conf.py with two workers on the test database; its own metrics folder."""
    settings = app.config["LIANDONG"]
    port = free_port()
    env = app_env(os.environ.get("DATABASE_URL") or app.config["SQLALCHEMY_DATABASE_URI"], None,
                  Path(settings.instance_dir), LIANDONG_WEB_BIND=f"127.0.0.1:{port}", LIANDONG_WEB_WORKERS="2",
                  LIANDONG_WEB_THREADS="1", LIANDONG_WEB_ACCESS_LOG="", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"))
    proc = spawn(["gunicorn", "--config", "deploy/gunicorn.conf.py"], env, tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(base + "/healthz")[0] == 200, 90, "gunicorn to answer")
        yield base
    finally:
        stop_group(proc)
    # no terminal: production logs, one JSON object a line, gunicorn's own lines and the app's alike
    logged = [json.loads(line) for line in (tmp_path / "gunicorn.log").read_text().splitlines() if line.strip()]
    assert {"gunicorn.error", "liandong.request"} <= {line["logger"] for line in logged}
    assert all(line["request_id"] for line in logged if line["logger"] == "liandong.request")


@pytest.mark.committing  # gunicorn workers read the task projection over connections of their own
def test_a_real_scrape_adds_up_both_workers_and_reads_the_task_projection(
        gunicorn: str, as_user: Any, app: Flask) -> None:
    case = submit_report(as_user("reporter_school"), "missing", "t03v02")
    [task] = db.session.scalars(sa.select(Task).where(Task.case_id == case["case_id"])).all()
    task.due_at = task.created_at - timedelta(hours=1)  # overdue, whatever the real clock says
    kind = task.department_kind
    db.session.commit()
    before = samples(get(gunicorn + "/metrics")[1])
    for _ in range(12):  # spread over both workers by the kernel
        assert get(gunicorn + "/healthz")[0] == 200
    assert get(gunicorn + "/no/such/page/42")[0] == 404
    status, text = get(gunicorn + "/metrics")
    assert status == 200, text
    now = samples(text)
    key = ("liandong_http_request_duration_seconds_count",
           (("endpoint", "home.healthz"), ("method", "GET"), ("status", "200")))
    assert now[key] - before.get(key, 0) == 12
    assert now[("liandong_http_request_duration_seconds_count",
                (("endpoint", "unmatched"), ("method", "GET"), ("status", "404")))] >= 1
    assert "/no/such/page" not in text  # endpoint names label samples, never URLs
    assert now[("liandong_tasks_open", (("department_kind", kind),))] == 1
    assert now[("liandong_tasks_overdue", (("department_kind", kind),))] == 1
    assert now[("liandong_task_completions_total", (("department_kind", kind),))] == 0
    assert now[("liandong_database_up", ())] == 1
    assert ("liandong_sweep_lag_seconds", ()) in now and ("liandong_escalation_lag_seconds",
                                                          (("department_kind", kind),)) in now


def test_metrics_are_kept_from_strangers(client: Any, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = app.config["LIANDONG"]
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", environ_base=outside).status_code == 404
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer guess"}).status_code == 403
    monkeypatch.setattr(settings, "metrics_token", SecretStr("scrape-token-1"))
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer scrape-token-2"}).status_code == 403
    allowed = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer scrape-token-1"})
    assert allowed.status_code == 200 and "liandong_database_up 1.0" in allowed.get_data(as_text=True)
    monkeypatch.setattr(settings, "metrics_allowed_networks", [])
    assert client.get("/metrics").status_code == 404  # loopback too, once the operator said so


@pytest.mark.redis
def test_queue_depth_and_failed_jobs_come_from_redis(client: Any, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry

    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", os.environ["REDIS_URL"])
    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue("notify", connection=connection)
    queue.empty()
    FailedJobRegistry("notify", connection=connection).cleanup(int(1e12))  # nothing failed before
    waiting = [queue.enqueue("workers.jobs.send_mail", n) for n in range(3)]
    failed = queue.enqueue("workers.jobs.send_mail", 99)
    queue.remove(failed)
    FailedJobRegistry("notify", connection=connection).add(failed, ttl=60, exc_string="SmtpFailure")
    try:
        seen = samples(client.get("/metrics").get_data(as_text=True))
    finally:
        queue.empty()
        FailedJobRegistry("notify", connection=connection).remove(failed, delete_job=True)
    assert seen[("liandong_redis_up", ())] == 1
    assert seen[("liandong_queue_depth", (("queue", "notify"),))] == len(waiting)
    assert seen[("liandong_failed_jobs", (("queue", "notify"),))] == 1
