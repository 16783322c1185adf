"""Reads about cases, shaped for the API and pages with need-to-know masking applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.common.inputs import bounded_int
from app.extensions import db
from app.org.models import User
from app.processes.queries import instances_of_case
from app.tasks.models import Task
from app.tasks.queries import open_tasks_of_case
from app.tasks.timers import incident_view, incidents_for

from .access import Basis, CaseAccess, mask, regions_within, require_case, sees_sensitive
from .models import Case, ChildTag, TimelineEntry

HIDDEN_TAGS_UNLESS_SENSITIVE = {ChildTag.HIV.value}


def get_case_for(user: User, case_id: int) -> tuple[Case, Basis]:
    """The case if ``user`` may see it: 404 when it does not exist, 403 when not theirs."""
    access = require_case(user, case_id)
    return access.case, access.basis


def timeline(case_id: int) -> list[TimelineEntry]:
    return list(db.session.scalars(
        sa.select(TimelineEntry).where(TimelineEntry.case_id == case_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)))


def child_view(case: Case, user: User) -> dict[str, Any] | None:
    """The child, masked for ``user``; None for a region's work file, which is about no child."""
    child = case.child
    if child is None:
        return None
    sensitive = sees_sensitive(user)
    village = child.village
    return {
        "id": child.id, "name": child.name, "sex": child.sex, "birth_date": child.birth_date,
        "id_number": child.id_number if sensitive else mask(child.id_number, 3),
        "village": village.name, "township": village.parent.name if village.parent else "",
        "tags": [t for t in child.tags if sensitive or t not in HIDDEN_TAGS_UNLESS_SENSITIVE],
        "guardians": [
            {"name": g.name, "relation": g.relation, "phone": g.phone, "working_away": g.working_away,
             "lives_with_child": g.lives_with_child}
            for g in child.guardians
        ],
    }


def case_view(access: CaseAccess, at: datetime) -> dict[str, Any]:
    """The API's case, cut to what ``access`` allows (the same parts the case page shows)."""
    case, basis, user = access.case, access.basis, access.user
    view: dict[str, Any] = {
        "id": case.id, "number": case.number, "kind": case.kind, "title": case.title, "status": case.status,
        "situation": case.situation,
        "opened_at": case.opened_at, "closed_at": case.closed_at, "access": basis.value,
        "grade": None, "help_tier": None, "child": None, "reports": [], "open_tasks": [], "instances": [],
        "timeline": [],
    }
    if basis == Basis.REPORTER:
        return view
    view.update(grade=case.grade, help_tier=case.help_tier, child=child_view(case, user))
    view["reports"] = [
        {"id": r.id, "reporter_type": r.reporter_type, "reporter_name": r.reporter_name,
         "reporter_unit": r.reporter_unit.name if r.reporter_unit else None, "situation": r.situation,
         "description": r.description if access.narratives else None, "received_at": r.received_at}
        for r in case.reports
    ]
    view["open_tasks"] = [
        {"id": t.id, "bpmn_id": t.bpmn_id, "name": t.name,
         "unit": {"id": t.unit.id, "name": t.unit.name, "kind": t.unit.kind} if t.unit else None,
         "assignee": t.assignee.display_name if t.assignee else None, "due_at": t.due_at,
         "overdue": t.is_overdue(at)}
        for t in open_tasks_of_case(case.id)
    ]
    incidents = incidents_for(user, case.id)
    view["instances"] = [
        {"id": i.id, "process": i.spec.process_key, "version": i.spec.version, "status": i.status,
         "end_event": i.end_event,
         "incidents": [incident_view(x) for x in incidents if x.instance_id == i.id]}
        for i in instances_of_case(case.id)
    ]
    tasks = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.case_id == case.id))}
    view["timeline"] = []
    for e in timeline(case.id):
        task = tasks.get(e.task_id) if e.task_id is not None else None
        summary, detail = access.timeline_entry(e.kind, e.summary, e.detail or {}, task)
        view["timeline"].append({"at": e.at, "kind": e.kind, "summary": summary, "task_id": e.task_id,
                                 "actor": e.actor.display_name if e.actor else None,
                                 "unit": e.unit.name if e.unit else None, "detail": detail})
    return view


class CasesForAudit:
    """The ``app.audit.queries.CaseIndex`` of case files: the audit page is below cases, so it is handed this."""

    def in_region(self, region_id: int | None) -> sa.Select[int]:
        if region_id is None:
            return sa.select(Case.id).where(sa.false())
        return sa.select(Case.id).where(Case.region_id.in_(regions_within(region_id)))

    def matching(self, ref: str) -> sa.Select[int]:
        return sa.select(Case.id).where(sa.or_(Case.number == ref, Case.id == (bounded_int(ref) or -1)))

    def numbers(self, case_ids: set[int]) -> dict[int, str]:
        return {c.id: c.number or "" for c in db.session.scalars(sa.select(Case).where(Case.id.in_(case_ids)))}


CASE_INDEX = CasesForAudit()
