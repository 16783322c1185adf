"""Writing deliveries in the transaction of the change they announce, and handing them to RQ after commit.

The outbox pattern: ``record`` inserts one ``webhook_delivery`` row per matching subscriber in the
command's own transaction, so a crash after the commit loses nothing (the sweep finds the row) and a
rolled-back command leaves no row and sends nothing. After the commit the new rows' ids go on the
``notify`` queue (the workers' ``hand_over``, handed in by ``create_app``); without Redis, or when Redis
fails, the sweep sends them.

Which kinds anyone subscribes to is cached per process for ``TTL`` seconds (subscriptions change rarely;
every completion and report would otherwise pay a query): with no subscriber a domain event costs no
statement at all. A subscription added in another process is seen within ``TTL``; one changed in this
process at once (``forget``). A stale "someone listens" costs one INSERT ... SELECT that writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.cases.models import Case
from app.common.clock import now
from app.common.types import UTCDateTime
from app.extensions import db
from app.notifications.dispatch import breaker
from app.org.queries import county_code_for

from .models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from .payloads import body, new_event_id

log = logging.getLogger(__name__)
TTL = 10.0
"""Seconds a process trusts its list of subscribed kinds."""
EVERY_COUNTY = "*"
_KEY = "liandong.webhook_delivery_ids"
_COUNTIES = "liandong.webhook_counties"

HandOver = Callable[[Any, list[int]], None]
"""``hand_over(redis_client, delivery_ids)``: one delivery job per row on the ``notify`` queue."""
Connect = Callable[[str], Any]
_hand_over: tuple[Connect, HandOver] | None = None


class _Subscribed:
    """The kinds some active subscription asks for, as of ``loaded`` (monotonic seconds)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kinds: frozenset[str] | None = None
        self.loaded = 0.0

    def get(self) -> frozenset[str]:
        with self.lock:
            if self.kinds is not None and time.monotonic() - self.loaded < TTL:
                return self.kinds
        rows = db.session.scalars(sa.select(WebhookSubscription.kinds).where(WebhookSubscription.active.is_(True)))
        kinds = frozenset(k for row in rows for k in row.split(",") if k)
        with self.lock:
            self.kinds, self.loaded = kinds, time.monotonic()
        return kinds

    def forget(self, known: frozenset[str] | None = None) -> None:
        with self.lock:
            self.kinds, self.loaded = known, time.monotonic()


_subscribed = _Subscribed()


def subscribed_kinds() -> frozenset[str]:
    """The kinds some active subscription asks for (cached ``TTL`` seconds): a receiver builds no body
    (and loads nothing) for a kind nobody wants."""
    return _subscribed.get()


def forget(known: frozenset[str] | None = None) -> None:
    """Read the subscriptions again on the next event (after this process changed one). A test that knows
    the kinds subscribed (none, after its rollback) passes them, so its statement counts hold whenever it runs."""
    _subscribed.forget(known)


def record(kind: str, case: Case, data: dict[str, Any], at: datetime | None = None) -> list[int]:
    """One pending delivery of this event per active subscriber of ``kind`` in the case's county.

    One INSERT ... SELECT (the subscribers are matched by the database), none when no one subscribes to
    ``kind``. Returns the new rows' ids, handed to RQ after the commit. Called from receivers: no commit.
    """
    if kind not in _subscribed.get():
        return []
    at = at or now()
    county = _county(case.region_id)
    event_id = new_event_id()
    text = body(event_id, kind, county, data, at)
    sub = WebhookSubscription
    chosen = sa.select(
        sub.id, sa.literal(event_id, sa.String), sa.literal(kind, sa.String), sa.literal(text, sa.Text),
        sa.literal(case.id, sa.Integer), sa.literal(DeliveryStatus.PENDING.value, sa.String),
        sa.literal(0, sa.Integer), sa.literal(at, UTCDateTime()), sa.literal(at, UTCDateTime()),
    ).where(sub.active.is_(True), sub.kinds.contains(f",{kind},", autoescape=True),
            sa.or_(sub.county_code == EVERY_COUNTY, sub.county_code == county))
    stmt = sa.insert(WebhookDelivery).from_select(
        ["subscription_id", "event_id", "kind", "body", "case_id", "status", "attempts", "created_at",
         "next_attempt_at"], chosen).returning(WebhookDelivery.id)
    ids = list(db.session.scalars(stmt))
    after_commit(ids)
    return ids


def _county(region_id: int) -> str:
    """The county code of a case's region, asked once per transaction (a step's events share the case)."""
    known: dict[int, str] = db.session.info.setdefault(_COUNTIES, {})
    if region_id not in known:
        known[region_id] = county_code_for(region_id)
    return known[region_id]


def after_commit(delivery_ids: list[int]) -> None:
    """Hand these deliveries to the queue when the current transaction commits (nothing on rollback)."""
    if delivery_ids:
        db.session.info.setdefault(_KEY, []).extend(delivery_ids)


def _dispatch(session: Session) -> None:
    session.info.pop(_COUNTIES, None)
    ids = session.info.pop(_KEY, None)
    url = current_app.config["LIANDONG"].redis_url if has_app_context() else None
    if not ids or not url or _hand_over is None or breaker.open(url):
        return
    connect, hand_over = _hand_over
    try:
        hand_over(breaker.client(url, connect), ids)
    except Exception as exc:  # Redis unreachable or hung: the sweep sends them from the database
        breaker.trip(url)
        log.warning("could not enqueue %d webhook deliveries, the sweep will: %s", len(ids), type(exc).__name__)
    else:
        breaker.reset(url)


def _forget(session: Session, previous: Any) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_COUNTIES, None)


def init_app(connect: Connect, hand_over: HandOver) -> None:
    """Listen on every session once per process (as ``notifications.dispatch`` does for mail)."""
    global _hand_over
    _hand_over = (connect, hand_over)
    if getattr(Session, "_liandong_webhook_dispatch", False):
        return
    event.listen(Session, "after_commit", _dispatch)
    event.listen(Session, "after_soft_rollback", _forget)
    Session._liandong_webhook_dispatch = True  # type: ignore[attr-defined]
