"""Case conference pages (个案会商): the list, the team view, scheduling, and the conference itself with its
agenda, minutes, decisions and the actions they became.

Each request loads, checks need to know (``app.cases.access`` through the conference operations), acts
through ``app.conferences.operations`` (the API's rules: 403 not the convener, 409 already held, 422
invalid) and commits once. Every page that shows a case's data writes an audit row, as the API does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.audit.operations import audit
from app.cases.access import (
    can_see_task,
    case_access,
    mask_name,
    sees_names_in_lists,
)
from app.cases.models import Case
from app.cases.queries import get_case_for
from app.common.clock import now
from app.common.errors import Forbidden, Invalid
from app.common.inputs import bounded_int
from app.common.pages import committed_page, roles_required
from app.extensions import db
from app.org.labels import department_name
from app.org.models import Unit, User
from app.org.roles import Role
from app.tasks.form_render import step_values
from app.tasks.models import Task

from . import operations
from .forms import (
    DECISION_FIELDS,
    decisions_body,
    flatten,
    friendly,
    local_input,
    minutes_body,
    rows,
    schedule_body,
    tomorrow_morning,
)
from .models import Conference, ConferenceStatus
from .queries import (
    conference_view_for,
    conferences_for,
    conferences_of_case,
    routed_units,
    team_units,
    team_view,
)
from .schemas import CancelIn, ConferenceIn, DecisionsIn, MinutesIn

blp = Blueprint("conferencing", __name__, template_folder="templates")

SEE_ROLES = (Role.LIAISON, Role.UNIT_HEAD, Role.COUNTY_COORDINATOR)
"""Who has the conference pages in the menu: the people who convene and attend (docs/conferences-and-duties.md)."""


def subject_of(case: Case) -> str:
    """The child's name in lists, masked as in the inbox (lists are read on shared office screens)."""
    if case.child is None:
        return case.title
    return case.child.name if sees_names_in_lists(current_user) else mask_name(case.child.name)


def _when(value: Any) -> datetime | None:
    """Frozen agendas keep times as ISO strings; pages show them like any other time."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


def _unit_choices(case: Case) -> list[tuple[str, str]]:
    """(department kind, "kind — unit") for the units this case's tasks go to."""
    return [(u.kind, f"{department_name(u.kind)} — {u.name}") for u in routed_units(case)]


@blp.get("/conferences")
@roles_required(*SEE_ROLES)
def index() -> Any:
    """The conferences the user may see, newest first, filterable by status."""
    status = request.args.get("status", "")
    if status not in {s.value for s in ConferenceStatus}:
        status = ""
    shown = []
    for conference in conferences_for(current_user, status or None):
        if operations.visible_basis(current_user, conference) is not None:
            shown.append((conference, db.session.get(Case, conference.case_id)))
    return render_template("conferences/list.html", rows=shown, status=status, subject_of=subject_of)


@blp.get("/conferences/team")
@roles_required(*SEE_ROLES)
@committed_page
def team() -> Any:
    """The shared cases the user's unit reviews in conferences, and what changed since the last one."""
    coordinator = current_user.has_role(Role.COUNTY_COORDINATOR)
    raw = request.args.get("unit_id", "")
    unit_id = bounded_int(raw) or current_user.unit_id
    if unit_id != current_user.unit_id and not coordinator:
        raise Forbidden(gettext("You can see only your own unit's conference team."))
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    shown = []
    for row in team_view(unit.id, now(), current_user) if unit is not None else []:
        case = db.session.get(Case, row["case_id"])
        assert case is not None
        audit(current_user.id, "list", "case", case.id, case_id=case.id,
              detail={"via": "conference_team", "page": "conference_team"})
        shown.append({**row, "subject": subject_of(case)})
    return render_template("conferences/team.html", unit=unit, rows=shown, units=team_units() if coordinator else [])


def _people(units: list[Unit]) -> list[tuple[Unit, list[User]]]:
    """Active liaisons and heads of ``units``, who may be named as attendees or chair."""
    ids = [u.id for u in units]
    users = list(db.session.scalars(sa.select(User).where(User.unit_id.in_(ids), User.active.is_(True))
                                    .order_by(User.id))) if ids else []
    by_unit = {u.id: [p for p in users if p.unit_id == u.id and p.has_role(Role.LIAISON, Role.UNIT_HEAD)]
               for u in units}
    return [(u, by_unit[u.id]) for u in units if by_unit[u.id]]


