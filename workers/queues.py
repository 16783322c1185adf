"""Queue names, job defaults in one place, and ``enqueue``.

``engine``: firing BPMN timers (touches process state; keep it from waiting
behind a mail backlog). ``notify``: sending email. ``default``: the sweep and
escalation. Every job is retried (``RETRY``) and kept in the failed registry a
month after its last failure, where ``flask jobs failed`` and
``GET /api/v1/jobs/failed`` show it to admins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Retry
from rq.job import Job

ENGINE = "engine"
NOTIFY = "notify"
DEFAULT = "default"
QUEUES = (ENGINE, NOTIFY, DEFAULT)
"""Listed in priority order: a worker given several queues drains them in this order."""

RETRY_INTERVALS = [5, 30, 120, 600, 1800]
"""Seconds before each retry of a failed (or abandoned: its worker died) job."""
JOB_TIMEOUT = 300
FAILURE_TTL = 30 * 24 * 3600
RESULT_TTL = 3600


SOCKET_TIMEOUT = 10.0
"""Seconds a worker or cron command waits on one Redis call before treating Redis as hung."""
ENQUEUE_TIMEOUT = 1.5
"""Seconds a request waits on Redis when it hands committed work over; then the sweep takes it."""
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
"""What an unreachable, restarting or hung Redis raises (redis-py wraps most socket errors)."""


def redis_connection(url: str | None = None, *, timeout: float = SOCKET_TIMEOUT) -> Redis:
    """A client for ``url`` (default: the app's ``REDIS_URL``) that fails fast when Redis is down or hangs.

    No call waits longer than ``timeout`` (a stopped Redis otherwise blocks a
    socket read for as long as the kernel keeps the connection).
    """
    url = url or current_app.config["LIANDONG"].redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set: jobs run inline")
    return Redis.from_url(url, socket_connect_timeout=min(2.0, timeout), socket_timeout=timeout,
                          health_check_interval=30)


def get_queue(name: str, connection: Redis | None = None) -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; known: {QUEUES}")
    return Queue(name, connection=connection or redis_connection())


def enqueue(func: Callable[..., Any], *args: Any, queue: str = DEFAULT, job_id: str | None = None,
            connection: Redis | None = None) -> Job:
    """Put ``func(*args)`` on ``queue`` with the shared defaults (retries, timeouts, TTLs)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; known: {QUEUES}")
    return Queue(queue, connection=connection or redis_connection()).enqueue(
        func, args=args, job_id=job_id, retry=Retry(max=len(RETRY_INTERVALS), interval=list(RETRY_INTERVALS)),
        job_timeout=JOB_TIMEOUT, failure_ttl=FAILURE_TTL, result_ttl=RESULT_TTL)
