"""The cases recurring duties run on: a child's care file and a region's work file."""

from __future__ import annotations

import sqlalchemy as sa

from app.cases.models import Case, Child
from app.cases.timeline import record
from app.common.clock import local_today, now
from app.extensions import db
from app.org.models import Region

from .models import Enrolment


def _number(case: Case) -> None:
    case.number = f"LD{local_today().year}{case.id:06d}"


def care_file_for(child: Child) -> Case:
    """The child's programme file (一人一档): one per child, reopened when they re-enrol."""
    case = db.session.scalar(sa.select(Case).where(Case.child_id == child.id, Case.kind == "care"))
    if case is None:
        case = Case(child=child, region_id=child.village_id, kind="care", situation="", status="open",
                    title=f"{child.name} 关爱服务档案", opened_at=now())
        db.session.add(case)
        db.session.flush()
        _number(case)
        record(case, "file_opened", "建立儿童关爱服务档案（一人一档）")
    return case


def work_file_for(region: Region) -> Case:
    """A township's or the county's work file (工作台账): where region-level duties run."""
    case = db.session.scalar(sa.select(Case).where(Case.region_id == region.id, Case.kind == "work"))
    if case is None:
        case = Case(child=None, region_id=region.id, kind="work", situation="", status="open",
                    title=f"{region.name}儿童关爱保护工作台账", opened_at=now())
        db.session.add(case)
        db.session.flush()
        _number(case)
        record(case, "file_opened", case.title)
    return case


def active_enrolment(child_id: int) -> Enrolment | None:
    return db.session.scalar(sa.select(Enrolment).where(Enrolment.child_id == child_id,
                                                        Enrolment.ended_on.is_(None)))
