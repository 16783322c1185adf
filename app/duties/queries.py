"""Reads about duties: a child's programme record and visit file, cycle lists for supervisors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from app.cases.models import Case, Child
from app.common.clock import county_zone
from app.common.errors import Forbidden, NotFound
from app.extensions import db
from app.org.models import Region, User
from app.org.queries import region_by_code
from app.org.roles import Role
from app.tasks.models import Task

from .catalog import DUTIES
from .models import DutyCycle, Enrolment, Entrustment


@dataclass
class CycleFilter:
    duty: str | None = None
    status: str | None = None
    child_id: int | None = None
    region_id: int | None = None
    """Children of villages under this region, and the region's own work file."""
    since: datetime | None = None
    until: datetime | None = None
    """Cycles whose period overlaps [since, until): it starts before ``until`` and ends after ``since`` (an
    on-demand cycle, which has no end, started in the range)."""
    unit_id: int | None = None
    """Cycles with a step in this unit's queue (the village committee that visits, the school that persuades)."""


def cycle_query(f: CycleFilter) -> sa.Select[DutyCycle]:
    stmt = sa.select(DutyCycle)
    if f.duty:
        stmt = stmt.where(DutyCycle.duty == f.duty)
    if f.status:
        stmt = stmt.where(DutyCycle.status == f.status)
    if f.child_id is not None:
        stmt = stmt.where(DutyCycle.child_id == f.child_id)
    if f.until is not None:
        stmt = stmt.where(DutyCycle.period_start < f.until)
    if f.since is not None:
        stmt = stmt.where(sa.or_(DutyCycle.due_at > f.since,
                                 sa.and_(DutyCycle.due_at.is_(None), DutyCycle.period_start >= f.since)))
    if f.unit_id is not None:
        stmt = stmt.where(DutyCycle.instance_id.in_(sa.select(Task.instance_id).where(Task.unit_id == f.unit_id)))
    if f.region_id is not None:
        region_ids = _region_and_below(f.region_id)
        stmt = stmt.join(Case, Case.id == DutyCycle.case_id).where(Case.region_id.in_(region_ids))
    return stmt.order_by(DutyCycle.period_start.desc(), DutyCycle.id.desc())


CYCLE_READERS = (Role.COUNTY_COORDINATOR, Role.ADMIN, Role.CHILD_SUPERVISOR, Role.CHILD_DIRECTOR)


def cycle_area(user: User, region_code: str | None = None) -> int:
    """The region whose cycles the user lists: their jurisdiction, or a region in it named by code.
    403 for other roles and outside it, 404 for an unknown code (the page and the API alike)."""
    if not user.has_role(*CYCLE_READERS):
        raise Forbidden("duty cycles are for child directors, supervisors and coordinators")
    region_id = user.region_id
    if region_code:
        region = region_by_code(region_code)
        if region is None:
            raise NotFound(f"region {region_code} not found")
        if user.region_id not in [r.id for r in region.ancestry()]:
            raise Forbidden("that region is outside your jurisdiction")
        region_id = region.id
    if region_id is None:
        raise Forbidden("you have no jurisdiction")
    return region_id


def day_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """Days (county time, both included) as the instants [since, until) ``CycleFilter`` compares."""
    zone = county_zone()
    since = datetime.combine(first, time(0, 0), tzinfo=zone).astimezone(UTC) if first else None
    until = (datetime.combine(last + timedelta(days=1), time(0, 0), tzinfo=zone).astimezone(UTC)
             if last else None)
    return since, until


def _region_and_below(region_id: int) -> list[int]:
    ids = [region_id]
    frontier = [region_id]
    while frontier:
        frontier = list(db.session.scalars(sa.select(Region.id).where(Region.parent_id.in_(frontier))))
        ids += frontier
    return ids


def cycle_view(cycle: DutyCycle) -> dict[str, Any]:
    """A cycle for the programme record, whose visit records the API may cut (``CycleOut`` dumps the rest)."""
    task = cycle.task
    return {
        "id": cycle.id, "duty": cycle.duty, "duty_name": DUTIES[cycle.duty].name_zh, "period": cycle.period,
        "trigger": cycle.trigger, "subject": cycle.subject, "case_id": cycle.case_id, "status": cycle.status,
        "period_start": cycle.period_start, "due_at": cycle.due_at, "started_at": cycle.started_at,
        "completed_at": cycle.completed_at, "missed_at": cycle.missed_at, "outcome": cycle.outcome,
        "task_id": task.id if task else None,
        "record": task.data if task is not None and task.state == "completed" else None,
    }


def child_programme(child: Child) -> dict[str, Any]:
    """The child's programme record: enrolments, entrusted care, and every duty cycle with its record."""
    enrolments = db.session.scalars(sa.select(Enrolment).where(Enrolment.child_id == child.id)
                                    .order_by(Enrolment.id)).all()
    entrustments = db.session.scalars(sa.select(Entrustment).where(Entrustment.child_id == child.id)
                                      .order_by(Entrustment.id)).all()
    cycles = db.session.scalars(cycle_query(CycleFilter(child_id=child.id))).all()
    care = db.session.scalar(sa.select(Case).where(Case.child_id == child.id, Case.kind == "care"))
    return {
        "child_id": child.id, "care_case_id": care.id if care else None,
        "grade": care.grade if care else None, "help_tier": care.help_tier if care else None,
        "enrolments": [{
            "id": e.id, "child_id": e.child_id, "case_id": e.case_id, "cycles_cancelled": 0, "tags": e.tags, "key_reasons": e.key_reasons, "started_on": e.started_on,
            "start_reason": e.start_reason, "ended_on": e.ended_on, "end_reason": e.end_reason}
            for e in enrolments],
        "entrustments": [{
            "id": e.id, "child_id": e.child_id, "caregiver_name": e.caregiver_name, "relation": e.relation, "is_relative": e.is_relative,
            "agreement_signed_on": e.agreement_signed_on, "filed_with_township": e.filed_with_township,
            "filed_with_village": e.filed_with_village, "status": e.status, "status_since": e.status_since}
            for e in entrustments],
        "cycles": [cycle_view(c) for c in cycles],
    }
