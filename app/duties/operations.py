"""Writes: care and work files, enrolment ("dynamic management"), on-demand duties. Operations flush."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from app.audit.operations import audit
from app.cases.matching import ChildFacts, match_child
from app.cases.models import Case, Child, Guardian
from app.cases.timeline import record
from app.common.clock import local_today, now
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region, User
from app.org.queries import region_by_code
from app.org.roles import Role
from app.processes.models import ProcessInstance
from app.workflow import commands as workflow

from .catalog import KEY_REASONS
from .files import active_enrolment, care_file_for
from .models import (
    CycleStatus,
    DutyCycle,
    EndReason,
    Enrolment,
    Entrustment,
    EntrustmentStatus,
    StartReason,
    entrustment_data,
)
from .scheduler import start_cycle

CANCEL_ON_LEAVING = ("weekly_contact", "home_visit", "assessment", "entrusted_care_check")
"""Duties that end with programme membership; a dropout's return to school is followed to the end."""


def _within(region: Region, jurisdiction_id: int | None) -> bool:
    return jurisdiction_id is not None and any(r.id == jurisdiction_id for r in region.ancestry())


def ensure_can_manage_child(user: User, child: Child) -> None:
    """Child directors and supervisors of the child's village/township, county coordinators and civil affairs'
    liaisons and head (not a reporter-only member of the bureau: need to know, ``app.cases.access``)."""
    if user.has_role(Role.COUNTY_COORDINATOR, Role.ADMIN, Role.CHILD_DIRECTOR, Role.CHILD_SUPERVISOR) \
            and _within(child.village, user.region_id):
        return
    if user.unit is not None and user.unit.kind == "civil_affairs" and user.has_role(Role.LIAISON, Role.UNIT_HEAD) \
            and _within(child.village, user.unit.region_id):
        return
    raise Forbidden("you do not manage this child's programme membership")


def enrol(child: Child, actor: User | None, *, tags: list[str], key_reasons: list[str] | None = None,
          start_reason: str = StartReason.NEW_CHILD_FOUND, started_on: date | None = None,
          note: str = "") -> Enrolment:
    """Add a child to the programme; their recurring duties start at the next cycle of each."""
    if active_enrolment(child.id) is not None:
        raise Conflict(f"{child.name} is already in the programme")
    unknown = sorted(set(key_reasons or []) - KEY_REASONS)
    if unknown:
        raise Invalid("unknown key reason", {"key_reasons": [f"unknown: {', '.join(unknown)}"]})
    case = care_file_for(child)
    if case.status != "open":
        case.status, case.closed_at = "open", None
        record(case, "file_reopened", "重新纳入关爱服务，档案重新启用", actor=actor)
    enrolment = Enrolment(
        child_id=child.id, child=child, case_id=case.id, tags=sorted(set(tags)),
        key_reasons=sorted(set(key_reasons or [])), started_on=started_on or local_today(),
        start_reason=str(start_reason), note=note, created_by_id=actor.id if actor else None, created_at=now())
    db.session.add(enrolment)
    db.session.flush()
    record(case, "enrolled", f"纳入关爱服务：{start_reason}", actor=actor,
           detail={"enrolment_id": enrolment.id, "tags": enrolment.tags, "key_reasons": enrolment.key_reasons})
    audit(actor.id if actor else None, "create", "enrolment", enrolment.id, case_id=enrolment.case_id)
    return enrolment


def end_enrolment(enrolment: Enrolment, actor: User | None, reason: str, ended_on: date | None = None) -> int:
    """Take a child out of the programme: cancel their open duty instances; no cycle starts afterwards.

    Returns the number of cycles cancelled.
    """
    if enrolment.ended_on is not None:
        raise Conflict("this enrolment has already ended")
    if reason not in {r.value for r in EndReason}:
        raise Invalid("unknown reason", {"end_reason": [f"one of {', '.join(r.value for r in EndReason)}"]})
    enrolment.ended_on = ended_on or local_today()
    enrolment.end_reason = reason
    enrolment.ended_by_id = actor.id if actor else None
    enrolment.ended_at = now()
    cancelled = 0
    open_cycles = db.session.scalars(sa.select(DutyCycle).where(
        DutyCycle.child_id == enrolment.child_id, DutyCycle.duty.in_(CANCEL_ON_LEAVING),
        DutyCycle.status.in_([CycleStatus.OPEN, CycleStatus.MISSED]))).all()
    for cycle in open_cycles:
        if cycle.instance_id is not None:
            instance = db.session.get(ProcessInstance, cycle.instance_id)
            if instance is not None and instance.status == "running":
                workflow.cancel(instance, actor, f"儿童退出关爱服务（{reason}）")
                cycle.status = CycleStatus.CANCELLED
                cancelled += 1
            continue
        cycle.status = CycleStatus.CANCELLED
        cancelled += 1
    for entrustment in db.session.scalars(sa.select(Entrustment).where(
            Entrustment.child_id == enrolment.child_id, Entrustment.status != EntrustmentStatus.ENDED)):
        entrustment.status = EntrustmentStatus.ENDED
        entrustment.ended_at = now()
    case = db.session.get(Case, enrolment.case_id)
    assert case is not None
    record(case, "left_programme", f"退出关爱服务：{reason}", actor=actor,
           detail={"enrolment_id": enrolment.id, "cycles_cancelled": cancelled})
    case.status, case.closed_at = "closed", now()
    db.session.flush()
    audit(actor.id if actor else None, "update", "enrolment", enrolment.id, case_id=enrolment.case_id,
          detail={"ended": True})
    return cancelled


