"""Need-to-know: the one access decision behind every page, API endpoint, download, export and notice.

Who may see which case, and how much of it (the table is in ``docs/security.md``, "Need-to-know"):

- a **basis** says why a user may see a case at all (``access_basis``): coordinators and admins of the
  county; child directors and supervisors whose village / township holds the case; liaisons and unit
  heads of a unit that has (or had) a task on it; a unit (as liaison / head) or a person invited to a
  live case conference on it; the reporter, who sees only the number and status of what they reported.
  No basis, no access: there is no fallback to "their unit" anywhere.
- ``CaseAccess`` answers the finer questions for one user and one case: identity fields, ID numbers
  and the HIV tag, report narratives and the free text of each step (the read matrix of
  ``app.cases.read_matrix``: which parts each department kind reads), each attachment (which follows
  the step it was attached to), timeline entries, task pages.
- **Tasks** are for the people who work them: a task page needs the role that works tasks (liaison or
  unit head of the task's unit, or a county coordinator overseeing the county) AND a basis on its case.
  A reporter-only member of a unit (a teacher who files reports) works no tasks and sees none.
- **Notifications** go only to users who may open what they point at (``may_be_told``).

Unknown ids answer 404; an id that exists without a basis answers 403 (the same for pages and API), so
the answer says nothing about a case beyond "not yours".

The rule lives here; two of its facts live higher up (a unit's tasks in ``app.tasks``, conference teams in
``app.conferences``), so those packages register a **basis provider** at app creation
(``register_basis``) instead of this module importing them (docs/architecture.md, "Layers").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import aliased, lazyload

from app.common.clock import now
from app.common.errors import Forbidden, NotFound
from app.extensions import db
from app.org.absence import away_now
from app.org.kinds import ABOVE_COUNTY
from app.org.models import Region, User, UserRole
from app.org.queries import load_roles, region_chain
from app.org.roles import Role

from .models import Case, Child, Report
from .read_matrix import Part, step_part, unit_reads


class Basis(StrEnum):
    """Why a user may see a case; it decides how much they see."""

    COUNTY = "county"
    JURISDICTION = "jurisdiction"
    UNIT = "unit"
    CONFERENCE = "conference"
    """Invited to a case conference on it (their unit, or them by name), for as long as it is not cancelled."""
    REPORTER = "reporter"


SENSITIVE_ROLES = {Role.COUNTY_COORDINATOR, Role.CHILD_SUPERVISOR, Role.CHILD_DIRECTOR}
TASK_WORKER_ROLES = (Role.LIAISON, Role.UNIT_HEAD)
"""The roles that work a unit's tasks; a unit member without one (a reporter) works none."""
NARRATIVE_TIMELINE_KINDS = ("task_comment", "report_received", "report_added", "attachment_added")
"""Timeline entries whose text is a narrative (a comment's words, the report, a file's name)."""


class Step(Protocol):
    """What the rule reads of a task (``app.tasks.models.Task``): its case and the unit that works it."""

    @property
    def case_id(self) -> int: ...
    @property
    def unit_id(self) -> int | None: ...
    @property
    def bpmn_id(self) -> str: ...


class Attached(Protocol):
    """What the rule reads of an attachment: the step it was attached to."""

    @property
    def task(self) -> Step: ...


BasisProvider = Callable[[User, int], bool]
"""``provider(user, case_id)``: does this fact hold for the user and the case? (a read, no writes)"""
BasisQuery = Callable[[User], "sa.Select[int] | sa.CompoundSelect[int]"]
"""``query(user)``: the same fact as SQL, the ids of every case it holds for (searches and lists page in SQL)."""

_providers: dict[Basis, BasisProvider] = {}
_queries: dict[Basis, BasisQuery] = {}


