"""Names for one page of audit rows: people, units, places and records by name, one query per kind.

The log stores ids; the page shows "张三 (police_t01)", "Task: 入户走访", "Case conference: 个案会商". A
name typed about a child (a conference's title, a file's name) is shown only on rows whose case the reader
may open (``app.cases.access``); an administrator, who has no basis on any case, reads the case number only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext

from app.cases.access import case_access
from app.cases.models import Case
from app.conferences.models import Conference
from app.extensions import db
from app.org.labels import department_name
from app.org.models import ApiToken, Region, Unit, User
from app.processes.models import ProcessSpec
from app.tasks.models import Attachment, Task

from .describe import USER_KEYS, Names, ids_in
from .models import AuditEvent


def _ids(rows: Iterable[AuditEvent], object_type: str) -> set[int]:
    return {int(r.object_id) for r in rows if r.object_type == object_type and r.object_id.isdigit()}


def readable_cases(viewer: User, rows: list[AuditEvent]) -> set[int]:
    """The rows' cases the viewer may open: only there is text typed about a child shown."""
    case_ids = {r.case_id for r in rows if r.case_id}
    cases = db.session.scalars(sa.select(Case).where(Case.id.in_(case_ids))).all() if case_ids else []
    return {c.id for c in cases if case_access(viewer, c) is not None}


def _filters(rows: list[AuditEvent]) -> list[dict[str, Any]]:
    return [f for r in rows if isinstance(f := (r.detail or {}).get("filters"), dict)]


def names_for(rows: list[AuditEvent], readable: set[int]) -> Names:
    """Look up every id on the page (users, units, regions, tasks, records), a query per kind."""
    names = Names()
    user_ids = {r.user_id for r in rows if r.user_id} | _ids(rows, "user")
    for r in rows:
        user_ids |= ids_in(r.detail, USER_KEYS)
    if user_ids:
        names.people = {u.id: (u.display_name, u.username) for u in db.session.execute(
            sa.select(User.id, User.display_name, User.username).where(User.id.in_(user_ids)))}
        names.users = {uid: f"{shown} ({username})" for uid, (shown, username) in names.people.items()}
    unit_ids = set().union(*(ids_in(r.detail, ("unit_id",)) for r in rows)) if rows else set()
    if unit_ids:
        names.units = dict(db.session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))).all())
    region_ids = set().union(*(ids_in(r.detail, ("region_id",)) for r in rows)) if rows else set()
    region_ids |= {int(t) for f in _filters(rows) if str(t := f.get("township", "")).isdigit()}
    if region_ids:
        names.regions = dict(db.session.execute(sa.select(Region.id, Region.name)
                                                .where(Region.id.in_(region_ids))).all())
    task_ids = _ids(rows, "task") | {t for r in rows if isinstance(t := (r.detail or {}).get("task_id"), int)}
    if task_ids:
        names.tasks = dict(db.session.execute(sa.select(Task.id, Task.name).where(Task.id.in_(task_ids))).all())
    names.departments = {str(f["kind"]): department_name(str(f["kind"])) for f in _filters(rows) if f.get("kind")}
    _records(rows, readable, names)
    return names


def _records(rows: list[AuditEvent], readable: set[int], names: Names) -> None:
    hidden = gettext("(hidden: need to know)")
    if ids := _ids(rows, "conference"):
        for cid, title, case_id in db.session.execute(sa.select(Conference.id, Conference.title, Conference.case_id)
                                                      .where(Conference.id.in_(ids))):
            names.records[("conference", str(cid))] = title if case_id in readable else hidden
    if ids := _ids(rows, "attachment"):
        for aid, name, case_id in db.session.execute(sa.select(Attachment.id, Attachment.original_name,
                                                               Attachment.case_id).where(Attachment.id.in_(ids))):
            names.records[("attachment", str(aid))] = name if case_id in readable else hidden
    if ids := _ids(rows, "process_spec"):
        for sid, name, version in db.session.execute(sa.select(ProcessSpec.id, ProcessSpec.name, ProcessSpec.version)
                                                     .where(ProcessSpec.id.in_(ids))):
            names.records[("process_spec", str(sid))] = f"{name} v{version}"
    if ids := _ids(rows, "api_token"):
        for tid, name in db.session.execute(sa.select(ApiToken.id, ApiToken.name).where(ApiToken.id.in_(ids))):
            names.records[("api_token", str(tid))] = name
    panels = {"counties": gettext("On time and overdue, per county"),
              "overdue": gettext("Open and overdue (department × township)"), "ageing": gettext("How long overdue"),
              "escalations": gettext("Escalation notices (today / this week)"), "trend": gettext("Trend (by day)"),
              "on_time": gettext("Completed on time (by department)"),
              "on_time_step": gettext("Completed on time (by step)"), "tasks": gettext("Task list")}
    """The dashboard's panel titles, as its page shows them (the same message ids)."""
    for r in rows:
        if r.object_type == "dashboard":
            names.records[("dashboard", r.object_id)] = panels.get(r.object_id, r.object_id)