def _adhoc_period() -> str:
    return f"adhoc:{uuid.uuid4().hex[:16]}"


def start_assessment_now(child: Child, actor: User | None, reason: str = "") -> DutyCycle:
    """Assess a key child at any time (004 三（二）4 “重点对象随时评估”), outside the semiannual cycle."""
    enrolment = active_enrolment(child.id)
    if enrolment is None:
        raise Conflict(f"{child.name} is not in the programme; enrol the child first")
    case = care_file_for(child)
    cycle = start_cycle("assessment", f"child:{child.id}", _adhoc_period(), case, trigger="on_demand",
                        child_id=child.id, data={"assessment_reason": reason or "重点对象随时评估"}, actor=actor)
    assert cycle is not None
    return cycle


def report_dropout(child: Child, actor: User | None, *, school: str, left_on: date | None,
                   note: str = "") -> DutyCycle:
    """A school reports a dropout: education, township and village persuade the child back (劝返复学)."""
    case = care_file_for(child)
    data: dict[str, Any] = {"school_name": school, "left_school_on": left_on.isoformat() if left_on else None,
                            "dropout_note": note}
    cycle = start_cycle("dropout_return", f"child:{child.id}", _adhoc_period(), case, trigger="on_demand",
                        child_id=child.id, data=data, actor=actor)
    assert cycle is not None
    enrolment = active_enrolment(child.id)
    if enrolment is not None and "dropout" not in enrolment.key_reasons:
        enrolment.key_reasons = sorted({*enrolment.key_reasons, "dropout"})
    audit(actor.id if actor else None, "create", "dropout", cycle.id, case_id=cycle.case_id)
    return cycle


def record_entrustment(child: Child, actor: User | None, *, caregiver_name: str, relation: str,
                       is_relative: bool, phone: str = "", agreement_signed_on: date | None = None,
                       filed_with_township: bool = False, filed_with_village: bool = False) -> Entrustment:
    """Record who the parents entrusted the child to, and start the village committee's capacity check.

    A non-relative needs a written entrusted-guardian agreement (004 三（一）1 委托监护协议).
    """
    if not is_relative and agreement_signed_on is None:
        raise Invalid("a non-relative caregiver needs a signed agreement",
                      {"agreement_signed_on": ["required when the caregiver is not a relative (委托监护协议)"]})
    at = now()
    for earlier in db.session.scalars(sa.select(Entrustment).where(
            Entrustment.child_id == child.id, Entrustment.status != EntrustmentStatus.ENDED)):
        earlier.status, earlier.ended_at = EntrustmentStatus.ENDED, at
    entrustment = Entrustment(
        child_id=child.id, caregiver_name=caregiver_name, relation=relation, is_relative=is_relative, phone=phone,
        agreement_signed_on=agreement_signed_on, filed_with_township=filed_with_township,
        filed_with_village=filed_with_village, status=EntrustmentStatus.PENDING_CHECK, status_since=at,
        recorded_by_id=actor.id if actor else None, recorded_at=at)
    db.session.add(entrustment)
    db.session.flush()
    case = care_file_for(child)
    record(case, "entrustment_recorded", f"委托照护：{caregiver_name}（{relation}）", actor=actor,
           detail={"entrustment_id": entrustment.id, "agreement": bool(agreement_signed_on)})
    start_cycle("entrusted_care_check", f"child:{child.id}", f"entrustment:{entrustment.id}", case,
                trigger="on_demand", child_id=child.id, entrustment_id=entrustment.id,
                data=entrustment_data(entrustment), actor=actor)
    audit(actor.id if actor else None, "create", "entrustment", entrustment.id, case_id=case.id)
    return entrustment


def child_from_payload(payload: dict[str, Any]) -> Child:
    """An existing child (``{"id": ...}``, or the child on file with the ID number given) or a newly found one
    (the report schema's child fields)."""

    if payload.get("id"):
        child = db.session.get(Child, payload["id"])
        if child is None:
            raise NotFound(f"child {payload['id']} not found")
        return child
    missing = [f for f in ("name", "sex", "village") if not payload.get(f)]
    if missing:
        raise Invalid("a new child needs a name, sex and village", {f"child.{f}": ["required"] for f in missing})
    village = region_by_code(payload["village"])
    if village is None or village.level != RegionLevel.VILLAGE:
        raise Invalid("unknown village", {"child.village": [f"no village with code {payload['village']!r}"]})
    known = match_child(ChildFacts(id_number=payload.get("id_number") or None, village_id=village.id)).exact
    if known is not None:
        return known  # one file per child: the same ID number in the county is this child (issue 15)
    child = Child(name=payload["name"], sex=payload["sex"], birth_date=payload.get("birth_date"),
                  id_number=payload.get("id_number") or None, village=village, address=payload.get("address", ""),
                  tags=sorted(set(payload.get("tags", []))), created_at=now())
    child.guardians = [Guardian(**g) for g in payload.get("guardians", [])]
    db.session.add(child)
    db.session.flush()
    return child