def register_basis(basis: Basis, provider: BasisProvider, query: BasisQuery | None = None) -> None:
    """Called by ``create_app`` (through the providers' packages); registering again replaces the provider.

    ``Basis.UNIT``: the user's unit has or had a task on the case (asked only of people who work tasks).
    ``Basis.CONFERENCE``: the user (by unit or by name) is invited to a live conference on the case.
    ``query`` states the same fact in SQL for ``visible_cases``; without it searches grant nothing on it.
    A basis nobody provided is never granted: a missing basis means no access.
    """
    if basis not in (Basis.UNIT, Basis.CONFERENCE):
        raise ValueError(f"basis {basis} is decided here, not provided")
    _providers[basis] = provider
    if query is not None:
        _queries[basis] = query
    else:
        _queries.pop(basis, None)


def _provided(basis: Basis, user: User, case_id: int) -> bool:
    provider = _providers.get(basis)
    return provider is not None and provider(user, case_id)


def _within(region: Region, jurisdiction_id: int | None) -> bool:
    """Whether ``region`` lies in the jurisdiction. A city or province is no jurisdiction over a child: the
    people placed there see per-county numbers, never a case (several counties share one deployment)."""
    return jurisdiction_id is not None and any(
        r.id == jurisdiction_id and r.level not in ABOVE_COUNTY for r in region.ancestry())


def works_tasks(user: User) -> bool:
    """A liaison or unit head of a unit: the people whose queue holds tasks."""
    return user.unit_id is not None and user.has_role(*TASK_WORKER_ROLES)


def oversees_tasks(user: User) -> bool:
    """A county coordinator with a jurisdiction reads (never works) the tasks of the cases in it."""
    return (user.region_id is not None and user.has_role(Role.COUNTY_COORDINATOR)
            and user.region is not None and user.region.level not in ABOVE_COUNTY)


def access_basis(user: User, case: Case) -> Basis | None:
    """The strongest reason ``user`` may see ``case``, or None (refuse)."""
    roles = user.roles
    if roles & {Role.COUNTY_COORDINATOR, Role.ADMIN} and _within(case.region, user.region_id):
        return Basis.COUNTY
    if roles & {Role.CHILD_DIRECTOR, Role.CHILD_SUPERVISOR} and _within(case.region, user.region_id):
        return Basis.JURISDICTION
    if works_tasks(user) and _provided(Basis.UNIT, user, case.id):
        return Basis.UNIT
    if _provided(Basis.CONFERENCE, user, case.id):
        return Basis.CONFERENCE
    reported = db.session.scalar(sa.select(sa.exists().where(
        Report.case_id == case.id, Report.submitted_by_id == user.id)))
    return Basis.REPORTER if reported else None


def _jurisdiction(user: User) -> int | None:
    """The region a coordinator, admin, director or supervisor sees cases in (never above a county)."""
    if not user.roles & {Role.COUNTY_COORDINATOR, Role.ADMIN, Role.CHILD_DIRECTOR, Role.CHILD_SUPERVISOR}:
        return None
    region = user.region
    return region.id if region is not None and region.level not in ABOVE_COUNTY else None


@dataclass(frozen=True)
class Visibility:
    """``access_basis`` in SQL for one user (the reporter's basis left out): what a search or list may show.

    The jurisdiction's regions are read once (a county's few hundred ids) and compared as a list, so the
    conditions can be repeated in one statement (``bench/search.py`` measures them at 10,000 and 100,000
    children). ``tests/cases/test_search.py`` holds ``cases()`` equal to
    ``access_basis`` for every demo user and case.
    """

    user: User
    regions: tuple[int, ...]

    def cases(self, case: Any = Case) -> Any:
        """A condition on ``case`` (``Case`` or an alias): the user may open it beyond its number and status."""
        parts: list[Any] = []
        if self.regions:
            parts.append(case.region_id.in_(self.regions))
        if works_tasks(self.user) and (unit := _queries.get(Basis.UNIT)) is not None:
            parts.append(case.id.in_(unit(self.user)))
        if (conference := _queries.get(Basis.CONFERENCE)) is not None:
            parts.append(case.id.in_(conference(self.user)))
        return sa.or_(*parts) if parts else sa.false()

    def children(self) -> Any:
        """A condition on ``Child`` (``knows_child`` in SQL): in the jurisdiction, or with a case the user may
        open. The jurisdiction's villages come first: for a coordinator they hold every child, and the set of
        children through cases (an uncorrelated subquery, hashed once) is then never built."""
        seen = _seen_case()
        parts: list[Any] = [Child.id.in_(sa.select(seen.child_id).where(seen.child_id.is_not(None),
                                                                          self.cases(seen)))]
        if self.regions:
            parts.insert(0, Child.village_id.in_(self.regions))
        return sa.or_(*parts)


