"""Conferences, the units and people taking part, and the action items their decisions become."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.types import JSONType, UTCDateTime
from app.extensions import Model
from app.org.models import Unit, User

CONVENING_KINDS = ("rescue_center", "civil_affairs", "township")
"""Who convenes (000 附件1 第5项: the rescue & protection centre; civil affairs; the township)."""


class ConferenceStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class ConferenceMode(StrEnum):
    IN_PERSON = "in_person"
    CALL = "call"


class Conference(Model):
    """One case conference (个案会商) about one shared case; a follow-up names the one before it."""

    __tablename__ = "conference"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conference.id"))
    convening_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    chair_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    chair_name: Mapped[str] = mapped_column(sa.String(120), default="")
    title: Mapped[str] = mapped_column(sa.String(200))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    mode: Mapped[str] = mapped_column(sa.String(16), default=ConferenceMode.IN_PERSON)
    place: Mapped[str] = mapped_column(sa.String(300), default="")
    """A meeting room, or how to join the call."""
    status: Mapped[str] = mapped_column(sa.String(16), default=ConferenceStatus.SCHEDULED, index=True)
    agenda: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """Drawn from the case when scheduled; frozen when the minutes are recorded."""
    minutes: Mapped[str] = mapped_column(sa.Text, default="")
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    convening_unit: Mapped[Unit] = relationship()
    chair: Mapped[User | None] = relationship(foreign_keys=[chair_id])
    previous: Mapped[Conference | None] = relationship(remote_side=[id])
    units: Mapped[list[ConferenceUnit]] = relationship(order_by="ConferenceUnit.id", back_populates="conference")
    attendees: Mapped[list[ConferenceAttendee]] = relationship(order_by="ConferenceAttendee.id",
                                                               back_populates="conference")
    actions: Mapped[list[ConferenceAction]] = relationship(order_by="ConferenceAction.seq",
                                                           back_populates="conference")


class ConferenceUnit(Model):
    """A unit taking part: the convener, or an invited unit with its preparation task."""

    __tablename__ = "conference_unit"
    __table_args__ = (sa.UniqueConstraint("conference_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(sa.ForeignKey("conference.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    """``convener`` or ``invited``."""
    prepare_instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    attended: Mapped[bool | None] = mapped_column()

    conference: Mapped[Conference] = relationship(back_populates="units")
    unit: Mapped[Unit] = relationship(lazy="joined")


class ConferenceAttendee(Model):
    """A person expected at the conference (a user, or a named outsider such as a relative)."""

    __tablename__ = "conference_attendee"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(sa.ForeignKey("conference.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[str] = mapped_column(sa.String(60), default="")
    attended: Mapped[bool | None] = mapped_column()

    conference: Mapped[Conference] = relationship(back_populates="attendees")
    user: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class ConferenceAction(Model):
    """A decision turned into an action owned by a unit: a real task from its own process instance."""

    __tablename__ = "conference_action"
    __table_args__ = (sa.UniqueConstraint("conference_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(sa.ForeignKey("conference.id"), index=True)
    seq: Mapped[int] = mapped_column()
    decision: Mapped[str] = mapped_column(sa.Text)
    department_kind: Mapped[str] = mapped_column(sa.String(40))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    deadline: Mapped[str] = mapped_column(sa.String(40))
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    conference: Mapped[Conference] = relationship(back_populates="actions")
    unit: Mapped[Unit | None] = relationship(lazy="joined")
