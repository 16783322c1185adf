"""The enrolled children's calendar cycles, started in batches (``start_child_cycles``).

A county of a hundred thousand enrolled children starts a hundred thousand weekly contacts every
Monday, and as many home visits or assessments at the start of a month or half-year. Per batch of
``BATCH`` children of one duty, period and process version: one ``INSERT ... ON CONFLICT DO NOTHING
RETURNING`` of the cycle rows (the unique (duty, subject, period) keeps a cycle to one start however many
schedulers run: a second one waits on the first's rows and then skips them), one bulk start through the
workflow command layer (``workflow.bulk.start_many``: instances, tasks, timeline, notifications), one
UPDATE giving the cycles their instances and one INSERT of their audit rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from app.audit.operations import audit_many
from app.cases.models import Case, Child
from app.common.bulk import insert_many, update_many
from app.common.clock import instant, local
from app.common.collector import collector_paused
from app.extensions import db
from app.org.queries import county_code_for
from app.processes.models import ProcessInstance, ProcessSpec
from app.processes.queries import county_versions, current_spec
from app.workflow.bulk import Routes, Start, start_many

from .catalog import CHILD_CALENDAR_DUTIES, DUTIES
from .cycles import Period, period_of
from .frequencies import cadence_for, effective_frequencies
from .models import CycleStatus, DutyCycle, Enrolment
from .status import settle

BATCH = 1000
"""Children per transaction-sized batch: a few statements each, whatever its size."""


@dataclass(frozen=True)
class _Due:
    """A child whose cycle of one duty is due in this run."""

    child_id: int
    case_id: int
    region_id: int
    number: str
    name: str


def _enrolled(day: date) -> list[tuple[Enrolment, int, int, str | None, str | None, str]]:
    """(enrolment, case id, region, case number, grade, child's name) of every enrolment in force on ``day``."""
    rows = db.session.execute(
        sa.select(Enrolment, Case.id, Case.region_id, Case.number, Case.grade, Child.name)
        .join(Case, Case.id == Enrolment.case_id).join(Child, Child.id == Enrolment.child_id)
        .where(Enrolment.started_on <= day, sa.or_(Enrolment.ended_on.is_(None), Enrolment.ended_on > day))
        .order_by(Enrolment.id).options(lazyload(Enrolment.child)))  # the name is selected, not the Child
    return [(enrolment, case_id, region_id, number, grade, name)
            for enrolment, case_id, region_id, number, grade, name in rows]


def _overlapping(duty: str, period: Period) -> set[str]:
    """Subjects whose calendar cycle of ``duty`` for another period covers part of this one (a frequency
    changed): their cycle for this period would overlap it, so it does not start."""
    return set(db.session.scalars(sa.select(DutyCycle.subject).where(
        DutyCycle.duty == duty, DutyCycle.trigger == "calendar", DutyCycle.period != period.key,
        DutyCycle.period_start < period.end, DutyCycle.due_at > period.start)))


def start_child_cycles(at: datetime, tz: Any, existing: set[tuple[str, ...]]) -> int:
    """Start every enrolled child's weekly contact, home visit and assessment cycle due at ``at``.

    ``existing``: (duty, subject, period) of the cycles already there for the current periods (read once
    by the caller). Returns how many started. Flushes; the caller commits.
    """
    table = effective_frequencies()
    due: dict[tuple[str, str, Period], list[_Due]] = defaultdict(list)
    for enrolment, case_id, region_id, number, grade, name in _enrolled(at.astimezone(tz).date()):
        for duty in CHILD_CALENDAR_DUTIES:
            cadence = cadence_for(duty, enrolment, grade, table)
            if cadence is None:
                continue
            period = period_of(cadence, at, tz)
            if period.start.date() < enrolment.started_on:
                continue  # enrolling starts a duty at its next cycle
            if (duty, f"child:{enrolment.child_id}", period.key) in existing:
                continue
            due[(duty, cadence, period)].append(_Due(enrolment.child_id, case_id, region_id, number or "", name))
    started = 0
    counties: dict[int, str] = {}
    for (duty, cadence, period), children in due.items():
        overlapping = _overlapping(duty, period)
        children = [c for c in children if f"child:{c.child_id}" not in overlapping]
        process_key = DUTIES[duty].process_key
        routes = Routes(process_key, at)  # routing, due times and workers cached across the duty's batches
        for spec, group in _by_version(process_key, children, counties):
            for n in range(0, len(group), BATCH):
                with collector_paused():
                    started += _start_batch(duty, cadence, period, spec, group[n:n + BATCH], at, routes)
    return started


def _by_version(process_key: str, children: list[_Due],
                counties: dict[int, str]) -> Iterator[tuple[ProcessSpec, list[_Due]]]:
    """The children grouped by the version their county starts (its own, else the deployment's), as
    ``current_spec`` chooses it: two statements per process, one per region not seen in this run."""
    deployment = current_spec(process_key)
    own = county_versions(process_key)
    specs: dict[int, ProcessSpec] = {deployment.id: deployment} if deployment is not None else {}
    groups: dict[int, list[_Due]] = defaultdict(list)
    for child in children:
        spec_id: int | None = deployment.id if deployment is not None else None
        if own:
            if child.region_id not in counties:
                counties[child.region_id] = county_code_for(child.region_id)
            spec_id = own.get(counties[child.region_id], spec_id)
        if spec_id is None:
            continue  # not deployed: ``start_cycle`` logs it for the per-child starts; nothing to start here
        if spec_id not in specs:
            found = db.session.get(ProcessSpec, spec_id)
            assert found is not None
            specs[spec_id] = found
        groups[spec_id].append(child)
    for spec_id, group in groups.items():
        yield specs[spec_id], group


def _start_batch(duty: str, cadence: str, period: Period, spec: ProcessSpec, children: Sequence[_Due],
                 at: datetime, routes: Routes) -> int:
    """Insert the batch's cycle rows (skipping any another run inserted), start their instances in bulk,
    link them, audit them."""
    definition = DUTIES[duty]
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    rows = [{"duty": duty, "subject": f"child:{c.child_id}", "period": period.key, "trigger": "calendar",
             "child_id": c.child_id, "region_id": None, "case_id": c.case_id, "entrustment_id": None,
             "period_start": start, "due_at": end, "status": CycleStatus.OPEN.value, "started_at": at}
            for c in children]
    written = {subject: cycle_id for cycle_id, subject in insert_many(
        DutyCycle, rows, returning=("id", "subject"), skip_conflicts_on=("duty", "subject", "period"))}
    mine = [c for c in children if f"child:{c.child_id}" in written]
    if not mine:
        return 0
    common = {"duty": duty, "duty_name": definition.name_zh, "period": period.key,
              "duty_deadline": instant(end), "duty_due_local": local(end).strftime("%Y-%m-%d %H:%M"),
              "cadence": cadence}
    starts = [Start(c.case_id, c.region_id, c.number, {"case_number": c.number, "subject": c.name}) for c in mine]
    instance_ids, stamped = start_many(spec, common, starts, None, routes)
    cycle_ids = [written[f"child:{c.child_id}"] for c in mine]
    update_many(DutyCycle, "id", [{"id": cycle_id, "instance_id": instance_id}
                                  for cycle_id, instance_id in zip(cycle_ids, instance_ids, strict=True)])
    audit_many([{"user_id": None, "action": "create", "object_type": "duty_cycle", "object_id": str(cycle_id),
                 "case_id": c.case_id, "detail": {"duty": duty, "period": period.key}}
                for cycle_id, c in zip(cycle_ids, mine, strict=True)])
    if not stamped:  # started one by one: an instance may have ended at once (a stamped start never does)
        _settle_ended(instance_ids)
    return len(mine)


def _settle_ended(instance_ids: list[int]) -> None:
    """A cycle whose instance ended at its start (a process without a wait) is settled, as ``start_cycle``
    does; one read finds them."""
    ended = db.session.scalars(sa.select(DutyCycle).join(ProcessInstance, ProcessInstance.id == DutyCycle.instance_id)
                               .where(DutyCycle.instance_id.in_(instance_ids),
                                      ProcessInstance.status != "running")).all()
    for cycle in ended:
        settle(cycle)
