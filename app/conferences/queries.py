"""Reads about conferences: who is invited, the agenda drawn from the case, actions and their progress."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.cases.access import TASK_WORKER_ROLES, CaseAccess, case_access
from app.cases.models import Case, TimelineEntry
from app.common.dialect import among
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS
from app.org.models import Unit, User, UserRole
from app.org.queries import unit_for
from app.org.roles import Role
from app.tasks.form_render import step_data
from app.tasks.models import Task, TaskState

from .models import Conference, ConferenceAction, ConferenceAttendee, ConferenceStatus, ConferenceUnit

PREPARE_PROCESS = "conference_prepare"
ACTION_PROCESS = "conference_action"
PREPARE_STEP = "prepare_for_conference"
ACTION_STEP = "carry_out_decision"

ASSESSMENT_STEPS = ("township_assessment", "assessment_grading")
"""Completed steps that carry a grade (four-in-one and the semiannual assessment)."""
HELP_PLAN_STEPS = ("village_caring_help", "township_loving_help", "civil_affairs_protective_help")


def invited_to_case(user: User, case_id: int) -> bool:
    """The user's unit (as liaison or head) or the user by name is invited to a live conference on the case."""
    live = sa.and_(Conference.case_id == case_id, Conference.status != ConferenceStatus.CANCELLED)
    if user.unit_id is not None and user.has_role(Role.LIAISON, Role.UNIT_HEAD):
        by_unit = db.session.scalar(sa.select(sa.exists().where(
            ConferenceUnit.conference_id == Conference.id, ConferenceUnit.unit_id == user.unit_id, live)))
        if by_unit:
            return True
    return bool(db.session.scalar(sa.select(sa.exists().where(
        ConferenceAttendee.conference_id == Conference.id, ConferenceAttendee.user_id == user.id, live))))


def cases_invited_to(user: User) -> sa.Select[int] | sa.CompoundSelect[int]:
    """``invited_to_case`` in SQL: the ids of the cases with a live conference the user (or their unit) is
    invited to (for ``IN``: the union as it is, not selected from as a subquery, whose column collection costs more
    to build than the rest of the condition)."""
    live = Conference.status != ConferenceStatus.CANCELLED
    by_name = sa.select(Conference.case_id).join(ConferenceAttendee,
                                                 ConferenceAttendee.conference_id == Conference.id) \
        .where(live, ConferenceAttendee.user_id == user.id)
    if user.unit_id is None or not user.has_role(Role.LIAISON, Role.UNIT_HEAD):
        return by_name
    by_unit = sa.select(Conference.case_id).join(ConferenceUnit, ConferenceUnit.conference_id == Conference.id) \
        .where(live, ConferenceUnit.unit_id == user.unit_id)
    return sa.union(by_name, by_unit)


def conference_team_users(case_id: int) -> list[User]:
    """Everyone on the case's conference team: liaisons and heads of participating units and named attendees.

    For escalation ladders that notify "the case's conference team" (issue 4).
    """
    live = sa.and_(Conference.case_id == case_id, Conference.status != ConferenceStatus.CANCELLED)
    unit_ids = sa.select(ConferenceUnit.unit_id).join(Conference, Conference.id == ConferenceUnit.conference_id) \
        .where(live)
    user_ids = sa.select(ConferenceAttendee.user_id).join(Conference, Conference.id == ConferenceAttendee.conference_id) \
        .where(live, ConferenceAttendee.user_id.is_not(None))
    workers = sa.select(UserRole.user_id).where(UserRole.role.in_([r.value for r in TASK_WORKER_ROLES]))
    return list(db.session.scalars(sa.select(User).where(User.active.is_(True), sa.or_(
        sa.and_(User.unit_id.in_(unit_ids), User.id.in_(workers)), User.id.in_(user_ids))).order_by(User.id)))


