"""``GET /metrics``: Prometheus text format, for the monitoring server only (docs/operations.md).

The task gauges are read from the task projection by ONE grouped query at scrape time, not kept in
process memory: every web worker, RQ worker and the cron change tasks, and only the database knows the
sum. Queue depth and failed jobs are read from Redis the same way (when it is configured).
Protected: from ``LIANDONG_METRICS_ALLOWED_NETWORKS`` (default loopback) or with the bearer
``LIANDONG_METRICS_TOKEN``; anyone else gets a 404, a wrong token a 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.common.clock import now, past_due
from app.common.metrics import exposition, may_scrape
from app.deadlines.sweep import last_swept
from app.extensions import db
from app.notifications.models import EmailOutbox
from app.tasks.models import Task, TaskState
from workers.queues import QUEUES, REDIS_ERRORS, redis_connection

blp = Blueprint("metrics", __name__)

NO_KIND = "none"
"""The ``department_kind`` label of a task routed without a kind (should not happen; counted, not hidden)."""


def task_counts(at: datetime) -> list[Any]:
    """Per department kind: open, overdue, completed tasks and the oldest escalation step already due."""
    is_open = Task.state == TaskState.OPEN
    return list(db.session.execute(
        sa.select(Task.department_kind,
                  sa.func.count().filter(is_open).label("open"),
                  sa.func.count().filter(is_open, past_due(Task.due_at, at)).label("overdue"),
                  sa.func.count().filter(Task.state == TaskState.COMPLETED).label("completed"),
                  sa.func.min(Task.next_escalation_at).filter(is_open, past_due(Task.next_escalation_at, at))
                  .label("oldest_due_step"))
        .group_by(Task.department_kind)))


class DomainCollector(Collector):
    """The gauges that describe the county's work, computed when scraped."""

    def __init__(self, redis_url: str | None, outbox_age: int) -> None:
        self.redis_url = redis_url
        self.outbox_age = outbox_age

    def collect(self) -> Iterator[Metric]:
        yield from self._database()
        if self.redis_url:
            yield from self._queues()

    def _database(self) -> Iterator[Metric]:
        at = now()
        up = GaugeMetricFamily("liandong_database_up", "1 when the scrape could read the database.")
        try:
            rows = task_counts(at)
            swept = last_swept()
            backlog = db.session.scalar(sa.select(sa.func.count(EmailOutbox.id)).where(
                EmailOutbox.sent_at.is_(None), EmailOutbox.created_at <= at - timedelta(seconds=self.outbox_age)))
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        finally:
            db.session.rollback()  # a read-only scrape: end its transaction now
        up.add_metric([], 1)
        yield up
        kinds = ["department_kind"]
        open_ = GaugeMetricFamily("liandong_tasks_open", "Open tasks, by department kind.", labels=kinds)
        overdue = GaugeMetricFamily("liandong_tasks_overdue", "Open tasks past their due time.", labels=kinds)
        completed = CounterMetricFamily("liandong_task_completions", "Tasks completed, ever.", labels=kinds)
        lag = GaugeMetricFamily("liandong_escalation_lag_seconds",
                                "How long the oldest escalation step already due has waited (0: none waits).",
                                labels=kinds)
        for row in rows:
            label = [row.department_kind or NO_KIND]
            open_.add_metric(label, row.open)
            overdue.add_metric(label, row.overdue)
            completed.add_metric(label, row.completed)
            lag.add_metric(label, max(0.0, (at - row.oldest_due_step).total_seconds()) if row.oldest_due_step else 0)
        yield from (open_, overdue, completed, lag)
        sweep = GaugeMetricFamily("liandong_sweep_lag_seconds", "Seconds since the deadline sweep last ran "
                                  "(-1: never ran).")
        sweep.add_metric([], (at - swept).total_seconds() if swept else -1)
        outbox = GaugeMetricFamily("liandong_outbox_backlog", "Unsent mails older than LIANDONG_READY_OUTBOX_AGE.")
        outbox.add_metric([], backlog or 0)
        yield from (sweep, outbox)

    def _queues(self) -> Iterator[Metric]:
        from rq import Queue
        from rq.registry import FailedJobRegistry

        up = GaugeMetricFamily("liandong_redis_up", "1 when the scrape could read the RQ queues.")
        depth = GaugeMetricFamily("liandong_queue_depth", "Jobs waiting in each RQ queue.", labels=["queue"])
        failed = GaugeMetricFamily("liandong_failed_jobs", "Jobs in each queue's failed registry (retries spent).",
                                   labels=["queue"])
        try:
            connection = redis_connection(self.redis_url, timeout=1.0)
            for name in QUEUES:
                depth.add_metric([name], Queue(name, connection=connection).count)
                failed.add_metric([name], FailedJobRegistry(name, connection=connection).count)
        except REDIS_ERRORS:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (up, depth, failed)


@blp.get("/metrics")
def metrics() -> Response:
    settings = current_app.config["LIANDONG"]
    refused = may_scrape(settings)
    if refused is not None:
        abort(refused)
    return exposition(settings, DomainCollector(settings.redis_url, settings.ready_outbox_age))