@functools.cache
def _seen_case() -> Any:
    """The alias of ``Case`` in ``Visibility.children``, made once: a new alias builds each attribute's proxy again
    on first use (~80 us apiece)."""
    return aliased(Case)


def visibility(user: User) -> Visibility:
    region_id = _jurisdiction(user)
    regions = tuple(db.session.scalars(regions_within(region_id))) if region_id is not None else ()
    return Visibility(user, regions)


def visible_cases(user: User) -> sa.Select[int]:
    """The ids of the cases ``user`` may open beyond their number and status (``Visibility.cases``)."""
    return sa.select(Case.id).where(visibility(user).cases())


def knows_child(user: User, child: Child) -> bool:
    """May ``user`` name an existing child by id (a report about a child already on file)?

    Only someone who could already see that child: the county or jurisdiction over the child's
    village, or a basis beyond "reporter" on one of the child's cases. Anyone else (a teacher who
    files reports, a stolen token) must describe the child instead; otherwise an id would let them
    open cases on any child in the county and learn which ids exist.
    """
    roles = user.roles
    if roles & {Role.COUNTY_COORDINATOR, Role.ADMIN, Role.CHILD_DIRECTOR, Role.CHILD_SUPERVISOR} \
            and _within(child.village, user.region_id):
        return True
    cases = db.session.scalars(sa.select(Case).where(Case.child_id == child.id)).all()
    return any(access_basis(user, case) not in (None, Basis.REPORTER) for case in cases)


def sees_sensitive(user: User) -> bool:
    """ID numbers and the HIV tag are unmasked only for these roles."""
    return bool(user.roles & SENSITIVE_ROLES)


def reads_part(user: User, basis: Basis, part: Part) -> bool:
    """The read matrix (``app.cases.read_matrix``) for one user: county and jurisdiction read every part; a
    unit (by its task or its invitation to a conference) reads the parts its department kind reads. Someone
    invited by name without a unit reads no part beyond the case itself."""
    if basis in (Basis.COUNTY, Basis.JURISDICTION):
        return True
    return (basis in (Basis.UNIT, Basis.CONFERENCE) and user.unit is not None
            and unit_reads(user.unit.kind, part))


