"""The one table of the shared helpers: idempotency keys (``idempotency.py`` is how commands use it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import UTCDateTime
from app.extensions import Model


class CommandKey(Model):
    """One idempotency key and what the first successful request with it produced."""

    __tablename__ = "command_key"
    __table_args__ = (sa.UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(32))
    """Which command: ``report`` (result: the case) or ``task_complete`` (result: the task)."""
    key: Mapped[str] = mapped_column(sa.String(80))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    """SHA-256 of the request; NULL for keys recorded before fingerprints (not compared)."""
    result_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
