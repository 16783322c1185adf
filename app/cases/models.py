"""Children, guardians, reports, cases and the case timeline."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.common.types import JSONType, UTCDateTime
from app.extensions import Model
from app.org.kinds import RegionLevel
from app.org.models import Region, Unit, User

from .identity import normalise_id_number, phone_digits


class Situation(StrEnum):
    """The mandatory-report triggers of DOMAIN.md section 3.1."""

    LIVING_ALONE = "living_alone"
    GUARDIAN_INCAPABLE = "guardian_incapable"
    MISSING = "missing"
    DOMESTIC_VIOLENCE = "domestic_violence"
    OTHER_HARM = "other_harm"
    PARENT_DETAINED = "parent_detained"
    """Police who detain a parent (guardian) record each minor child left needing care as a report of this kind
    (reporter type ``police``): after the station's triage the process goes to the care arrangement
    (``police_guardian_incapable``: the other parent, entrusted relatives, or temporary care)."""


class ReporterType(StrEnum):
    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"
    MEDICAL = "medical"
    VILLAGE_COMMITTEE = "village_committee"
    SOCIAL_WORK = "social_work"
    RESCUE_INSTITUTION = "rescue_institution"
    HOTLINE_12355 = "hotline_12355"
    POLICE = "police"
    OTHER = "other"


MANDATORY_REPORTERS = frozenset({
    ReporterType.SCHOOL, ReporterType.KINDERGARTEN, ReporterType.MEDICAL, ReporterType.VILLAGE_COMMITTEE,
    ReporterType.SOCIAL_WORK, ReporterType.RESCUE_INSTITUTION})
"""The mandatory reporters (强制报告主体) of 001 二（一）6 and 004 三（二）2: schools, kindergartens, medical
institutions, village committees, social-work agencies, rescue and welfare institutions. Their reports say when
they learned of the situation and are flagged when late (``lateness``); a 12355 caller, the police or another
person is not held to a time."""


class ChildTag(StrEnum):
    """Left-behind and the difficulty sub-types of DOMAIN.md section 1; a child may carry several."""

    LEFT_BEHIND = "left_behind"
    ORPHAN = "orphan"
    DE_FACTO_UNSUPPORTED = "de_facto_unsupported"
    HIV = "hiv"
    SEVERELY_DISABLED = "severely_disabled"
    SERIOUSLY_ILL = "seriously_ill"
    LOW_INCOME = "low_income"
    HARMED_BY_GUARDIAN = "harmed_by_guardian"
    STREET_CHILD = "street_child"
    EMERGENCY_AFFECTED = "emergency_affected"


class Child(Model):
    """One child, one file (一人一档): every report, case and visit about the child hangs off this row.

    ``id_number_norm`` and ``county_id`` are kept by the model itself (``app.cases.matching``), so every
    way a child is made (intake, programme enrolment, an import) obeys the one-file-per-ID rule: the unique
    index makes a second child with the same ID number in the same county impossible, even for two
    reports sent at the same instant.
    """

    __tablename__ = "child"
    __table_args__ = (
        sa.UniqueConstraint("county_id", "id_number_norm", name="uq_child_county_id_number"),
        sa.Index("ix_child_village_birth", "village_id", "birth_date"),
        sa.Index("ix_child_id_number_norm", "id_number_norm"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    sex: Mapped[str] = mapped_column(sa.String(10))
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    id_number: Mapped[str | None] = mapped_column(sa.String(32))
    """Resident ID number as written: sensitive, shown only to roles that need it."""
    id_number_norm: Mapped[str | None] = mapped_column(sa.String(32))
    """``matching.normalise_id_number(id_number)``: half-width, no spaces, upper-case X, 15 digits widened
    to 18. Set whenever ``id_number`` is; what duplicates and searches compare."""
    county_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"), index=True)
    """The county of ``village``: the scope of the one-file-per-ID rule (several counties share a deployment)."""
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("child.id"))
    """Set while this file is merged into another (``ChildMerge``): searches skip it, a report naming its
    ID number goes to the kept file."""
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    school: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    """The school or kindergarten the child attends, as the county's ledger names it ("" unknown)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    village: Mapped[Region] = relationship(foreign_keys=[village_id])
    guardians: Mapped[list[Guardian]] = relationship(back_populates="child", cascade="all, delete-orphan",
                                                     order_by="Guardian.id")

    @validates("id_number")
    def _keep_id_number_norm(self, _key: str, value: str | None) -> str | None:
        self.id_number_norm = normalise_id_number(value)
        return value

    @validates("village")
    def _keep_county(self, _key: str, village: Region | None) -> Region | None:
        county = next((r for r in village.ancestry() if r.level == RegionLevel.COUNTY), None) if village else None
        self.county_id = county.id if county is not None else None
        return village

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


