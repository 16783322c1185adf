"""Sending one ``Delivery`` (a notification on SMS or work chat): exactly once per notification and channel.

``deliver(id)`` is what the ``notify`` job runs, after the transaction that wrote the row has committed.
The row is locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) while the request goes out: a second job for the
same row, or the sweep's, finds it locked ("busy") or already ``sent`` and posts nothing. Each attempt is
counted on the row with its error; a failure raises ``DeliveryFailure`` after the attempt is recorded, so RQ
retries the job (``RETRY_INTERVALS``) and the sweep takes the row again at ``next_attempt_at`` when Redis
lost it. Every request carries the delivery's id as ``webhook-id``: should a worker die between the peer's
2xx and its commit, the retry repeats that id and the gateway or robot bridge drops the copy.

Both peers are posted through ``app.common.signed_http`` (the Standard Webhooks signature, timeouts, no
redirects). The shapes, documented in docs/notifications.md:

- SMS gateway: ``POST LIANDONG_SMS_URL`` ``{"to": "+86...", "text": "...", "reference": "delivery-<id>"}``,
  signed with ``LIANDONG_SMS_KEY``.
- work chat: ``POST <the user's robot address>`` ``{"msgtype": "text", "text": {"content": "..."}}`` (the body
  WeCom and DingTalk robots take), signed with the robot's secret when the user gave one (sealed at rest:
  a secret no configured key opens fails the attempt, which is retried; the message is never posted unsigned).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.common import signed_http
from app.common.clock import now
from app.common.dialect import for_update
from app.common.sealed import SealError
from app.extensions import db
from app.org.models import User

from .channels import CHAT, SMS, is_secure, message_text
from .models import ChannelAddress, Delivery, Notification

MAX_ATTEMPTS = 6
"""After this many failed attempts a delivery is ``failed`` and left (the user and the admins see it)."""
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30),
           timedelta(hours=2))
"""Wait before the sweep tries a failed delivery again (the n-th failure waits the n-th; RQ's retries
usually come first, and the row lock keeps the two from sending twice)."""
SETTLE = timedelta(seconds=60)
"""A new row is the sweep's only after this long: until then its after-commit job is expected to run."""


class DeliveryFailure(Exception):
    """The peer refused or could not be reached; the attempt is recorded on the row (retry the job)."""


@dataclass(frozen=True)
class Context:
    """What the delivery needs to know from above notifications: the case's number (for the words) and,
    outside working time, until when quiet hours hold the message (None: send now, or an urgent step)."""

    case_number: str | None
    held_until: datetime | None


Describe = Callable[[Notification, bool, datetime], Context]
"""``describe(note, quiet, at)``: handed in by the job (``app.deadlines.quiet_hours.describe``): the case
and the calendar are above this package."""


def _lock(delivery_id: int) -> Delivery | None:
    stmt = for_update(sa.select(Delivery).where(Delivery.id == delivery_id), skip_locked=True)
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def deliver(delivery_id: int, describe: Describe) -> str:
    """Send one delivery: sent / already / busy / gone / held / not_yet / failed. Flushes.

    Raises ``DeliveryFailure`` after recording a failed attempt that will be retried."""
    row = _lock(delivery_id)
    if row is None:
        return "busy" if db.session.get(Delivery, delivery_id) is not None else "gone"
    if row.state in ("sent", "failed"):
        return "already"
    at = now()
    if row.state == "held" and row.next_attempt_at is not None and row.next_attempt_at > at:
        return "not_yet"
    note = db.session.get(Notification, row.notification_id)
    if note is None:  # pragma: no cover - the cascade deletes the row with its notification
        return "gone"
    context = describe(note, _quiet(row.user_id), at)
    if context.held_until is not None:
        row.state, row.next_attempt_at, row.updated_at = "held", context.held_until, at
        db.session.flush()
        return "held"
    address = db.session.get(ChannelAddress, (row.user_id, row.channel))
    problem = _unsendable(row.channel, address)
    if problem is not None or address is None:
        _finish(row, at, "failed", problem)
        return "failed"
    text = message_text(note, context.case_number, is_secure(row.channel, address.address))
    result = _post(row, address, text)
    row.attempts += 1
    if result.ok:
        _finish(row, at, "sent", None)
        return "sent"
    error = (result.error or "failed")[:500]
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row, at, "failed", error)
        return "failed"
    row.state, row.last_error, row.updated_at = "queued", error, at
    row.next_attempt_at = at + BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
    db.session.flush()
    raise DeliveryFailure(error)


def _quiet(user_id: int) -> bool:
    user = db.session.get(User, user_id)
    return bool(user is None or (user.notify_channels or {}).get("quiet", True))


def _finish(row: Delivery, at: datetime, state: str, error: str | None) -> None:
    row.state, row.last_error, row.updated_at, row.next_attempt_at = state, error, at, None
    if state == "sent":
        row.sent_at = at
    db.session.flush()


def _unsendable(channel: str, address: ChannelAddress | None) -> str | None:
    settings = current_app.config["LIANDONG"]
    if address is None:
        return "no phone number set" if channel == SMS else "no work-chat robot set"
    if channel == SMS and (not settings.sms_url or settings.sms_key is None):
        return "no SMS gateway configured"
    if channel == CHAT and not any(address.address.startswith(p) for p in settings.chat_url_prefixes):
        return "the robot's address is no longer allowed"
    return None


def _post(row: Delivery, address: ChannelAddress, text: str) -> signed_http.PostResult:
    settings = current_app.config["LIANDONG"]
    message_id = f"delivery-{row.id}"
    if row.channel == SMS:
        url, secret = settings.sms_url, settings.sms_key.get_secret_value() if settings.sms_key else None
        payload: dict[str, object] = {"to": address.address, "text": text, "reference": message_id}
    else:
        try:
            url, secret = address.address, address.signing_secret
        except SealError as exc:  # a key dropped before ``reseal``: fail the attempt, never post unsigned
            return signed_http.PostResult(None, "", str(exc), 0.0)
        payload = {"msgtype": "text", "text": {"content": text}}
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = (signed_http.signed_headers(secret, message_id, body) if secret
               else {"webhook-id": message_id, "content-type": "application/json"})
    return signed_http.post(url, body, headers, timeout=settings.channel_timeout)


def pending_ids(at: datetime, settle: timedelta = SETTLE, limit: int = 1000) -> list[int]:
    """Deliveries the sweep sends: held ones whose quiet hours ended, queued ones whose retry time came
    (a new row after ``settle``, when its after-commit job must have been lost)."""
    return list(db.session.scalars(
        sa.select(Delivery.id).where(Delivery.state.in_(("queued", "held")),
                                     Delivery.next_attempt_at <= at + SETTLE - settle)
        .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)))