@dataclass(frozen=True)
class CaseAccess:
    """What one user may see of one case: every part of a case asks here, nowhere else."""

    user: User
    case: Case
    basis: Basis

    @property
    def detail(self) -> bool:
        """Anything beyond the number and status: the child, steps, timeline, conferences."""
        return self.basis != Basis.REPORTER

    @property
    def sensitive(self) -> bool:
        """Unmasked ID numbers and the HIV tag."""
        return self.detail and sees_sensitive(self.user)

    @property
    def narratives(self) -> bool:
        """Report narratives (and a conference's decisions, which quote them): the matrix's report column."""
        return reads_part(self.user, self.basis, Part.REPORT)

    @property
    def care_duties(self) -> bool:
        """The care programme's file (entrusted caregivers, duty records): the matrix's care duties column."""
        return reads_part(self.user, self.basis, Part.DUTY)

    def step_text(self, task: Step) -> bool:
        """A step's free text: where the matrix lets the user's unit read the step's part, or when the user's
        own unit worked the step."""
        if not self.detail:
            return False
        return (reads_part(self.user, self.basis, step_part(task.bpmn_id))
                or (works_tasks(self.user) and task.unit_id == self.user.unit_id))

    def attachment(self, attachment: Attached) -> bool:
        """A file follows the step it was attached to (a scanned statement is the narrative it carries)."""
        return self.step_text(attachment.task)

    def task(self, task: Step) -> bool:
        """A task page: its unit's liaisons and head, or a coordinator overseeing the county."""
        if not self.detail or task.case_id != self.case.id:
            return False
        if works_tasks(self.user) and task.unit_id is not None and task.unit_id == self.user.unit_id:
            return True
        return self.basis == Basis.COUNTY and oversees_tasks(self.user)

    def timeline_text(self, kind: str, task: Step | None = None) -> bool:
        """Whether the entry's words may be shown: a comment's text, the report and a file's name are
        narratives: of the step they belong to (its part in the read matrix), else of the report."""
        if kind not in NARRATIVE_TIMELINE_KINDS:
            return self.detail
        return self.step_text(task) if task is not None else self.narratives

    def timeline_entry(self, kind: str, summary: str, detail: dict[str, Any],
                       task: Step | None = None) -> tuple[str, dict[str, Any]]:
        """(summary, detail) of a timeline entry as this user may read it.

        Narrative entries lose their words; a completed step's data carries its free text, so it is
        shown only to those who may read that step's text.
        """
        if not self.timeline_text(kind, task):
            return "", {k: v for k, v in detail.items() if k in ("comment_id", "report_id", "reporter_type",
                                                                   "situation", "attachment_id")}
        if "data" in detail and (task is None or not self.step_text(task)):
            return summary, {k: v for k, v in detail.items() if k != "data"}
        return summary, detail


def case_access(user: User, case: Case) -> CaseAccess | None:
    basis = access_basis(user, case)
    return None if basis is None else CaseAccess(user, case, basis)


def require_case(user: User, case_id: int, *, detail: bool = False) -> CaseAccess:
    """The user's access to a case: 404 unknown, 403 without a basis (or only the reporter's, if
    ``detail``: the page or endpoint shows more than the number and status)."""
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    access = case_access(user, case)
    if access is None or (detail and not access.detail):
        raise Forbidden("you have no need to know this case")
    return access


def task_access(user: User, task: Step) -> CaseAccess | None:
    """The user's access to the task's case if they may open the task, else None."""
    if not (works_tasks(user) or oversees_tasks(user)):
        return None
    case = db.session.get(Case, task.case_id)
    access = case_access(user, case) if case is not None else None
    return access if access is not None and access.task(task) else None


def can_see_task(user: User, task: Step) -> bool:
    return task_access(user, task) is not None


def require_task(user: User, task: Step) -> CaseAccess:
    """403 unless the user may open the task (the caller has already answered 404 for unknown ids)."""
    access = task_access(user, task)
    if access is None:
        raise Forbidden("this task belongs to another unit")
    return access


def regions_within(region_id: int, name: str = "within") -> sa.Select[int]:
    """A region and every region below it, as a recursive SELECT of ids (``name``: the CTE's, unique within
    one statement)."""
    tree = sa.select(Region.id).where(Region.id == region_id).cte(name, recursive=True)
    below = sa.select(Region.id).join(tree, Region.parent_id == tree.c.id)
    return sa.select(tree.union_all(below).c.id)


def lists_tasks(user: User) -> bool:
    """Whether the user has a task list at all (the role that works or oversees tasks)."""
    return works_tasks(user) or oversees_tasks(user)


def task_workers(unit_id: int) -> sa.Select[User]:
    """Active liaisons and heads of a unit: who is told of its tasks (never its reporter-only members).

    Roles are tested in SQL and not loaded, so telling a unit costs one statement.
    """
    return units_task_workers([unit_id])


def units_task_workers(unit_ids: Collection[int] | sa.Select[Any]) -> sa.Select[User]:
    """``task_workers`` of several units in one statement (a step that opens parallel tasks tells each unit),
    ordered by unit, then user. Who is away now is left out: whoever stands in for them is a member of the
    same unit (``app.org.absence``, the substitution rule), so telling the unit already tells them."""
    return (sa.select(User).where(works_in(unit_ids if isinstance(unit_ids, sa.Select) else list(unit_ids)))
            .options(lazyload(User.role_rows)).order_by(User.unit_id, User.id))


