"""``start_due_duties``: start the cycles that are due, mark and escalate missed ones.

Idempotent: every cycle is one ``duty_cycle`` row, unique per (duty, subject,
period), inserted with ``ON CONFLICT DO NOTHING`` before its instance starts;
running the scheduler twice for the same moment, or two schedulers at once,
starts each cycle once. Periods are computed in the county's timezone. The
scheduler must run at least once a day (the sweep loop runs it every few
minutes); a period it never ran in is not started late.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.cases.models import Case, Child
from app.common.clock import county_zone, instant, local, now
from app.common.dialect import insert_ignore
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region, User
from app.processes.models import ProcessInstance
from app.processes.queries import current_spec
from app.workflow import commands as workflow

from .bulk import start_child_cycles
from .catalog import (
    ANNUAL_REPORT_DUE,
    ANNUAL_REPORT_OPENS,
    DATA_COMPARISON_CADENCE,
    DUTIES,
    ENTRUSTED_CARE_FOLLOW_UP,
    VILLAGE_VERIFICATION_CADENCE,
)
from .cycles import CADENCES, Period, period_of
from .escalation import escalate_missed
from .files import work_file_for
from .models import CycleStatus, DutyCycle, Enrolment, Entrustment, EntrustmentStatus, entrustment_data
from .status import fulfilled_many, settle

log = logging.getLogger(__name__)
T = TypeVar("T")

SUPERSEDED = "下一周期也已到期，撤回本周期任务（仍记为未按期完成）"


def _insert_cycle(values: dict[str, Any]) -> int | None:
    """Insert a cycle row unless one exists for (duty, subject, period); the new id, or None."""
    stmt = insert_ignore(DutyCycle, values, ["duty", "subject", "period"]).returning(DutyCycle.id)
    return db.session.execute(stmt).scalar()


def start_cycle(duty: str, subject: str, period: str, case: Case, *, trigger: str = "calendar",
                period_start: datetime | None = None, due_at: datetime | None = None,
                child_id: int | None = None, region_id: int | None = None, entrustment_id: int | None = None,
                data: dict[str, Any] | None = None, actor: User | None = None) -> DutyCycle | None:
    """Start one cycle's instance on ``case``; None when the cycle exists or the process is not deployed."""
    definition = DUTIES[duty]
    spec = current_spec(definition.process_key, case.region_id)  # the county's own version, if it has one
    if spec is None:
        log.warning("duty %s: process %s is not deployed; run `flask processes deploy`", duty,
                    definition.process_key)
        return None
    at = now()
    cycle_id = _insert_cycle({
        "duty": duty, "subject": subject, "period": period, "trigger": trigger, "child_id": child_id,
        "region_id": region_id, "case_id": case.id, "entrustment_id": entrustment_id,
        "period_start": period_start or at, "due_at": due_at, "status": CycleStatus.OPEN.value,
        "started_at": at,
    })
    if cycle_id is None:
        return None
    cycle = db.session.get(DutyCycle, cycle_id)
    assert cycle is not None
    start_data: dict[str, Any] = {"duty": duty, "duty_name": definition.name_zh, "period": period}
    if due_at is not None:
        start_data["duty_deadline"] = instant(due_at)
        start_data["duty_due_local"] = local(due_at).strftime("%Y-%m-%d %H:%M")
    start_data.update(data or {})
    # The child's own values last, as a bulk start stamps them (the same state, key order included).
    start_data.setdefault("case_number", case.number)
    start_data.setdefault("subject", case.subject)
    instance = workflow.start(case, spec, start_data, actor)
    cycle.instance_id = instance.id
    settle(cycle)
    db.session.flush()
    return cycle


def _overlaps(duty: str, subject: str, period: Period) -> bool:
    """A calendar cycle of this duty already covers part of ``period`` (e.g. after a frequency change)."""
    return bool(db.session.scalar(sa.select(sa.exists().where(
        DutyCycle.duty == duty, DutyCycle.subject == subject, DutyCycle.trigger == "calendar",
        DutyCycle.period_start < period.end, DutyCycle.due_at > period.start))))


class _Run:
    """One scheduler run. Loads, in one query, which cycles already exist for the periods current at
    ``at``, so a county of thousands of children costs a query per new cycle, not per child and duty."""

    def __init__(self, at: datetime, tz: ZoneInfo) -> None:
        self.at, self.tz = at, tz
        keys = {period_of(c, at, tz).key for c in CADENCES} | {str(at.astimezone(tz).year)}
        self.existing = {tuple(row) for row in db.session.execute(
            sa.select(DutyCycle.duty, DutyCycle.subject, DutyCycle.period).where(DutyCycle.period.in_(keys)))}

    def start(self, duty: str, subject: str, period: Period, case: Callable[[], Case],
              data: Callable[[], dict[str, Any]] | None = None, **kw: Any) -> int:
        """Start the calendar cycle unless it exists or an earlier cycle already covers part of the period."""
        if (duty, subject, period.key) in self.existing or _overlaps(duty, subject, period):
            return 0
        cycle = start_cycle(duty, subject, period.key, case(), period_start=period.start.astimezone(UTC),
                            due_at=period.end.astimezone(UTC), data=data() if data else None, **kw)
        self.existing.add((duty, subject, period.key))
        return 1 if cycle is not None else 0


