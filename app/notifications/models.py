"""In-app notifications and the email outbox.

Both are written in the same transaction as the change they announce, so a
crash can never leave a task created but unannounced; the outbox is sent by a
worker after commit and is idempotent per ``dedupe_key``.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.common.sealed import seal, unseal
from app.common.types import UTCDateTime
from app.extensions import Model


class Notification(Model):
    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    """new_task, task_reassigned, reminder, overdue, escalation, conference, digest ..."""
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    case_id: Mapped[int | None] = mapped_column()
    """No foreign key: it is the case of ``task_id`` when there is one (copied from that task row, whose key
    guarantees it), else a case the writer just read; cases are never deleted. Its per-row check was a third of
    the sweep's server time."""
    task_id: Mapped[int | None] = mapped_column()
    """No foreign key either: its writer holds that task row, and a task is never deleted (migration d4f7b2e9a6c1)."""
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    """Set for notifications that must exist at most once (e.g. ``escalation:<task>:<level>:<user>``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When it was put in the email outbox (its own mail, or the user's daily digest), or settled without a mail
    because its user chose no email for its kind; NULL: not yet / never."""


class EmailOutbox(Model):
    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class Delivery(Model):
    """One notification on one outside channel (SMS, work chat): written with the notification, sent after
    commit by a ``notify`` job, retried with backoff; at most one row per notification and channel."""

    __tablename__ = "notification_delivery"
    __table_args__ = (sa.UniqueConstraint("notification_id", "channel", name="uq_delivery_notification_channel"),
                      sa.Index("ix_delivery_pending", "state", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notification.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(16))
    """sms, chat."""
    kind: Mapped[str] = mapped_column(sa.String(40))
    """The notification's kind (lists of deliveries show it without reading the notification)."""
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    """queued (to send, or to retry at ``next_attempt_at``), held (quiet hours until ``next_attempt_at``),
    sent, failed (gave up after ``MAX_ATTEMPTS``, or nowhere to send it)."""
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the sweep takes it up (after a minute for a new row, whose job is normally enqueued at commit)."""
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChannelAddress(Model):
    """Where a user's SMS or work-chat messages go: a phone number, or a robot's address and signing secret.

    Read only by the delivery job and the preferences page; the secret is sealed at rest and never shown back."""

    __tablename__ = "notification_address"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(2000))
    secret_sealed: Mapped[str | None] = mapped_column(sa.String(400))
    """The robot's signing secret (``whsec_...``) encrypted under the settings' keys (``app.common.sealed``), as a
    webhook subscriber's is: every message is signed with it, so it cannot be a hash. NULL: the robot takes
    unsigned messages (its address alone is the key, as WeCom's are)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def signing_secret(self) -> str | None:
        """The secret, unsealed to sign one message; ``SealError`` when no configured key opens it."""
        return None if self.secret_sealed is None else unseal(self.secret_sealed)

    def set_secret(self, secret: str | None) -> None:
        self.secret_sealed = None if not secret else seal(secret)
