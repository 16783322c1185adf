"""Subscriptions of other systems to domain events, and the outbox of their deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.sealed import seal, unseal
from app.common.types import UTCDateTime
from app.extensions import Model


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its first attempt or its next retry (``next_attempt_at``)."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """Every attempt failed (``MAX_ATTEMPTS``); an admin may redeliver it."""


class WebhookSubscription(Model):
    """Another system (a county's hotline, the provincial platform) receiving some kinds of events.

    Never deleted, only paused, so its delivery log stays whole and a delivery always has its subscription.
    """

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    url: Mapped[str] = mapped_column(sa.String(2000))
    secret_sealed: Mapped[str] = mapped_column(sa.String(400))
    """The shared signing secret (``whsec_...``) encrypted under the settings' keys (``app.common.sealed``):
    signing needs the secret itself, so it cannot be a hash; the database alone holds nothing usable.
    Shown once when issued, never listed or logged."""
    kinds: Mapped[str] = mapped_column(sa.String(400))
    """The event kinds, comma-separated with a comma at each end (``,case.closed,task.overdue,``), so one
    ``LIKE`` picks the subscribers of a kind on every database."""
    county_code: Mapped[str] = mapped_column(sa.String(32))
    """The county whose events it receives (a county's region code), or ``*`` for every county."""
    active: Mapped[bool] = mapped_column(default=True)
    """Paused subscriptions get no new deliveries and their pending ones wait until it is resumed."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def signing_secret(self) -> str:
        """The secret, unsealed for signing one request (never stored, shown or logged)."""
        return unseal(self.secret_sealed)

    def set_secret(self, secret: str) -> None:
        self.secret_sealed = seal(secret)

    @property
    def kind_list(self) -> list[str]:
        return [k for k in self.kinds.split(",") if k]


class WebhookDelivery(Model):
    """One event for one subscriber: written in the transaction of the change it announces, sent after."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_log", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_subscription.id"))
    event_id: Mapped[str] = mapped_column(sa.String(40))
    """``evt_`` + a UUID: the same for every subscriber of the event and on every retry (``webhook-id``)."""
    kind: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[str] = mapped_column(sa.Text)
    """The exact JSON text posted, so every retry signs and sends the same bytes."""
    case_id: Mapped[int | None] = mapped_column()
    """The case the event is about (for the log's filter); no foreign key, cases are never deleted."""
    status: Mapped[str] = mapped_column(sa.String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(500))

    subscription: Mapped[WebhookSubscription] = relationship()