def active_enrolments(day: date) -> list[tuple[Enrolment, Case]]:
    """Enrolments in force on ``day``, each with the child's care file."""
    rows = db.session.execute(
        sa.select(Enrolment, Case).join(Case, Case.id == Enrolment.case_id).where(
            Enrolment.started_on <= day, sa.or_(Enrolment.ended_on.is_(None), Enrolment.ended_on > day))
        .order_by(Enrolment.id))
    return [(enrolment, case) for enrolment, case in rows]


def _entrusted_care_follow_ups(run: _Run) -> int:
    """While a caregiver is found inadequate, the village committee checks again every month."""

    started = 0
    period = period_of(ENTRUSTED_CARE_FOLLOW_UP, run.at, run.tz)
    rows = db.session.execute(
        sa.select(Entrustment, Case).join(Case, sa.and_(Case.child_id == Entrustment.child_id, Case.kind == "care"))
        .where(Entrustment.status == EntrustmentStatus.INADEQUATE, Case.status == "open").order_by(Entrustment.id))
    for entrustment, case in rows:
        if period.start <= entrustment.status_since.astimezone(run.tz):
            continue  # found inadequate this month: the follow-up starts next month
        started += run.start("entrusted_care_check", f"child:{entrustment.child_id}", period, partial(_given, case),
                             partial(_follow_up_data, entrustment),
                             child_id=entrustment.child_id, entrustment_id=entrustment.id)
    return started


FIRST_CHECKS_PER_RUN = 200
"""Entrusted caregivers recorded without a check started (a roster import) whose first check one run starts."""


def _first_care_checks(run: _Run) -> int:
    """The village committee's first check of caregivers recorded by a roster import, a batch per run.

    ``operations.record_entrustment`` starts the check at once; an import of thousands of children records
    their caregivers as awaiting a check and leaves the starting here, oldest first, so the runs after an
    import work through them (the cycle's period ``entrustment:<id>`` is the same, so none starts twice).
    """
    started = 0
    has_check = sa.exists().where(DutyCycle.duty == "entrusted_care_check", DutyCycle.entrustment_id == Entrustment.id)
    rows = db.session.execute(
        sa.select(Entrustment, Case).join(Case, sa.and_(Case.child_id == Entrustment.child_id, Case.kind == "care"))
        .where(Entrustment.status == EntrustmentStatus.PENDING_CHECK, Case.status == "open", ~has_check)
        .order_by(Entrustment.id).limit(FIRST_CHECKS_PER_RUN)).all()
    for entrustment, case in rows:
        cycle = start_cycle("entrusted_care_check", f"child:{entrustment.child_id}", f"entrustment:{entrustment.id}",
                            case, trigger="on_demand", child_id=entrustment.child_id, entrustment_id=entrustment.id,
                            data=entrustment_data(entrustment))
        started += 1 if cycle is not None else 0
    return started


def _region_cycles(run: _Run) -> int:
    started = 0
    local = run.at.astimezone(run.tz)
    for county in db.session.scalars(sa.select(Region).where(Region.level == RegionLevel.COUNTY)):
        period = period_of(DATA_COMPARISON_CADENCE, run.at, run.tz)
        started += run.start("data_comparison", f"region:{county.id}", period, partial(work_file_for, county),
                             partial(_programme_counts, county), region_id=county.id)
    started += _village_verifications(run)
    opens = datetime(local.year, *ANNUAL_REPORT_OPENS, tzinfo=run.tz)
    due = datetime(local.year, *ANNUAL_REPORT_DUE, tzinfo=run.tz)
    if opens <= local < due:
        period = Period(str(local.year), opens, due)
        for township in db.session.scalars(sa.select(Region).where(Region.level == RegionLevel.TOWNSHIP)):
            started += run.start("annual_report", f"region:{township.id}", period,
                                 partial(work_file_for, township), partial(_given, {"report_year": local.year}),
                                 region_id=township.id)
    return started


