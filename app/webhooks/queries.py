"""Reads for the admin pages, the API and the CLI: subscribers and their delivery log.

An administrator reads the subscribers of the counties in their jurisdiction only (``org.jurisdiction``): a
subscriber's log holds its county's case ids and step ids. ``by`` None is the CLI (every subscriber)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.common.errors import NotFound
from app.extensions import db
from app.org.jurisdiction import county_codes, unknown
from app.org.models import User

from .models import WebhookDelivery, WebhookSubscription


def subscriptions(by: User | None = None) -> list[WebhookSubscription]:
    stmt = sa.select(WebhookSubscription).order_by(WebhookSubscription.id)
    codes = county_codes(by) if by is not None else None
    return list(db.session.scalars(stmt if codes is None else stmt.where(WebhookSubscription.county_code.in_(codes))))


def subscription(subscription_id: int) -> WebhookSubscription | None:
    return db.session.get(WebhookSubscription, subscription_id)


def managed_subscription(by: User | None, subscription_id: int, message: str) -> WebhookSubscription:
    """The subscriber, when its county is in ``by``'s jurisdiction (``*``: every county's); else 404 as for an
    unknown id (``message``)."""
    sub = subscription(subscription_id)
    if sub is None:
        raise NotFound(message)
    codes = county_codes(by) if by is not None else None
    if by is not None and codes is not None and sub.county_code not in codes:
        raise unknown(by, "webhook", sub.id, message)
    return sub


def deliveries(subscription_id: int, status: str | None = None) -> sa.Select[Any]:
    """The subscriber's delivery log, newest first (a select, for paging)."""
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return stmt.order_by(WebhookDelivery.id.desc())


def delivery(delivery_id: int) -> WebhookDelivery | None:
    return db.session.get(WebhookDelivery, delivery_id)


def status_counts(subscription_ids: list[int]) -> dict[int, dict[str, int]]:
    """How many deliveries each subscriber has per status (the list page's counts), in one query."""
    counts: dict[int, dict[str, int]] = {i: {} for i in subscription_ids}
    if not subscription_ids:
        return counts
    rows = db.session.execute(
        sa.select(WebhookDelivery.subscription_id, WebhookDelivery.status, sa.func.count())
        .where(WebhookDelivery.subscription_id.in_(subscription_ids))
        .group_by(WebhookDelivery.subscription_id, WebhookDelivery.status))
    for sub_id, status, count in rows:
        counts[sub_id][status] = count
    return counts