def conference_teams(case_ids: set[int]) -> dict[int, list[User]]:
    """``conference_team_users`` for many cases in two statements (the escalation sweep's batch)."""
    if not case_ids:
        return {}
    live = sa.and_(among(Conference.case_id, case_ids), Conference.status != ConferenceStatus.CANCELLED)
    workers = sa.select(UserRole.user_id).where(UserRole.role.in_([r.value for r in TASK_WORKER_ROLES]))
    by_unit = (sa.select(Conference.case_id, User)
               .join(ConferenceUnit, ConferenceUnit.conference_id == Conference.id)
               .join(User, User.unit_id == ConferenceUnit.unit_id)
               .where(live, User.active.is_(True), User.id.in_(workers)))
    by_name = (sa.select(Conference.case_id, User)
               .join(ConferenceAttendee, ConferenceAttendee.conference_id == Conference.id)
               .join(User, User.id == ConferenceAttendee.user_id).where(live, User.active.is_(True)))
    teams: dict[int, dict[int, User]] = {}
    for stmt in (by_unit, by_name):
        for case_id, user in db.session.execute(stmt):
            teams.setdefault(case_id, {})[user.id] = user
    return {case_id: [users[i] for i in sorted(users)] for case_id, users in teams.items()}


def conferences_of_case(case_id: int) -> list[Conference]:
    return list(db.session.scalars(sa.select(Conference).where(Conference.case_id == case_id)
                                   .order_by(Conference.scheduled_at, Conference.id)))


def conferences_of_unit(unit_id: int) -> list[Conference]:
    return list(db.session.scalars(
        sa.select(Conference).join(ConferenceUnit, ConferenceUnit.conference_id == Conference.id)
        .where(ConferenceUnit.unit_id == unit_id).order_by(Conference.scheduled_at, Conference.id)))


def conferences_for(user: User, status: str | None = None, limit: int = 200) -> list[Conference]:
    """Candidates for a user's list of conferences, newest first: every one for county staff, else those
    their unit takes part in or that name them. Callers still check need to know on each (a cancelled
    conference no longer gives access)."""
    stmt = sa.select(Conference)
    if not user.has_role(Role.COUNTY_COORDINATOR, Role.ADMIN):
        named = sa.select(ConferenceAttendee.conference_id).where(ConferenceAttendee.user_id == user.id)
        mine: sa.Select[int] | sa.CompoundSelect[int] = named
        if user.unit_id is not None:
            mine = named.union(sa.select(ConferenceUnit.conference_id).where(ConferenceUnit.unit_id == user.unit_id))
        stmt = stmt.where(Conference.id.in_(mine))
    if status:
        stmt = stmt.where(Conference.status == status)
    return list(db.session.scalars(stmt.order_by(Conference.scheduled_at.desc(), Conference.id.desc()).limit(limit)))


def routed_units(case: Case) -> list[Unit]:
    """For each department kind, the unit its tasks on this case go to (what invitations and decisions
    may name: ``operations.resolve_unit`` refuses any other unit)."""
    found = (unit_for(kind, case.region) for kind in DEPARTMENT_KINDS)
    return [u for u in found if u is not None]


def team_units(limit: int = 500) -> list[Unit]:
    """Units that take part in any conference: the teams a county coordinator may look at."""
    ids = sa.select(ConferenceUnit.unit_id).distinct()
    return list(db.session.scalars(sa.select(Unit).where(Unit.id.in_(ids)).order_by(Unit.name).limit(limit)))


def _task_row(task: Task, at: datetime) -> dict[str, Any]:
    return {"id": task.id, "bpmn_id": task.bpmn_id, "name": task.name,
            "unit": task.unit.name if task.unit else None, "department_kind": task.department_kind,
            "due_at": task.due_at, "overdue": task.is_overdue(at)}


def _latest_completed(case_ids: list[int], steps: tuple[str, ...]) -> Task | None:
    return db.session.scalar(sa.select(Task).where(
        Task.case_id.in_(case_ids), Task.bpmn_id.in_(steps), Task.state == TaskState.COMPLETED)
        .order_by(Task.completed_at.desc(), Task.id.desc()).limit(1))


def action_task(action: ConferenceAction) -> Task | None:
    if action.instance_id is None:
        return None
    return db.session.scalar(sa.select(Task).where(Task.instance_id == action.instance_id).order_by(Task.id.desc())
                             .limit(1))


def action_view(action: ConferenceAction, at: datetime) -> dict[str, Any]:
    task = action_task(action)
    status = "pending" if task is None else {"open": "open", "completed": "done"}.get(task.state, task.state)
    return {
        "id": action.id, "seq": action.seq, "decision": action.decision, "department_kind": action.department_kind,
        "unit": {"id": action.unit.id, "name": action.unit.name, "kind": action.unit.kind} if action.unit else None,
        "deadline": action.deadline, "task_id": task.id if task else None, "status": status,
        "due_at": task.due_at if task else None, "completed_at": task.completed_at if task else None,
        "overdue": bool(task and task.is_overdue(at)),
        "escalation_level": task.escalation_level if task else 0,
        "outcome": (task.data or {}).get("outcome") if task and task.state == TaskState.COMPLETED else None,
    }


