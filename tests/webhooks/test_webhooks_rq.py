"""Webhooks on the production stack: PostgreSQL and a real RQ worker. The after-commit hand-over puts a
committed delivery on the ``notify`` queue and a rolled-back one never; a worker posts it to a real receiver."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from helpers import report_payload
from webhook_peer import receiving

from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.extensions import db
from app.org.queries import user_by_username
from app.webhooks import operations
from app.webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.committing, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def notify_queue(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app hands committed work to this Redis (tests otherwise run jobs inline) and its ``notify`` queue."""
    from redis import Redis
    from rq import Queue

    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", os.environ["REDIS_URL"])
    conn = Redis.from_url(os.environ["REDIS_URL"])
    conn.flushdb()
    try:
        yield Queue("notify", connection=conn)
    finally:
        conn.flushdb()


def _report() -> None:
    accept_report(ReportIn().load(report_payload("living_alone", "t01v01")), user_by_username("hotline_12355"))


def test_committed_deliveries_reach_the_queue_and_a_worker_posts_them(county: Any, notify_queue: Any) -> None:
    from rq import SimpleWorker

    with receiving("x") as receiver:
        sub, receiver.secret = operations.subscribe(None, name="hotline", url=receiver.url,
                                                    kinds=["report.accepted"], county="c01")
        db.session.commit()
        _report()
        db.session.rollback()
        assert notify_queue.count == 0  # rolled back: nothing written, nothing queued
        _report()
        db.session.commit()
        assert notify_queue.count == 1
        [job] = notify_queue.jobs
        assert job.func_name == "workers.jobs.deliver_webhook"
        SimpleWorker([notify_queue], connection=notify_queue.connection).work(burst=True)
    db.session.expire_all()
    [row] = db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    assert job.args == (row.id,) and row.status == "delivered" and row.attempts == 1
    assert [a.verified for a in receiver.arrivals] == [True] and list(receiver.events) == [row.event_id]