def _schedule_page(case: Case, conveners: list[Unit], form: Any, errors: dict[str, list[str]]) -> str:
    routed = routed_units(case)
    chairs = [current_user, *[p for _, people in _people(conveners) for p in people if p.id != current_user.id]]
    return render_template(
        "conferences/schedule.html", case=case, subject=case.subject, conveners=conveners,
        choices=_unit_choices(case), people=_people(routed), chairs=chairs, form=form, errors=errors,
        earlier=[c for c in conferences_of_case(case.id) if c.status != ConferenceStatus.CANCELLED],
        attendee_rows=rows(form, "attendees", ("name", "role")) if hasattr(form, "getlist") else [])


@blp.route("/cases/<int:case_id>/conferences/new", methods=["GET", "POST"])
@login_required
@committed_page
def schedule(case_id: int) -> Any:
    """Schedule a conference on a case: invited units get a preparation task and need-to-know access."""
    case, basis = get_case_for(current_user, case_id)
    conveners = operations.convening_units(current_user, case)
    if not conveners:
        raise Forbidden(gettext("Only the rescue centre, civil affairs, the township or a county coordinator "
                                "convene a conference on this case."))
    if request.method == "GET":
        audit(current_user.id, "view", "case", case.id, case_id=case.id,
              detail={"basis": basis.value, "page": "conference_new"})
        form = {"title": gettext("Case conference on %(number)s", number=case.number),
                "scheduled_at": tomorrow_morning(), "mode": "in_person",
                "convening_unit_id": str(conveners[0].id), "chair_id": str(current_user.id),
                "previous_id": request.args.get("previous", "")}
        return _schedule_page(case, conveners, form, {})
    body = schedule_body(request.form, case.id)
    try:
        payload = ConferenceIn().load(body)
        payload.pop("case_id")
        conference = operations.schedule(case, current_user, **payload)
    except (ValidationError, Invalid) as exc:
        db.session.rollback()
        errors = flatten(exc.messages) if isinstance(exc, ValidationError) else dict(exc.errors)
        for path in [p for p in errors if p.startswith("invited.")]:  # name the unit the reason is about
            index = path.split(".")[1]
            kind = body["invited"][int(index)]["department_kind"] if index.isdigit() else ""
            errors.setdefault("invited", []).extend(f"{department_name(kind)}: {m}" for m in errors.pop(path))
        flash(gettext("The conference was not scheduled; see the marked fields."), "error")
        return _schedule_page(case, conveners, request.form, friendly(errors)), 422
    flash(gettext("Conference scheduled; the invited units have a preparation task."), "success")
    return redirect(url_for("conferencing.conference_page", conference_id=conference.id))


def _agenda(agenda: dict[str, Any]) -> dict[str, Any]:
    """The agenda with times as datetimes and overdue open steps first."""
    steps = [{**t, "due_at": _when(t.get("due_at"))} for t in agenda.get("open_tasks", [])]
    previous = [{**a, "due_at": _when(a.get("due_at")), "completed_at": _when(a.get("completed_at"))}
                for a in agenda.get("previous_actions", [])]
    assessment = agenda.get("latest_assessment")
    if assessment:
        assessment = {**assessment, "completed_at": _when(assessment.get("completed_at"))}
    plan = agenda.get("help_plan")
    if plan:
        plan = {**plan, "completed_at": _when(plan.get("completed_at"))}
    return {**agenda, "drawn_at": _when(agenda.get("drawn_at")), "previous_actions": previous,
            "open_tasks": sorted(steps, key=lambda t: not t["overdue"]), "latest_assessment": assessment,
            "help_plan": plan}


def _conference_context(conference: Conference, basis: str, form: Any = None,
                        errors: dict[str, list[str]] | None = None, decision_rows: list[dict[str, str]] | None = None,
                        open_form: str = "") -> dict[str, Any]:
    """The page's data: the API's view of the conference, plus what this user may open and read (task links
    only for tasks they may see, free text of earlier steps only with need to know for harm details)."""
    at = now()
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    access = case_access(current_user, case)
    assert access is not None  # the caller checked need to know
    view = conference_view_for(conference, access, at)
    show_text = access.narratives
    agenda = _agenda(view["agenda"])
    plan = agenda.get("help_plan")
    prepared = {u["unit"]["id"]: u["preparation"]["task_id"] for u in view["units"] if u["preparation"]}
    ids = {a["task_id"] for a in view["actions"] if a["task_id"]} | set(prepared.values()) \
        | {t["id"] for t in agenda["open_tasks"]} | ({plan["task_id"]} if plan else set())
    tasks = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.id.in_(ids)))} if ids else {}
    linked_ids = [i for i in (view["previous_id"], *view["follow_up_ids"]) if i is not None]
    linked = {c.id: c for c in db.session.scalars(sa.select(Conference).where(Conference.id.in_(linked_ids)))} \
        if linked_ids else {}
    return {
        "c": view, "conference": conference, "case": case, "subject": case.subject, "basis": basis,
        "agenda": agenda, "at": at, "show_text": show_text,
        "linkable": {i for i, t in tasks.items() if can_see_task(current_user, t)},
        "preparation": {unit_id: step_values(tasks[task_id], access.step_text(tasks[task_id]))
                        for unit_id, task_id in prepared.items()
                        if task_id in tasks and tasks[task_id].state == "completed"},
        "plan_values": step_values(tasks[plan["task_id"]], access.step_text(tasks[plan["task_id"]]))
        if plan and plan["task_id"] in tasks else [],
        "linked": linked, "can_manage": operations.can_manage(current_user, conference),
        "can_follow_up": conference.status != ConferenceStatus.CANCELLED
        and bool(operations.convening_units(current_user, case)),
        "choices": _unit_choices(case), "form": form, "errors": errors or {}, "open_form": open_form,
        "entered_decisions": decision_rows or [{f: "" for f in DECISION_FIELDS}],
        "local_input": local_input,
    }