def _village_verifications(run: _Run) -> int:
    """Each village with children in the programme verifies them every quarter and files it to the township
    (001 二（一）6); a village without any has nothing to verify."""
    started = 0
    period = period_of(VILLAGE_VERIFICATION_CADENCE, run.at, run.tz)
    day = run.at.astimezone(run.tz).date()
    counts = db.session.execute(
        sa.select(Child.village_id, sa.func.count(Enrolment.id))
        .join(Enrolment, Enrolment.child_id == Child.id)
        .where(Enrolment.started_on <= day, sa.or_(Enrolment.ended_on.is_(None), Enrolment.ended_on > day))
        .group_by(Child.village_id)).all()
    villages = {v.id: v for v in db.session.scalars(sa.select(Region).where(Region.id.in_([c[0] for c in counts])))}
    for village_id, count in sorted(counts):
        village = villages[village_id]
        started += run.start("village_verification", f"region:{village_id}", period, partial(work_file_for, village),
                             partial(_given, {"programme_children": int(count)}), region_id=village_id)
    return started


def _given(value: T) -> T:
    """Bound with ``partial`` now: a lambda in the loop would see the last iteration's value."""
    return value


def _follow_up_data(entrustment: Entrustment) -> dict[str, Any]:
    """Read only when the cycle really starts (an existing cycle skips it)."""
    return {**entrustment_data(entrustment), "follow_up": True}


def _programme_counts(county: Region) -> dict[str, Any]:
    """Civil affairs' own list for the comparison: children in the programme per township."""

    village = sa.orm.aliased(Region)
    rows = db.session.execute(
        sa.select(Region.name, sa.func.count(Enrolment.id))
        .join(village, village.parent_id == Region.id)
        .join(Child, Child.village_id == village.id)
        .join(Enrolment, sa.and_(Enrolment.child_id == Child.id, Enrolment.ended_on.is_(None)))
        .where(Region.parent_id == county.id).group_by(Region.name).order_by(Region.name)).all()
    return {"programme_children": {name: count for name, count in rows},
            "programme_total": sum(count for _, count in rows)}


def sweep_cycles(at: datetime) -> int:
    """Mark cycles whose due time passed: done, late or missed (escalated once); withdraw superseded ones.

    Returns the number of cycles newly marked missed.
    """
    missed = 0
    early = [d.code for d in DUTIES.values() if d.done_step is not None]
    candidates = db.session.scalars(sa.select(DutyCycle).where(
        DutyCycle.status == CycleStatus.OPEN,
        sa.or_(sa.and_(DutyCycle.due_at.is_not(None), DutyCycle.due_at <= at), DutyCycle.duty.in_(early)))
        .order_by(DutyCycle.id)).all()
    found, statuses = fulfilled_many(candidates)
    for cycle in candidates:
        if settle(cycle, found.get(cycle.id)) or cycle.due_at is None or cycle.due_at > at:
            continue
        if cycle.instance_id is not None and statuses.get(cycle.instance_id) == "cancelled":
            cycle.status = CycleStatus.CANCELLED
            continue
        cycle.status = CycleStatus.MISSED
        cycle.missed_at = at
        escalate_missed(cycle)
        missed += 1
    superseded = db.session.scalars(_superseded_statement(), {"at": at}).all()
    for cycle in superseded:
        instance = db.session.get(ProcessInstance, cycle.instance_id)
        assert instance is not None
        workflow.cancel(instance, None, SUPERSEDED)
    db.session.flush()
    return missed


@functools.cache
def _superseded_statement() -> sa.Select[DutyCycle]:
    """Missed cycles still running whose next calendar cycle is also due by ``:at``. Built once: the alias and the
    EXISTS cost more CPU to construct than the statement takes to run on a small county."""
    newer = sa.orm.aliased(DutyCycle)
    at = sa.bindparam("at", type_=DutyCycle.due_at.type)
    return (sa.select(DutyCycle).join(ProcessInstance, ProcessInstance.id == DutyCycle.instance_id)
            .where(DutyCycle.status == CycleStatus.MISSED, ProcessInstance.status == "running",
                   sa.exists().where(newer.duty == DutyCycle.duty, newer.subject == DutyCycle.subject,
                                     newer.trigger == "calendar", newer.period_start > DutyCycle.period_start,
                                     newer.due_at <= at))
            .order_by(DutyCycle.id))


def start_due_duties(at: datetime) -> int:
    """Start every recurring-duty cycle due at ``at``; returns how many started. Flushes; the caller commits.

    First sweeps cycles whose period ended (missed ones are escalated to the
    township child supervisor), then starts, per enrolled child, the weekly
    contact, home visit and assessment cycles of their cadence; monthly
    entrusted-care follow-ups; the first checks of imported caregivers (a batch); the county's quarterly data comparison;
    each village's quarterly verification (villages with children in the programme); and from 1 October each
    township's annual progress report.
    """
    if at.tzinfo is None:
        raise ValueError("start_due_duties needs an aware datetime")
    sweep_cycles(at)
    run = _Run(at, county_zone())
    started = (start_child_cycles(at, run.tz, run.existing) + _entrusted_care_follow_ups(run)
               + _first_care_checks(run) + _region_cycles(run))
    db.session.flush()
    return started


__all__ = ["start_cycle", "start_due_duties", "sweep_cycles"]
