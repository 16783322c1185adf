"""Need-to-know: who may see a case, and how much of it.

A liaison sees a case only while or after their unit has had a task on it, or
while their unit is invited to a conference on it (a conference's preparation
task alone does not count as work on the case);
child directors and supervisors see children of their village / township;
coordinators and admins see their county; a reporter sees only the number and
status of the cases they reported. Everything else is refused.
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa

from app.extensions import db
from app.org.models import Region, User
from app.org.roles import Role

from .models import Case, Report


class Basis(StrEnum):
    """Why a user may see a case; it decides how much they see."""

    COUNTY = "county"
    JURISDICTION = "jurisdiction"
    UNIT = "unit"
    CONFERENCE = "conference"
    """Invited to a case conference on it (their unit, or them by name), for as long as it is not cancelled."""
    REPORTER = "reporter"


SENSITIVE_ROLES = {Role.COUNTY_COORDINATOR, Role.CHILD_SUPERVISOR, Role.CHILD_DIRECTOR}


def _within(region: Region, jurisdiction_id: int | None) -> bool:
    return jurisdiction_id is not None and any(r.id == jurisdiction_id for r in region.ancestry())


def access_basis(user: User, case: Case) -> Basis | None:
    """The strongest reason ``user`` may see ``case``, or None (refuse)."""
    from app.conferences.queries import PREPARE_STEP, invited_to_case
    from app.tasks.models import Task

    roles = user.roles
    if roles & {Role.COUNTY_COORDINATOR, Role.ADMIN} and _within(case.region, user.region_id):
        return Basis.COUNTY
    if roles & {Role.CHILD_DIRECTOR, Role.CHILD_SUPERVISOR} and _within(case.region, user.region_id):
        return Basis.JURISDICTION
    if user.unit_id is not None and roles & {Role.LIAISON, Role.UNIT_HEAD}:
        had_task = db.session.scalar(sa.select(sa.exists().where(
            Task.case_id == case.id, Task.unit_id == user.unit_id, Task.bpmn_id != PREPARE_STEP)))
        if had_task:
            return Basis.UNIT
    if invited_to_case(user, case.id):
        return Basis.CONFERENCE
    reported = db.session.scalar(sa.select(sa.exists().where(
        Report.case_id == case.id, Report.submitted_by_id == user.id)))
    return Basis.REPORTER if reported else None


def sees_sensitive(user: User) -> bool:
    """ID numbers and guardians' phones are unmasked only for these roles."""
    return bool(user.roles & SENSITIVE_ROLES)


def mask(value: str | None, keep: int = 2) -> str | None:
    """``440***********1234`` style masking that still lets a person recognise a record."""
    if not value:
        return value
    if len(value) <= keep * 2:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - keep * 2) + value[-keep:]


def mask_name(name: str | None) -> str:
    """``李*明`` / ``李*``: the surname and last character, enough to tell rows apart in a queue."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def sees_names_in_lists(user: User) -> bool:
    """Full names in inbox lists only for roles that work with named children (see docs/web.md)."""
    return bool(user.roles & SENSITIVE_ROLES)


HARM_DETAIL_KINDS = {"police", "civil_affairs", "procuratorate", "court", "rescue_center", "welfare_institution"}
"""Department kinds that act on abuse and harm and so read the report's narrative."""


def sees_harm_details(user: User, basis: Basis) -> bool:
    """Report narratives (abuse details) for county, jurisdiction and the units that act on harm.

    A harm-acting unit invited to a case conference (the rescue centre, say) reads them as if it
    had a task on the case: deliberating on the case is what it was invited for. Other invited
    units (education, the township) see the case without the narratives, as with a task.
    """
    if basis in (Basis.COUNTY, Basis.JURISDICTION):
        return True
    return (basis in (Basis.UNIT, Basis.CONFERENCE) and user.unit is not None
            and user.unit.kind in HARM_DETAIL_KINDS)


def can_see_task(user: User, task: object) -> bool:
    """A task page is for its unit's members, and for county coordinators overseeing the work."""
    unit_id = getattr(task, "unit_id", None)
    if unit_id is not None and unit_id == user.unit_id:
        return True
    return user.has_role(Role.COUNTY_COORDINATOR)
