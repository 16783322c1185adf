"""Telling a case's units what happened on it outside their tasks (a further report joined the case)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.cases.access import may_be_told, task_workers
from app.cases.models import Case, Report
from app.extensions import db
from app.notifications.operations import notify
from app.org.models import User

from .models import Task


def tell_units_of_added_report(case: Case, *, report: Report, actor: User | None, **_: Any) -> None:
    """The liaisons and heads of every unit that has (or had) a task on the case, who have need to know it,
    get one notification (deduplicated per report): the new report may change what they do next."""
    units = [u for u in db.session.scalars(sa.select(Task.unit_id).where(Task.case_id == case.id).distinct())
             if u is not None]
    people: dict[int, User] = {}
    for unit_id in units:
        for user in db.session.scalars(task_workers(unit_id)):
            if actor is not None and user.id == actor.id:
                continue
            people.setdefault(user.id, user)
    told = [u for u in people.values() if may_be_told(u, case.id)]
    notify(told, "report_added", f"{case.number}: another report ({report.reporter_type}, {report.situation})",
           case_id=case.id, dedupe_key=f"report_added:{report.id}")