def build_agenda(case: Case, at: datetime, previous: Conference | None = None) -> dict[str, Any]:
    """What the conference should discuss, drawn from the case: open and overdue steps, the latest grade,
    the help plan, and what the previous conference decided."""
    case_ids = [case.id]
    if case.child_id is not None:
        case_ids = list(db.session.scalars(sa.select(Case.id).where(Case.child_id == case.child_id)))
    open_tasks = list(db.session.scalars(sa.select(Task).where(
        Task.case_id.in_(case_ids), Task.state == TaskState.OPEN, Task.bpmn_id != PREPARE_STEP)
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)))
    assessment = _latest_completed(case_ids, ASSESSMENT_STEPS)
    plan = _latest_completed(case_ids, HELP_PLAN_STEPS)
    items = ["案情和儿童现状通报"]
    overdue = [t for t in open_tasks if t.is_overdue(at)]
    if overdue:
        items.append(f"逾期环节{len(overdue)}项：" + "、".join(t.name for t in overdue[:10]))
    if assessment is not None:
        items.append("评估结果和帮扶方式")
    if previous is not None:
        items.append("上次会商决定的落实情况")
    items += ["确定各部门帮扶措施、责任单位和完成时限"]
    return {
        "drawn_at": at.isoformat(),
        "case": {"id": case.id, "number": case.number, "kind": case.kind, "status": case.status,
                 "grade": case.grade, "help_tier": case.help_tier},
        "open_tasks": [_jsonable(_task_row(t, at)) for t in open_tasks],
        "overdue_tasks": [t.id for t in overdue],
        "latest_assessment": None if assessment is None else {
            "task_id": assessment.id, "completed_at": _iso(assessment.completed_at),
            "grade": (assessment.data or {}).get("grade"),
            "summary": (assessment.data or {}).get("assessment_summary")},
        "help_plan": None if plan is None else {
            "task_id": plan.id, "step": plan.name, "completed_at": _iso(plan.completed_at),
            "help_tier": case.help_tier, "data": plan.data or {}},
        "previous_actions": [] if previous is None else [_jsonable(action_view(a, at)) for a in previous.actions],
        "items": items,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def conference_view(conference: Conference, at: datetime) -> dict[str, Any]:
    agenda = conference.agenda
    if conference.status == ConferenceStatus.SCHEDULED:
        case = db.session.get(Case, conference.case_id)
        assert case is not None
        agenda = build_agenda(case, at, conference.previous)
    actions = [action_view(a, at) for a in conference.actions]
    prepared = {}
    for cu in conference.units:
        if cu.prepare_instance_id is None:
            continue
        task = db.session.scalar(sa.select(Task).where(Task.instance_id == cu.prepare_instance_id)
                                  .order_by(Task.id).limit(1))
        prepared[cu.unit_id] = None if task is None else {"task_id": task.id, "state": task.state,
                                                          "data": task.data if task.state == "completed" else None}
    follow_ups = list(db.session.scalars(sa.select(Conference.id).where(Conference.previous_id == conference.id)))
    return {
        "id": conference.id, "case_id": conference.case_id, "title": conference.title, "status": conference.status,
        "scheduled_at": conference.scheduled_at, "mode": conference.mode, "place": conference.place,
        "convening_unit": _unit(conference.convening_unit),
        "chair": conference.chair.display_name if conference.chair else conference.chair_name,
        "previous_id": conference.previous_id, "follow_up_ids": follow_ups,
        "units": [{"unit": _unit(cu.unit), "role": cu.role, "attended": cu.attended,
                   "preparation": prepared.get(cu.unit_id)} for cu in conference.units],
        "attendees": [{"id": p.id, "name": p.name, "role": p.role, "user_id": p.user_id,
                       "unit": p.unit.name if p.unit else None, "attended": p.attended} for p in conference.attendees],
        "agenda": agenda, "minutes": conference.minutes, "held_at": conference.held_at,
        "cancel_reason": conference.cancel_reason,
        "actions": actions,
        "actions_open": sum(1 for a in actions if a["status"] == "open"),
        "actions_overdue": sum(1 for a in actions if a["overdue"]),
        "actions_done": sum(1 for a in actions if a["status"] == "done"),
    }


def _unit(unit: Unit) -> dict[str, Any]:
    return {"id": unit.id, "name": unit.name, "kind": unit.kind}


def team_view(unit_id: int, at: datetime, viewer: User) -> list[dict[str, Any]]:
    """The shared cases a conference team (a participating unit) reviews, with what changed since the last
    conference held on each: its timeline entries since then, and its actions still open.

    Only cases ``viewer`` has need to know of, and each change as ``viewer`` may read it.
    """
    by_case: dict[int, list[Conference]] = {}
    for conference in conferences_of_unit(unit_id):
        if conference.status != ConferenceStatus.CANCELLED:
            by_case.setdefault(conference.case_id, []).append(conference)
    rows = []
    for case_id, conferences in sorted(by_case.items()):
        case = db.session.get(Case, case_id)
        assert case is not None
        access = case_access(viewer, case)
        if access is None or not access.detail:
            continue
        held = [c for c in conferences if c.status == ConferenceStatus.HELD and c.held_at is not None]
        last = max(held, key=lambda c: (c.held_at, c.id)) if held else None
        upcoming = [c for c in conferences if c.status == ConferenceStatus.SCHEDULED]
        since = last.held_at if last is not None else None
        stmt = sa.select(TimelineEntry).where(TimelineEntry.case_id == case_id)
        if since is not None:
            stmt = stmt.where(TimelineEntry.at > since)
        changes = list(db.session.scalars(stmt.order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())))
        actions = [action_view(a, at) for c in held for a in c.actions]
        rows.append({
            "case_id": case.id, "case_number": case.number, "subject": case.subject, "case_status": case.status,
            "grade": case.grade, "help_tier": case.help_tier,
            "last_conference": None if last is None else {"id": last.id, "held_at": last.held_at, "title": last.title},
            "next_conference": None if not upcoming else {
                "id": upcoming[0].id, "scheduled_at": upcoming[0].scheduled_at, "title": upcoming[0].title},
            "actions_open": sum(1 for a in actions if a["status"] == "open"),
            "actions_overdue": sum(1 for a in actions if a["overdue"]),
            "changes_since_last": len(changes),
            "recent_changes": [_change(access, e) for e in changes[:20]],
            "show_text": access.narratives,
        })
    return rows