def works_in(unit_ids: Any) -> Any:
    """The condition of ``units_task_workers`` on ``User``: ``unit_ids`` a list of ids or a SELECT of them (a
    sender that finds the units and their people in one statement)."""
    return sa.and_(User.unit_id.in_(unit_ids), task_worker(now()))


def task_worker(at: Any) -> Any:
    """The condition on ``User`` of a unit's people told of its tasks at ``at`` (a time, or a bound parameter for a
    statement built once): active, a liaison or head, not away."""
    works = sa.select(UserRole.user_id).where(UserRole.role.in_([r.value for r in TASK_WORKER_ROLES]))
    return sa.and_(User.active.is_(True), User.id.in_(works), User.id.not_in(away_now(at)))


def may_be_told(user: User, case_id: int | None, task_id: int | None = None) -> bool:
    """A notification names a case (and maybe one of its tasks): its recipient must have need to know the
    case beyond its number. Every open task's name, unit and due time is on the case page, so that is
    enough for a notice about a task; opening it leads to the task page only where ``can_see_task``."""
    if case_id is None:
        return True
    case = db.session.get(Case, case_id)
    access = case_access(user, case) if case is not None else None
    return access is not None and access.detail


WHOLE_REGION_ROLES = {Role.COUNTY_COORDINATOR, Role.ADMIN, Role.CHILD_DIRECTOR, Role.CHILD_SUPERVISOR}
"""The roles whose basis is their region (``Basis.COUNTY``, ``Basis.JURISDICTION``)."""


def told_of_case(users: Iterable[User], case_id: int | None) -> list[User]:
    """``may_be_told`` for a list of users on one case, decided at once: the users who may be told, in the order
    given. The same rule and the same answers (``tests/cases/test_told_of_case.py`` holds them equal for every
    demo user on several cases), in at most three statements whatever the number of users, where the per-user
    rule costs up to five each: the roles of users loaded without them, the case's region and those above it
    (none when the session holds them), and one SELECT asking the unit and conference facts of everyone their
    region does not already cover (their registered SQL, ``register_basis``). The reporter's basis never lets a
    notice through (it shows only the number), so it is not asked."""
    people = list(users)
    if case_id is None or not people:
        return people
    case = db.session.get(Case, case_id)
    if case is None:
        return []
    load_roles(people)
    inside = {r.id for r in region_chain(case.region_id) if r.level not in ABOVE_COUNTY}
    told = {u.id for u in people if u.region_id in inside and u.roles & WHOLE_REGION_ROLES}
    told |= _provided_to(case.id, [u for u in people if u.id not in told])
    return [u for u in people if u.id in told]


def _provided_to(case_id: int, users: list[User]) -> set[int]:
    """The ids of ``users`` holding the unit basis (if they work tasks) or the conference basis on the case: one
    SELECT of one EXISTS per user over the registered SQL of those facts (a provider registered without SQL is
    asked per user)."""
    columns: list[Any] = []
    asked: list[int] = []
    told: set[int] = set()
    case = sa.literal(case_id, sa.Integer)
    for user in users:
        parts: list[Any] = []
        for basis in (Basis.UNIT, Basis.CONFERENCE):
            if basis == Basis.UNIT and not works_tasks(user):
                continue
            query = _queries.get(basis)
            if query is not None:
                # ``:case IN (the registered SELECT)``, not an EXISTS over it as a subquery: the same answer (a NULL
                # counts as no), without building the subquery's column collection per user (~a third of the CPU
                # of deciding for a township's people)
                parts.append(case.in_(query(user)))
            elif _provided(basis, user, case_id):
                told.add(user.id)
        if parts and user.id not in told:
            columns.append(sa.or_(*parts))
            asked.append(user.id)
    if columns:
        row = db.session.execute(sa.select(*columns)).one()
        told.update(user_id for user_id, held in zip(asked, row, strict=True) if held)
    return told


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
