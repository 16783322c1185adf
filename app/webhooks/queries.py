"""Reads for the admin pages, the API and the CLI: subscribers and their delivery log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.extensions import db

from .models import WebhookDelivery, WebhookSubscription


def subscriptions() -> list[WebhookSubscription]:
    return list(db.session.scalars(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)))


def subscription(subscription_id: int) -> WebhookSubscription | None:
    return db.session.get(WebhookSubscription, subscription_id)


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