@blp.get("/conferences/<int:conference_id>")
@login_required
@committed_page
def conference_page(conference_id: int) -> Any:
    """The conference: schedule, participants and preparation, agenda, minutes, actions (audited)."""
    conference = operations.get_conference(conference_id)
    basis = operations.ensure_can_see(current_user, conference)
    audit(current_user.id, "view", "conference", conference.id, case_id=conference.case_id,
          detail={"basis": basis, "page": "conference"})
    return render_template("conferences/conference.html", **_conference_context(conference, basis))


def _managed(conference_id: int) -> tuple[Conference, str]:
    """A conference the user may see and run (need to know first, so guessing ids says nothing)."""
    conference = operations.get_conference(conference_id)
    basis = operations.ensure_can_see(current_user, conference)
    operations.ensure_can_manage(current_user, conference)
    return conference, basis


def _refused(conference: Conference, basis: str, exc: ValidationError | Invalid, which: str,
             decision_rows: list[dict[str, str]] | None = None) -> tuple[str, int]:
    """Nothing was changed: the page again with the user's input and each error beside its field."""
    db.session.rollback()
    errors = flatten(exc.messages) if isinstance(exc, ValidationError) else dict(exc.errors)
    flash(gettext("Nothing was recorded; see the marked fields."), "error")
    context = _conference_context(conference, basis, request.form, friendly(errors), decision_rows, which)
    return render_template("conferences/conference.html", **context), 422


@blp.post("/conferences/<int:conference_id>/minutes")
@login_required
@committed_page
def minutes(conference_id: int) -> Any:
    """The conference was held: minutes, attendance, and decisions that become tasks in units' queues."""
    conference, basis = _managed(conference_id)
    decision_rows = rows(request.form, "decisions", DECISION_FIELDS)
    body = minutes_body(request.form, [a.id for a in conference.attendees])
    try:
        operations.record_minutes(conference, current_user, **MinutesIn().load(body))
    except (ValidationError, Invalid) as exc:
        return _refused(conference, basis, exc, "minutes", decision_rows)
    count = len(body["decisions"])
    flash(ngettext("Minutes recorded; %(num)s decision sent to its unit.",
                   "Minutes recorded; %(num)s decisions sent to their units.", count), "success")
    return redirect(url_for("conferencing.conference_page", conference_id=conference.id) + "#actions")


@blp.post("/conferences/<int:conference_id>/actions")
@login_required
@committed_page
def add_actions(conference_id: int) -> Any:
    """More decisions after the conference; each becomes a task in its unit's queue."""
    conference, basis = _managed(conference_id)
    decision_rows = rows(request.form, "decisions", DECISION_FIELDS)
    try:
        created = operations.add_actions(conference, current_user,
                                         DecisionsIn().load({"decisions": decisions_body(decision_rows)})["decisions"])
    except (ValidationError, Invalid) as exc:
        return _refused(conference, basis, exc, "actions", decision_rows)
    flash(ngettext("%(num)s action added.", "%(num)s actions added.", len(created)), "success")
    return redirect(url_for("conferencing.conference_page", conference_id=conference.id) + "#actions")


@blp.post("/conferences/<int:conference_id>/cancel")
@login_required
@committed_page
def cancel(conference_id: int) -> Any:
    """Call a scheduled conference off; preparation tasks are withdrawn and invitations end."""
    conference, basis = _managed(conference_id)
    try:
        operations.cancel(conference, current_user, CancelIn().load({"reason": request.form.get("reason", "").strip()})
                          ["reason"])
    except (ValidationError, Invalid) as exc:
        return _refused(conference, basis, exc, "cancel")
    flash(gettext("Conference cancelled."), "success")
    if operations.visible_basis(current_user, conference) is None:  # the invitation was the only need to know
        return redirect(url_for("conferencing.index"))
    return redirect(url_for("conferencing.conference_page", conference_id=conference.id))
