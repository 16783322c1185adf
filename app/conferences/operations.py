"""Writes about conferences: schedule, record minutes and decisions, add actions, cancel. Operations flush.

Every invited unit gets a preparation task and every decision an action task,
each from its own small process instance on the case (``bpmn/conference_prepare``,
``bpmn/conference_action``), so routing, deadlines, reminders, escalation and
the case timeline treat them like any other step.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from app.audit.operations import audit
from app.cases.access import access_basis
from app.cases.models import Case
from app.cases.timeline import record
from app.common.clock import county_zone, instant, now
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.deadlines.arithmetic import DeadlineSyntaxError, parse_deadline
from app.extensions import db
from app.notifications.operations import notify
from app.org.kinds import DEPARTMENT_KINDS
from app.org.models import Region, Unit, User
from app.org.queries import unit_for
from app.org.roles import Role
from app.processes.models import ProcessInstance
from app.workflow import commands as workflow

from .models import (
    CONVENING_KINDS,
    Conference,
    ConferenceAction,
    ConferenceAttendee,
    ConferenceMode,
    ConferenceStatus,
    ConferenceUnit,
)
from .queries import ACTION_PROCESS, PREPARE_PROCESS, build_agenda

WORKDAY_END = time(17, 30)
CLAUSE = "依据运民发〔2019〕113号附件1第5项（个案会商）"


def _within(region: Region, jurisdiction_id: int | None) -> bool:
    return jurisdiction_id is not None and any(r.id == jurisdiction_id for r in region.ancestry())


def get_conference(conference_id: int) -> Conference:
    conference = db.session.get(Conference, conference_id)
    if conference is None:
        raise NotFound(f"conference {conference_id} not found")
    return conference


def can_manage(user: User, conference: Conference) -> bool:
    """The convening unit's liaisons and head, and the county's coordinators, run a conference."""
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    if user.has_role(Role.COUNTY_COORDINATOR) and _within(case.region, user.region_id):
        return True
    return user.unit_id == conference.convening_unit_id and user.has_role(Role.LIAISON, Role.UNIT_HEAD)


def ensure_can_manage(user: User, conference: Conference) -> None:
    if not can_manage(user, conference):
        raise Forbidden("only the convening unit and the county coordinators run this conference")


def visible_basis(user: User, conference: Conference) -> str | None:
    """The basis on which ``user`` sees the conference (the case's need-to-know rules), or None.

    A reporter's basis shows only a case's number and status, never a conference about it.
    """
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    basis = access_basis(user, case)
    if basis is None or basis.value == "reporter":
        return None
    return basis.value


def ensure_can_see(user: User, conference: Conference) -> str:
    """The basis on which ``user`` sees the conference; 403 otherwise."""
    basis = visible_basis(user, conference)
    if basis is None:
        raise Forbidden("you have no need to know this case")
    return basis


def _may_convene_as(actor: User, case: Case, unit: Unit) -> bool:
    coordinator = actor.has_role(Role.COUNTY_COORDINATOR) and _within(case.region, actor.region_id)
    return unit.kind in CONVENING_KINDS and _within(case.region, unit.region_id) and (
        coordinator or (actor.unit_id == unit.id and actor.has_role(Role.LIAISON, Role.UNIT_HEAD)))


def convening_units(actor: User, case: Case) -> list[Unit]:
    """The units ``actor`` may convene a conference on ``case`` in the name of (none: no entry point).

    The same rules as ``schedule``: a convening kind serving the case's area, its liaisons and head or
    a county coordinator, and a (non-reporter) need to know the case already.
    """
    basis = access_basis(actor, case)
    if basis is None or basis.value == "reporter":
        return []
    if actor.has_role(Role.COUNTY_COORDINATOR) and _within(case.region, actor.region_id):
        candidates = [unit_for(kind, case.region) for kind in CONVENING_KINDS]
    else:
        candidates = [actor.unit]
    return [u for u in candidates if u is not None and _may_convene_as(actor, case, u)]


def _convening_unit(actor: User, case: Case, unit_id: int | None) -> Unit:
    basis = access_basis(actor, case)
    if basis is None or basis.value == "reporter":
        raise Forbidden("you have no need to know this case")
    coordinator = actor.has_role(Role.COUNTY_COORDINATOR) and _within(case.region, actor.region_id)
    if unit_id is None:
        if actor.unit is None:
            raise Invalid("name the convening unit", {"convening_unit_id": ["required"]})
        unit = actor.unit
    else:
        found = db.session.get(Unit, unit_id)
        if found is None:
            raise Invalid("unknown unit", {"convening_unit_id": [f"no unit {unit_id}"]})
        unit = found
    if unit.kind not in CONVENING_KINDS:
        raise Invalid("this unit does not convene conferences",
                      {"convening_unit_id": [f"the convener is one of: {', '.join(CONVENING_KINDS)}"]})
    if not coordinator and not (actor.unit_id == unit.id and actor.has_role(Role.LIAISON, Role.UNIT_HEAD)):
        raise Forbidden("only the convening unit's liaisons and head, or a county coordinator, convene a conference")
    if not _within(case.region, unit.region_id):
        raise Forbidden(f"{unit.name} does not serve this case's area")
    return unit


def resolve_unit(case: Case, *, unit_id: int | None = None, kind: str | None = None, field: str = "unit") -> Unit:
    """The unit that owns a task of ``kind`` on this case (routing walks up from the case's region).

    A named unit must be the one routing picks, because the task is routed by its
    department kind: naming another unit would send the task somewhere else.
    """
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        if unit is None:
            raise Invalid("unknown unit", {field: [f"no unit {unit_id}"]})
        routed = unit_for(unit.kind, case.region)
        if routed is None or routed.id != unit.id:
            where = routed.name if routed else "no unit"
            raise Invalid("this unit does not serve the case's area",
                          {field: [f"{unit.kind} tasks on this case go to {where}"]})
        return unit
    if not kind or kind not in DEPARTMENT_KINDS:
        raise Invalid("name a unit or a department kind", {field: ["unit_id or department_kind required"]})
    routed = unit_for(kind, case.region)
    if routed is None:
        raise Invalid("no unit of this kind serves the case's area", {field: [f"no {kind} unit"]})
    return routed


def schedule(case: Case, actor: User, *, title: str, scheduled_at: datetime, mode: str = ConferenceMode.IN_PERSON,
             place: str = "", convening_unit_id: int | None = None, chair_id: int | None = None,
             chair_name: str = "", invited: list[dict[str, Any]] | None = None,
             attendees: list[dict[str, Any]] | None = None, previous_id: int | None = None) -> Conference:
    """Schedule a conference; every invited unit gets a preparation task due when the meeting starts."""
    at = now()
    if scheduled_at <= at:
        raise Invalid("a conference is scheduled in the future", {"scheduled_at": ["must be in the future"]})
    convener = _convening_unit(actor, case, convening_unit_id)
    previous = None
    if previous_id is not None:
        previous = db.session.get(Conference, previous_id)
        if previous is None or previous.case_id != case.id:
            raise Invalid("a follow-up continues a conference on the same case",
                          {"previous_id": [f"no conference {previous_id} on this case"]})
    chair = db.session.get(User, chair_id) if chair_id is not None else None
    if chair_id is not None and chair is None:
        raise Invalid("unknown chair", {"chair_id": [f"no user {chair_id}"]})
    units: dict[int, Unit] = {}
    for i, item in enumerate(invited or []):
        unit = resolve_unit(case, unit_id=item.get("unit_id"), kind=item.get("department_kind"),
                            field=f"invited.{i}")
        if unit.id != convener.id:
            units[unit.id] = unit
    if not units:
        raise Invalid("a case conference brings several departments together",
                      {"invited": ["invite at least one other unit"]})
    conference = Conference(
        case_id=case.id, previous_id=previous.id if previous else None, convening_unit_id=convener.id,
        convening_unit=convener, chair_id=chair.id if chair else None,
        chair_name=chair_name or (chair.display_name if chair else actor.display_name), title=title,
        scheduled_at=scheduled_at, mode=mode, place=place, status=ConferenceStatus.SCHEDULED,
        agenda=build_agenda(case, at, previous), created_by_id=actor.id, created_at=at)
    db.session.add(conference)
    db.session.flush()
    db.session.add(ConferenceUnit(conference_id=conference.id, unit_id=convener.id, role="convener"))
    for item in attendees or []:
        user = db.session.get(User, item["user_id"]) if item.get("user_id") else None
        if item.get("user_id") and user is None:
            raise Invalid("unknown attendee", {"attendees": [f"no user {item['user_id']}"]})
        name = item.get("name") or (user.display_name if user else "")
        if not name:
            raise Invalid("an attendee needs a name or a user", {"attendees": ["name or user_id required"]})
        if item.get("unit_id") and db.session.get(Unit, item["unit_id"]) is None:
            raise Invalid("unknown unit", {"attendees": [f"no unit {item['unit_id']}"]})
        db.session.add(ConferenceAttendee(
            conference_id=conference.id, user_id=user.id if user else None,
            unit_id=item.get("unit_id") or (user.unit_id if user else None), name=name, role=item.get("role", "")))
    local = scheduled_at.astimezone(county_zone())
    when = local.strftime("%Y-%m-%d %H:%M")
    where = "电话/视频会商" if mode == ConferenceMode.CALL else "现场会商"
    for unit in units.values():
        instance = workflow.start_current(case, PREPARE_PROCESS, {
            "conference_id": conference.id, "conference_title": title, "conference_time": when,
            "conference_place": place, "convening_unit": convener.name,
            "prepare_department": unit.kind, "prepare_deadline": instant(scheduled_at),
            "prepare_instructions": (
                f"{CLAUSE}：{convener.name}定于{when}召开个案会商（{where}，{place or '地点另行通知'}），议题：{title}。"
                "请确认参会人员，整理本单位掌握的儿童情况和已采取的措施，提出建议，会商开始前完成。"),
        }, actor)
        db.session.add(ConferenceUnit(conference_id=conference.id, unit_id=unit.id, role="invited",
                                      prepare_instance_id=instance.id))
    db.session.flush()
    named = [a.user for a in conference.attendees if a.user is not None]
    notify(named, "conference", f"个案会商：{title}（{when}）", body=place, case_id=case.id,
           dedupe_key=f"conference:{conference.id}:invited")
    record(case, "conference_scheduled", f"个案会商：{title}（{when}）", actor=actor, unit=convener,
           detail={"conference_id": conference.id, "invited_units": sorted(units),
                   "previous_id": conference.previous_id})
    audit(actor.id, "create", "conference", conference.id, case_id=case.id)
    db.session.flush()
    return conference


def _deadline_of(item: dict[str, Any], i: int) -> str:
    if item.get("due_on"):
        due_on: date = item["due_on"]
        due = datetime.combine(due_on, WORKDAY_END, tzinfo=county_zone())
        return instant(due)
    deadline = item.get("deadline") or ""
    try:
        parse_deadline(deadline)
    except DeadlineSyntaxError as exc:
        raise Invalid("bad deadline", {f"decisions.{i}.deadline": [str(exc)]}) from exc
    return deadline


def add_actions(conference: Conference, actor: User, decisions: list[dict[str, Any]]) -> list[ConferenceAction]:
    """Turn decisions into actions: one task each in the owning unit's queue, with its deadline."""
    ensure_can_manage(actor, conference)
    if conference.status != ConferenceStatus.HELD:
        raise Conflict("actions follow from a conference that was held; record its minutes first")
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    seq = max((a.seq for a in conference.actions), default=0)
    created = []
    for i, item in enumerate(decisions):
        unit = resolve_unit(case, unit_id=item.get("unit_id"), kind=item.get("department_kind"),
                            field=f"decisions.{i}")
        deadline = _deadline_of(item, i)
        seq += 1
        action = ConferenceAction(conference_id=conference.id, seq=seq, decision=item["decision"],
                                  department_kind=unit.kind, unit_id=unit.id, unit=unit,
                                  deadline=item.get("deadline") or f"by {item['due_on']}", created_at=now())
        db.session.add(action)
        db.session.flush()
        instance = workflow.start_current(case, ACTION_PROCESS, {
            "conference_id": conference.id, "action_id": action.id, "decision": action.decision,
            "action_department": unit.kind, "action_deadline": deadline,
            "action_instructions": f"{CLAUSE}，{conference.title}（第{seq}项决定）：{action.decision}。"
                                   "请在期限内落实，并填写落实情况；无法落实的说明原因，需要时申请再次会商。",
        }, actor)
        action.instance_id = instance.id
        created.append(action)
    db.session.flush()
    db.session.refresh(conference)
    return created


def record_minutes(conference: Conference, actor: User, *, minutes: str, held_at: datetime | None = None,
                   attended_unit_ids: list[int] | None = None, attendance: list[dict[str, Any]] | None = None,
                   decisions: list[dict[str, Any]] | None = None) -> Conference:
    """The conference was held: minutes, attendance and decisions; the agenda is frozen as discussed."""
    ensure_can_manage(actor, conference)
    if conference.status != ConferenceStatus.SCHEDULED:
        raise Conflict(f"this conference is {conference.status}")
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    at = now()
    conference.agenda = build_agenda(case, at, conference.previous)
    conference.status = ConferenceStatus.HELD
    conference.held_at = held_at or at
    conference.minutes = minutes
    present = set(attended_unit_ids or [])
    for cu in conference.units:
        cu.attended = cu.unit_id in present if attended_unit_ids is not None else None
        if cu.prepare_instance_id is not None:
            instance = db.session.get(ProcessInstance, cu.prepare_instance_id)
            if instance is not None and instance.status == "running":
                workflow.cancel(instance, actor, "会商已召开，准备任务结束")
    by_id = {a.id: a for a in conference.attendees}
    for row in attendance or []:
        attendee_id = row.get("attendee_id")
        attendee = by_id.get(attendee_id) if isinstance(attendee_id, int) else None
        if attendee is None:
            raise Invalid("unknown attendee", {"attendance": [f"no attendee {row.get('attendee_id')}"]})
        attendee.attended = bool(row.get("attended"))
    db.session.flush()
    record(case, "conference_held", f"个案会商已召开：{conference.title}", actor=actor,
           unit=conference.convening_unit, detail={"conference_id": conference.id})
    if decisions:
        add_actions(conference, actor, decisions)
    audit(actor.id, "update", "conference", conference.id, case_id=case.id, detail={"minutes": True})
    db.session.flush()
    return conference


def cancel(conference: Conference, actor: User, reason: str) -> Conference:
    """Call a scheduled conference off; its preparation tasks are withdrawn."""
    ensure_can_manage(actor, conference)
    if conference.status != ConferenceStatus.SCHEDULED:
        raise Conflict(f"this conference is {conference.status}")
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    conference.status = ConferenceStatus.CANCELLED
    conference.cancel_reason = reason
    for cu in conference.units:
        if cu.prepare_instance_id is not None:
            instance = db.session.get(ProcessInstance, cu.prepare_instance_id)
            if instance is not None:
                workflow.cancel(instance, actor, f"会商取消：{reason}")
    record(case, "conference_cancelled", f"个案会商取消：{conference.title}（{reason}）", actor=actor,
           detail={"conference_id": conference.id})
    audit(actor.id, "update", "conference", conference.id, case_id=case.id, detail={"cancelled": reason})
    db.session.flush()
    return conference


__all__ = ["add_actions", "cancel", "can_manage", "convening_units", "ensure_can_see", "get_conference",
           "record_minutes", "resolve_unit", "schedule", "visible_basis"]
