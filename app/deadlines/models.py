"""The deadline tables: calendar overrides, stored ladders, the steps taken, and the sweep's mark.

Table names are the ones the tasks package gave them (no migration moved them).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.common.types import JSONType, UTCDateTime
from app.extensions import Model

ANY = "*"
"""A stored ladder row that applies to every process key or department kind."""


class CalendarDay(Model):
    """One admin override: this date is a working day (调休 make-up day) or a holiday.

    ``county`` is ``*`` for the whole deployment (the State Council's schedule), or a county's region code
    for a local deviation that applies to that county's cases only, on top of the deployment's.
    """

    __tablename__ = "calendar_day"

    county: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=ANY, server_default=ANY)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


class EscalationRule(Model):
    """One step of a stored ladder; ``county`` ``*`` is the deployment's ladder, a region code a county's own."""

    __tablename__ = "escalation_rule"
    __table_args__ = (sa.UniqueConstraint("county", "process_key", "department_kind", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county: Mapped[str] = mapped_column(sa.String(32), default=ANY, server_default=ANY)
    process_key: Mapped[str] = mapped_column(sa.String(100), default=ANY)
    department_kind: Mapped[str] = mapped_column(sa.String(40), default=ANY)
    level: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(40))
    anchor: Mapped[str] = mapped_column(sa.String(16))
    delay: Mapped[str] = mapped_column(sa.String(40), default="")
    audiences: Mapped[list[str]] = mapped_column(JSONType)
    marks_overdue: Mapped[bool] = mapped_column(default=False)


class Escalation(Model):
    """A ladder step taken for a task: when it was due, when it was recorded, who was told."""

    __tablename__ = "escalation"
    __table_args__ = (sa.UniqueConstraint("task_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column()
    """No foreign key: the sweep writes the ids of the task rows its batch holds ``FOR UPDATE``, and a task is never
    deleted (migration d4f7b2e9a6c1: 7,000 per-row checks a batch of 1,000 across the three tables that name a task)."""
    case_id: Mapped[int] = mapped_column(index=True)
    """The task's case, copied from that row in the same statement; no foreign key (migration f2a6c8e1d4b7)."""
    level: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(40))
    department_kind: Mapped[str | None] = mapped_column(sa.String(40))
    unit_id: Mapped[int | None] = mapped_column()
    """The task's unit, copied from it (no foreign key, as ``case_id``)."""
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    """notified; skipped (a reminder reached after the due time: the overdue notice replaces it)."""
    recipients: Mapped[list[int]] = mapped_column(JSONType, default=list)


class SweepMark(Model):
    """When the deadline sweep last read the database (one row per sweep name), for ``/readyz``."""

    __tablename__ = "sweep_mark"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    swept_at: Mapped[datetime] = mapped_column(UTCDateTime())
