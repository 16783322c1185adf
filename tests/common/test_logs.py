"""Structured logs: JSON lines with request, user and job ids; never a child's name, narrative or ID number."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from helpers import report_payload

from app.common import logs
from app.config import Settings

CHILD = "欧阳晓燕"
GUARDIAN = "欧阳大树"
ID_NUMBER = "370000201506010029"
NARRATIVE = "邻居说她夜里一个人哭到天亮"
PHONE = "13912345678"


@pytest.fixture
def captured(app: Flask) -> Iterator[io.StringIO]:
    """The root logger through the production handler (JSON, DEBUG: every line any library writes)."""
    stream = io.StringIO()
    settings = Settings.from_env({}, {"log_format": "json", "log_level": "DEBUG", "secret_key": "k",
                                      "instance_dir": app.config["LIANDONG"].instance_dir})
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(settings, stream=stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_report_through_the_api_leaves_no_child_data_in_the_logs(as_user: Any, captured: io.StringIO,
                                                                    app: Flask) -> None:
    reporter = as_user("reporter_school")
    body = report_payload("domestic_violence", name=CHILD, id_number=ID_NUMBER,
                          guardians=[{"name": GUARDIAN, "relation": "father", "phone": PHONE}])
    body["report"]["description"] = NARRATIVE
    accepted = reporter.post("/api/v1/reports", json=body)
    assert accepted.status_code == 201, accepted.get_json()
    case_id = accepted.get_json()["case_id"]
    assert as_user("coordinator").get(f"/api/v1/cases/{case_id}").get_json()["child"]["name"] == CHILD
    refused = reporter.post("/api/v1/reports", json=body | {"idempotency_key": None, "bogus": CHILD})
    assert refused.status_code == 422
    listed = as_user("coordinator").get("/api/v1/tasks", query_string={"q": CHILD})  # a query never logged
    assert listed.status_code in (200, 422)
    logged = captured.getvalue()
    records = lines(captured)
    assert len(records) >= 4 and all("level" in r and "logger" in r for r in records)
    for secret in (CHILD, GUARDIAN, ID_NUMBER, NARRATIVE, PHONE):
        assert secret not in logged and json.dumps(secret)[1:-1] not in logged, secret
    requests = [r for r in records if r["logger"] == "liandong.request"]
    assert {r["status"] for r in requests} >= {201, 200, 422}
    assert all(r["request_id"] and r["user_id"] for r in requests), requests


def test_request_id_is_taken_from_the_caller_or_made(client: Any, captured: io.StringIO) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert mine.headers["X-Request-ID"] == "lb-7f3a.42"
    hostile = client.get("/healthz", headers={"X-Request-ID": f"x {CHILD} " + "y" * 80})
    made = hostile.headers["X-Request-ID"]
    assert len(made) == 32 and CHILD not in made
    ids = [r["request_id"] for r in lines(captured) if r["logger"] == "liandong.request"]
    assert ids == ["lb-7f3a.42", made]
    assert all(r["user_id"] is None for r in lines(captured))


def test_auto_format_is_text_for_people_and_json_otherwise(tmp_path: Any) -> None:
    settings = Settings.from_env({}, {"secret_key": "k", "instance_dir": tmp_path})
    assert logs.wants_json(settings, debug=False, stream=io.StringIO())
    assert not logs.wants_json(settings, debug=True, stream=io.StringIO())
    text = io.StringIO()
    logging.getLogger("liandong.test").addHandler(handler := logs.make_handler(settings, True, text))
    try:
        logging.getLogger("liandong.test").warning("sweep late by %d s", 12)
    finally:
        logging.getLogger("liandong.test").removeHandler(handler)
    assert "WARNING liandong.test [req=None user=None job=None] sweep late by 12 s" in text.getvalue()


def log_in_job(word: str) -> str:
    """An RQ job that logs (imported by name by the worker)."""
    logging.getLogger("liandong.jobtest").warning("job says %s", word)
    return word


@pytest.mark.redis
def test_a_job_line_carries_the_rq_job_id(captured: io.StringIO) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue("liandong-logtest", connection=connection)
    job = queue.enqueue(log_in_job, "hello")
    SimpleWorker([queue], connection=connection).work(burst=True)
    [line] = [r for r in lines(captured) if r["logger"] == "liandong.jobtest"]
    assert (line["message"], line["job_id"]) == ("job says hello", job.id)
    queue.delete(delete_jobs=True)
