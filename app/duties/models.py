"""Programme enrolment, duty frequencies, one row per duty cycle, and entrusted-care arrangements."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.models import Child
from app.common.types import JSONType, UTCDateTime
from app.extensions import Model
from app.tasks.models import Task


class StartReason(StrEnum):
    """Why a child joins the programme (dynamic management, 003 二（三）8 数据动态更新)."""

    NEW_CHILD_FOUND = "new_child_found"
    SURVEY = "survey"
    """Found in the regular survey (摸底排查)."""
    PARENTS_LEFT_TO_WORK = "parents_left_to_work"
    FAMILY_DIFFICULTY = "family_difficulty"
    MOVED_IN = "moved_in"
    CASE_REFERRAL = "case_referral"


class EndReason(StrEnum):
    PARENT_RETURNED = "parent_returned"
    CHILD_WITH_PARENTS = "child_with_parents"
    """Taken to live with the parents where they work."""
    AGED_OUT = "aged_out"
    MOVED_AWAY = "moved_away"
    DIFFICULTY_RESOLVED = "difficulty_resolved"
    DECEASED = "deceased"
    OTHER = "other"


class KeyReason(StrEnum):
    """What makes a child a key child (重点对象): 003 二（三）8, 000 附件3 第4项, 001 二（二）9."""

    PARENT_DISABLED_OR_MENTALLY_ILL = "parent_disabled_or_mentally_ill"
    CHILD_DISABLED = "child_disabled"
    PSYCHOLOGICAL_OR_BEHAVIOURAL = "psychological_or_behavioural"
    POOR_GUARDIANSHIP = "poor_guardianship"
    DROPOUT = "dropout"
    NO_HOUSEHOLD_REGISTRATION = "no_household_registration"
    SERIOUSLY_ILL = "seriously_ill"


class Enrolment(Model):
    """A child's membership of the care programme, from ``started_on`` to ``ended_on``."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("child.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    """The child's care file (``case_file.kind == "care"``): duty instances and visit records live there."""
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    key_reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    started_on: Mapped[date] = mapped_column(sa.Date)
    start_reason: Mapped[str] = mapped_column(sa.String(40))
    ended_on: Mapped[date | None] = mapped_column(sa.Date)
    end_reason: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    child: Mapped[Child] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.ended_on is None


class DutyFrequency(Model):
    """A county's override of a duty's cadence for a selector (``default``, ``key``, ``tag:x``, ``grade:x``)."""

    __tablename__ = "duty_frequency"
    __table_args__ = (sa.UniqueConstraint("duty", "selector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    duty: Mapped[str] = mapped_column(sa.String(40))
    selector: Mapped[str] = mapped_column(sa.String(60))
    cadence: Mapped[str] = mapped_column(sa.String(20))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CycleStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    """Completed by the cycle's due time."""
    LATE = "late"
    """Completed after the due time (it was missed and escalated first)."""
    MISSED = "missed"
    """The due time passed without completion; escalated once."""
    CANCELLED = "cancelled"


class DutyCycle(Model):
    """One duty for one subject (a child, a township, the county) in one period: at most one instance.

    The unique constraint makes the scheduler idempotent: running it twice for
    the same moment, or two schedulers at once, starts each cycle once.
    """

    __tablename__ = "duty_cycle"
    __table_args__ = (
        sa.UniqueConstraint("duty", "subject", "period"),
        sa.Index("ix_duty_cycle_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    duty: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(40))
    """``child:<id>`` or ``region:<id>``."""
    period: Mapped[str] = mapped_column(sa.String(60))
    """``2026-W11``, ``2026-03``, ``2026-03b``, ``2026-Q1``, ``2026-H1``, ``2026``; on-demand: ``adhoc:...``."""
    trigger: Mapped[str] = mapped_column(sa.String(16), default="calendar")
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("child.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    entrustment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("entrustment.id"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """End of the period (calendar duties); None for on-demand ones, which only have task deadlines."""
    status: Mapped[str] = mapped_column(sa.String(16), default=CycleStatus.OPEN)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(sa.String(60))
    """What the cycle found: a grade, a dropout's return, a caregiver's capacity."""

    tasks: Mapped[list[Task]] = relationship(
        Task, primaryjoin="DutyCycle.instance_id == foreign(Task.instance_id)", viewonly=True,
        order_by="Task.id.desc()")
    """The tasks of the cycle's instance, newest first (read-only: the projection owns the task rows)."""

    @property
    def task(self) -> Task | None:
        """The cycle's current (latest) task: its record is the cycle's record once completed."""
        return self.tasks[0] if self.instance_id is not None and self.tasks else None


class EntrustmentStatus(StrEnum):
    PENDING_CHECK = "pending_check"
    CAPABLE = "capable"
    INADEQUATE = "inadequate"
    ENDED = "ended"


class Entrustment(Model):
    """Entrusted care (委托照护) and, for a non-relative, the entrusted-guardian agreement (004 三（一）1)."""

    __tablename__ = "entrustment"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("child.id"), index=True)
    caregiver_name: Mapped[str] = mapped_column(sa.String(100))
    relation: Mapped[str] = mapped_column(sa.String(40))
    is_relative: Mapped[bool] = mapped_column()
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    agreement_signed_on: Mapped[date | None] = mapped_column(sa.Date)
    filed_with_township: Mapped[bool] = mapped_column(default=False)
    filed_with_village: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(20), default=EntrustmentStatus.PENDING_CHECK)
    status_since: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def entrustment_data(entrustment: Entrustment) -> dict[str, Any]:
    """The caregiver fields a care check's process starts with (first check and follow-ups alike)."""
    return {
        "caregiver_name": entrustment.caregiver_name, "caregiver_relation": entrustment.relation,
        "caregiver_is_relative": entrustment.is_relative,
        "agreement_signed_on": entrustment.agreement_signed_on.isoformat() if entrustment.agreement_signed_on
        else None,
    }


class RosterImportStatus(StrEnum):
    CHECKED = "checked"
    """Dry run done; nothing written but this row and the stored file."""
    IMPORTED = "imported"


class RosterImport(Model):
    """One county ledger (台账) uploaded for import: its dry run, then (once confirmed) its import.

    The uploaded file is kept under ``<instance>/rosters/`` by a random name (``stored_name``) so the
    confirmation imports exactly the file that was checked (same ``sha256``), checked again against the
    database as it is then. An import happens once: confirming again is 409.
    """

    __tablename__ = "roster_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default=RosterImportStatus.CHECKED)
    rows: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    """Rows per outcome at the dry run (``create``, ``update``, ``unchanged``, ``refused``), then at the import."""
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
