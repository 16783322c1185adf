"""Telling a case's units what happened on it outside their tasks (a further report joined the case; the police
handled a case in a township's area; a village filed its quarterly verification), and a supervising unit of a finding
about a mandatory reporter it supervises."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from app.cases.access import task_workers, told_of_case, units_task_workers, works_in
from app.cases.models import Case, Report, ReportingFinding
from app.extensions import db
from app.notifications.operations import notify
from app.org.kinds import RegionLevel
from app.org.models import Unit, User, UserRole
from app.org.queries import region_chain
from app.org.roles import Role

from .models import Task


def tell_units_of_added_report(case: Case, *, report: Report, actor: User | None, **_: Any) -> None:
    """The liaisons and heads of every unit that has (or had) a task on the case, who have need to know it,
    get one notification (deduplicated per report): the new report may change what they do next."""
    units = sa.select(Task.unit_id).where(Task.case_id == case.id, Task.unit_id.is_not(None)).distinct()
    people = {u.id: u for u in db.session.scalars(units_task_workers(units))
              if actor is None or u.id != actor.id}
    told = told_of_case(people.values(), case.id)
    notify(told, "report_added", f"{case.number}: another report ({report.reporter_type}, {report.situation})",
           case_id=case.id, dedupe_key=f"report_added:{report.id}")


POLICE_HANDLED_STEP = "police_legal_disposition"
"""The police's "依法处置并通报乡镇" step: the policy has the police tell the township of the handling
(DOMAIN.md section 3, step 2), so its completion tells the township at once, not when its own task opens."""


def township_people(case: Case) -> list[User]:
    """Who speaks for the township of the case's area: the liaisons and head of its township government and its
    child supervisors, each only if they have need to know the case (a basis: the supervisor's jurisdiction).

    One SELECT finds them all (``region_chain`` reads the township from the session, or in one more), and
    ``told_of_case`` decides for all of them at once: a handful of statements however many people there are."""
    chain = region_chain(case.region_id)  # held while told_of_case runs: the session keeps it only while referenced
    township = next((r for r in chain if r.level == RegionLevel.TOWNSHIP), None)
    if township is None:
        return []
    government = sa.select(Unit.id).where(Unit.kind == "township", Unit.region_id == township.id)
    supervisors = sa.select(UserRole.user_id).where(UserRole.role == Role.CHILD_SUPERVISOR.value)
    people = db.session.scalars(sa.select(User).where(sa.or_(
        works_in(government),
        sa.and_(User.region_id == township.id, User.active.is_(True), User.id.in_(supervisors))))
        .options(lazyload(User.role_rows)).order_by(User.id)).all()
    return told_of_case(people, case.id)


def tell_township_of_police_handling(task: Task, *, case: Case, actor: User | None, **_: Any) -> None:
    """``task_completed``: the police finished handling a case in the township's area; one notice per
    township person with a basis (deduplicated per step, so a replayed completion tells nobody twice), held for the
    step's one notification INSERT after its flush (``notify(..., held=True)``)."""
    if task.bpmn_id != POLICE_HANDLED_STEP:
        return
    told = [u for u in township_people(case) if actor is None or u.id != actor.id]
    notify(told, "police_handled", f"{case.number}: the police have handled the case",
           body=task.name, case_id=case.id, dedupe_key=f"police_handled:{task.id}", held=True)


VILLAGE_VERIFIED_STEP = "village_quarterly_verification"
"""The village committee's quarterly verification (``bpmn/duty_village_verification``): filing it is the report to
the township (001 二（一）6 “并向乡镇（开发区）报告”), so the township hears of it at once."""


def tell_township_of_village_verification(task: Task, *, case: Case, actor: User | None, **_: Any) -> None:
    """``task_completed``: a village filed its quarterly verification; one notice per township person with a basis
    on the village's work file (deduplicated per step)."""
    if task.bpmn_id != VILLAGE_VERIFIED_STEP:
        return
    told = [u for u in township_people(case) if actor is None or u.id != actor.id]
    notify(told, "village_verified", f"{case.region.name}: quarterly verification filed",
           body=task.name, case_id=case.id, dedupe_key=f"village_verified:{task.id}", held=True)


def tell_supervising_unit_of_finding(finding: ReportingFinding, *, actor: User | None, **_: Any) -> None:
    """``finding_recorded``: the liaisons and heads of the unit that supervises the reporter get one notice each
    (no case attached: they read the finding, not the case; it opens at ``/findings/<id>``)."""
    told = [u for u in db.session.scalars(task_workers(finding.supervising_unit_id))
            if actor is None or u.id != actor.id]
    notify(told, "reporting_finding", f"{finding.reporter_unit.name} · No. {finding.id}",
           body=str(finding.id), dedupe_key=f"reporting_finding:{finding.id}")
