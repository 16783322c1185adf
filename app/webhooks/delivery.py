"""Sending one delivery: sign, post, record the attempt; retries with backoff are rows, not hidden loops.

At least once: a worker that dies between the receiver's 2xx and its own commit posts the event again
on the retry, under the same ``webhook-id``, which the receiver de-duplicates (docs/api.md, "Webhooks").
A failed attempt sets ``next_attempt_at`` from ``BACKOFF``; the sweep sends what is due again, so a
retry survives Redis and worker restarts. After ``MAX_ATTEMPTS`` the row is ``failed`` and waits for an
admin's redeliver.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.common.clock import now
from app.common.dialect import for_update
from app.common.sealed import SealError
from app.common.signed_http import PostResult, post, signed_headers
from app.extensions import db

from .models import DeliveryStatus, WebhookDelivery, WebhookSubscription

BACKOFF = (10, 60, 300, 1800, 7200, 21600, 43200)
"""Seconds before the retry after the 1st, 2nd, ... failed attempt (about 20 hours in all)."""
MAX_ATTEMPTS = len(BACKOFF) + 1
SETTLE = timedelta(seconds=60)
"""A first attempt younger than this is left to the job its commit enqueued; the sweep takes older ones."""


def _lock(delivery_id: int) -> WebhookDelivery | None:
    stmt = for_update(sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id), skip_locked=True)
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def send(delivery_id: int) -> str:
    """Attempt one delivery if it is due. Flushes; the job commits.

    Returns ``delivered``, ``retry`` (failed, next attempt scheduled), ``failed`` (no attempts left), or
    without posting: ``already`` (delivered or failed before), ``not_due``, ``paused``, ``busy`` (another
    worker holds it), ``gone``.
    """
    row = _lock(delivery_id)
    if row is None:
        return "busy" if db.session.get(WebhookDelivery, delivery_id) is not None else "gone"
    if row.status != DeliveryStatus.PENDING:
        return "already"
    at = now()
    if row.next_attempt_at is not None and row.next_attempt_at > at:
        return "not_due"
    subscription = row.subscription
    if not subscription.active:
        return "paused"
    content = row.body.encode()
    settings = current_app.config["LIANDONG"]
    try:
        headers = signed_headers(subscription.signing_secret, row.event_id, content)
    except SealError as exc:  # a key dropped before the rows were resealed: an attempt that cannot be made
        result = PostResult(None, "", str(exc), 0.0)
    else:
        result = post(subscription.url, content, headers, timeout=settings.webhook_timeout,
                      networks=settings.webhook_allowed_networks)
    row.attempts += 1
    row.last_attempt_at = at
    row.response_status = result.status
    if result.ok:
        row.status, row.delivered_at, row.next_attempt_at, row.last_error = DeliveryStatus.DELIVERED, at, None, None
        outcome = "delivered"
    elif row.attempts >= MAX_ATTEMPTS:
        row.status, row.next_attempt_at = DeliveryStatus.FAILED, None
        outcome = "failed"
    else:
        row.next_attempt_at = at + timedelta(seconds=BACKOFF[row.attempts - 1])
        outcome = "retry"
    if not result.ok:
        detail = f" {result.excerpt.strip()}" if result.excerpt.strip() else ""
        row.last_error = f"{result.error}{detail}"[:500]
    db.session.flush()
    return outcome


def due_ids(at: datetime, settle: timedelta = SETTLE, limit: int = 1000) -> list[int]:
    """Pending deliveries of active subscriptions whose attempt is due: retries whose backoff has passed,
    and first attempts older than ``settle`` (their after-commit hand-over must have been lost)."""
    return list(db.session.scalars(
        sa.select(WebhookDelivery.id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= at,
               WebhookSubscription.active.is_(True),
               sa.or_(WebhookDelivery.attempts > 0, WebhookDelivery.created_at <= at - settle))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)))