def _change(access: CaseAccess, entry: TimelineEntry) -> dict[str, Any]:
    task = db.session.get(Task, entry.task_id) if entry.task_id is not None else None
    summary, detail = access.timeline_entry(entry.kind, entry.summary, entry.detail or {}, task)
    return {"at": entry.at, "kind": entry.kind, "summary": summary, "detail": detail}


def conference_view_for(conference: Conference, access: CaseAccess, at: datetime) -> dict[str, Any]:
    """``conference_view`` cut to what ``access`` may read: a unit's preparation, the latest assessment's
    summary and the help plan are steps' data, so their free text follows ``CaseAccess.step_text``."""
    view = conference_view(conference, at)
    if access.narratives:
        return view

    def step(task_id: int | None) -> Task | None:
        return db.session.get(Task, task_id) if task_id is not None else None

    for unit in view["units"]:
        preparation = unit["preparation"]
        if preparation and preparation.get("data") is not None and (task := step(preparation["task_id"])):
            unit["preparation"] = {**preparation, "data": step_data(task, access.step_text(task))}
    agenda = copy.deepcopy(view["agenda"] or {})
    assessment = agenda.get("latest_assessment")
    if assessment and not ((task := step(assessment.get("task_id"))) and access.step_text(task)):
        assessment["summary"] = None
    plan = agenda.get("help_plan")
    if plan and (task := step(plan.get("task_id"))):
        plan["data"] = step_data(task, access.step_text(task))
    view["agenda"] = agenda
    return view


__all__ = ["ACTION_PROCESS", "ACTION_STEP", "PREPARE_PROCESS", "PREPARE_STEP", "ConferenceAction", "Unit",
           "action_view", "build_agenda", "conference_team_users", "conference_view", "conference_view_for",
           "conferences_for",
           "conferences_of_case", "invited_to_case", "routed_units", "team_units", "team_view"]
