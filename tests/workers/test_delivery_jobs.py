"""SMS and work-chat deliveries through the workers: the after-commit hand-over to the ``notify`` queue and an RQ
worker sending once (PostgreSQL + Redis), and the inline sweep sending what quiet hours held when working time
starts (any database). The SMS gateway is a real HTTP peer checking the signature (tests/webhook_peer.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import open_case, sweep
from webhook_peer import Receiver, receiving

from app.common.signed_http import new_secret
from app.extensions import db
from app.notifications.channels import Preferences
from app.notifications.models import Delivery
from app.notifications.operations import notify, set_channels
from app.org.queries import user_by_username

KEY = new_secret()


@pytest.fixture
def gateway(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    settings = app.config["LIANDONG"]
    with receiving(KEY) as peer:
        monkeypatch.setattr(settings, "sms_url", peer.url)
        monkeypatch.setattr(settings, "sms_key", type(settings.secret_key)(KEY))
        yield peer


def _sms_for_everything(username: str) -> Any:
    user = user_by_username(username)
    assert user is not None
    set_channels(user, Preferences({"*": ("sms",)}, quiet=True), phone="+8613800000002")
    db.session.commit()
    return user


def _rows(user_id: int) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Delivery).where(Delivery.user_id == user_id).order_by(Delivery.id)))


@pytest.mark.committing
@pytest.mark.redis
@pytest.mark.postgres
def test_the_commit_hands_the_delivery_to_the_notify_queue_and_a_worker_sends_it_once(
        app: Any, county: Any, gateway: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from redis import Redis
    from rq import SimpleWorker

    from workers import jobs
    from workers.queues import NOTIFY, enqueue, get_queue

    conn = Redis.from_url(os.environ["REDIS_URL"])
    conn.flushdb()
    try:
        monkeypatch.setattr(app.config["LIANDONG"], "redis_url", os.environ["REDIS_URL"])
        user = _sms_for_everything("police_t01")
        open_case("four_in_one", "t01v01")  # police triage opens: a new_task note, committed
        [row] = _rows(user.id)
        queue = get_queue(NOTIFY, conn)
        assert [(j.func_name, j.args) for j in queue.get_jobs()] == [("workers.jobs.deliver_notification", (row.id,))]
        enqueue(jobs.deliver_notification, row.id, queue=NOTIFY, connection=conn)  # a duplicate job
        SimpleWorker([queue], connection=conn).work(burst=True)
        [row] = _rows(user.id)
        assert (row.state, row.attempts) == ("sent", 1)
        assert len(gateway.arrivals) == 1 and gateway.arrivals[0].verified
        assert json.loads(gateway.arrivals[0].body)["to"] == "+8613800000002"
    finally:
        conn.flushdb()


def test_the_inline_sweep_sends_what_quiet_hours_held_once_working_time_starts(
        county: Any, clock: Any, gateway: Receiver) -> None:
    user = _sms_for_everything("police_t01")
    clock.at = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)  # Friday 20:00 in the county
    notify([user], "police_handled", "C01: handled")
    db.session.commit()
    assert sweep()["deliveries"] == 1
    [row] = _rows(user.id)
    assert (row.state, row.next_attempt_at) == ("held", datetime(2026, 3, 16, 0, 30, tzinfo=UTC))
    assert gateway.arrivals == []
    clock.at = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # Sunday: still quiet, the sweep leaves it
    assert sweep()["deliveries"] == 0
    clock.at = datetime(2026, 3, 16, 0, 30, tzinfo=UTC)
    assert sweep()["deliveries"] == 1
    assert [(r.state, r.attempts) for r in _rows(user.id)] == [("sent", 1)]
    assert sweep()["deliveries"] == 0 and len(gateway.arrivals) == 1