class Guardian(Model):
    __tablename__ = "guardian"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(sa.ForeignKey("child.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    relation: Mapped[str] = mapped_column(sa.String(40))
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    phone_digits: Mapped[str] = mapped_column(sa.String(40), default="", server_default="", index=True)
    """``phone`` with only its digits (kept by the model): what a search by phone compares."""
    working_away: Mapped[bool] = mapped_column(default=False)
    lives_with_child: Mapped[bool] = mapped_column(default=False)

    child: Mapped[Child] = relationship(back_populates="guardians")

    @validates("phone")
    def _keep_phone_digits(self, _key: str, value: str | None) -> str | None:
        self.phone_digits = phone_digits(value)
        return value


class Case(Model):
    """One protection case about one child, carried by one or more process instances."""

    __tablename__ = "case_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    child_id: Mapped[int | None] = mapped_column(sa.ForeignKey("child.id"), index=True)
    """None only for a region's work file (``kind == "work"``)."""
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    """The child's village at intake: routing walks up from here (a work file: its township or county)."""
    kind: Mapped[str] = mapped_column(sa.String(16), default="protection", server_default="protection")
    """``protection`` (opened by a report), ``care`` (a child's programme file: recurring duties, visit
    records) or ``work`` (a township's or the county's work file: data comparison, annual report)."""
    title: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    situation: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    grade: Mapped[str | None] = mapped_column(sa.String(16))
    help_tier: Mapped[str | None] = mapped_column(sa.String(16))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    child: Mapped[Child | None] = relationship(lazy="joined")
    region: Mapped[Region] = relationship()
    reports: Mapped[list[Report]] = relationship(back_populates="case", order_by="Report.id",
                                                 foreign_keys="Report.case_id")

    @property
    def subject(self) -> str:
        """What the case is about, for lists: the child's name, or a work file's title."""
        return self.child.name if self.child is not None else self.title


class Report(Model):
    """A mandatory report or hotline call; every accepted report is kept."""

    __tablename__ = "report"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    reporter_type: Mapped[str] = mapped_column(sa.String(32))
    reporter_name: Mapped[str] = mapped_column(sa.String(100), default="")
    reporter_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    reporter_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    situation: Mapped[str] = mapped_column(sa.String(32))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    """A client's key for this submission: a retried POST returns the first case, not a second."""
    duplicate_of_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case_file.id"))
    """Filed although the same person reported the same child minutes before (that case): a possible
    duplicate the filer confirmed as new, flagged for whoever works the case."""

    case: Mapped[Case] = relationship(back_populates="reports", foreign_keys=[case_id])
    learned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the reporter learned of the situation (stated by them; None: not stated, as a hotline caller may)."""
    late: Mapped[bool] = mapped_column(default=False, server_default=sa.false(), index=True)
    """A mandatory reporter filed it more than the county's ``late_report_hours`` after ``learned_at``: decided
    when filed, with the hours then in force (kept in the timeline entry), so a later change of the setting
    does not rewrite what was found."""

    duplicate_of: Mapped[Case | None] = relationship(foreign_keys=[duplicate_of_case_id])
    reporter_unit: Mapped[Unit | None] = relationship()
    submitted_by: Mapped[User | None] = relationship()


class TimelineEntry(Model):
    """One thing that happened on a case: who, which unit, when, what, outcome."""

    __tablename__ = "timeline_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(sa.String(40))
    summary: Mapped[str] = mapped_column(sa.String(500))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    task_id: Mapped[int | None] = mapped_column()
    """The task it is about; no foreign key: its writer holds that task row, and a task is never deleted
    (migration d4f7b2e9a6c1, docs/deadlines-and-escalation.md)."""
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    actor: Mapped[User | None] = relationship()
    unit: Mapped[Unit | None] = relationship()


class ChildMerge(Model):
    """A coordinator merged one child's file into another's: what moved, so an unmerge restores exactly it."""

    __tablename__ = "child_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    kept_id: Mapped[int] = mapped_column(sa.ForeignKey("child.id"), index=True)
    merged_id: Mapped[int] = mapped_column(sa.ForeignKey("child.id"), index=True)
    case_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    """The merged child's case files moved to the kept child (with their reports, tasks and visits)."""
    moved: Mapped[dict[str, list[int]]] = mapped_column(JSONType, default=dict, server_default="{}")
    """Rows of other packages re-pointed to the kept child, by table (``events.children_merged`` receivers
    fill it; an unmerge puts exactly these back)."""
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    merged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    """None: the migration that brought in the one-file-per-ID rule merged files sharing an ID number."""
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    kept: Mapped[Child] = relationship(foreign_keys=[kept_id])
    merged: Mapped[Child] = relationship(foreign_keys=[merged_id])


class FindingKind(StrEnum):
    FAILED = "failed"
    """The mandatory reporter knew and never reported (someone else did, or the case came to light otherwise)."""
    DELAYED = "delayed"
    """The mandatory reporter reported, but later than at once (a late report, or one found late afterwards)."""


class ReportingFinding(Model):
    """A coordinator's finding that a mandatory reporter failed or delayed reporting (issue 15 part 5).

    Routed when recorded to the unit that supervises the reporter (``org.queries.supervising_unit``), whose
    people find it in their findings list and answer it with what they did (held to account, 严肃追责).
    It names the reporter's unit and person and what they knew since when; the child is not part of it (the
    supervising unit needs the conduct, not the child: the case number opens the case only for those who may).
    """

    __tablename__ = "reporting_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report.id"))
    """The late report, for a delay found on one."""
    kind: Mapped[str] = mapped_column(sa.String(16))
    reporter_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    person: Mapped[str] = mapped_column(sa.String(100))
    """Who knew: the person and their post as the coordinator found them ("班主任 王某")."""
    knew_since: Mapped[datetime] = mapped_column(UTCDateTime())
    facts: Mapped[str] = mapped_column(sa.Text)
    """What was found: what the reporter knew, what they did, and when."""
    supervising_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    response: Mapped[str | None] = mapped_column(sa.Text)
    """What the supervising unit did about it (None: not answered yet)."""
    responded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship()
    report: Mapped[Report | None] = relationship()
    reporter_unit: Mapped[Unit] = relationship(foreign_keys=[reporter_unit_id])
    supervising_unit: Mapped[Unit] = relationship(foreign_keys=[supervising_unit_id])
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id])
