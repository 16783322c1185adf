"""Reads about cases, shaped for the API and pages with need-to-know masking applied.

The case as a whole (its tasks, timers and instances too) is put together by the API and the page
(``api.case_view``), which sit above every package; this module reads only what cases owns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from app.common.inputs import bounded_int
from app.extensions import db
from app.org.models import User

from .access import Basis, knows_child, mask, mask_name, regions_within, require_case, sees_sensitive
from .models import Case, Child, ChildTag, TimelineEntry

HIDDEN_TAGS_UNLESS_SENSITIVE = {ChildTag.HIV.value}


def get_case_for(user: User, case_id: int) -> tuple[Case, Basis]:
    """The case if ``user`` may see it: 404 when it does not exist, 403 when not theirs."""
    access = require_case(user, case_id)
    return access.case, access.basis


TIMELINE_PER_PAGE = 50
"""Timeline entries per page on the case page and in ``GET /api/v1/cases/<id>/timeline``."""


def timeline_select(case_id: int, *, newest_first: bool = False) -> sa.Select[TimelineEntry]:
    """A case's timeline in time order, each entry with its actor and unit in the same statement (a page
    is one read, never one per row); page it with OFFSET/LIMIT."""
    order = (TimelineEntry.at.desc(), TimelineEntry.id.desc()) if newest_first else \
        (TimelineEntry.at, TimelineEntry.id)
    return (sa.select(TimelineEntry).where(TimelineEntry.case_id == case_id)
            .options(joinedload(TimelineEntry.actor), joinedload(TimelineEntry.unit)).order_by(*order))


def timeline(case_id: int) -> list[TimelineEntry]:
    return list(db.session.scalars(
        sa.select(TimelineEntry).where(TimelineEntry.case_id == case_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)))


@dataclass(frozen=True)
class GuardianView:
    name: str
    relation: str
    phone: str
    working_away: bool
    lives_with_child: bool


@dataclass(frozen=True)
class ChildView:
    """A child as a reader of the case sees it: the ID number masked and the ``hiv`` tag hidden unless their
    role needs them (``sees_sensitive``). Pages show it and ``ChildOut`` dumps it."""

    id: int
    name: str
    sex: str
    birth_date: date | None
    id_number: str | None
    village: str
    township: str
    tags: list[str]
    guardians: list[GuardianView]


def child_view(case: Case, user: User) -> ChildView | None:
    """The child, masked for ``user``; None for a region's work file, which is about no child."""
    child = case.child
    if child is None:
        return None
    sensitive = sees_sensitive(user)
    village = child.village
    return ChildView(
        id=child.id, name=child.name, sex=child.sex, birth_date=child.birth_date,
        id_number=child.id_number if sensitive else mask(child.id_number, 3),
        village=village.name, township=village.parent.name if village.parent else "",
        tags=[t for t in child.tags if sensitive or t not in HIDDEN_TAGS_UNLESS_SENSITIVE],
        guardians=[GuardianView(g.name, g.relation, g.phone, g.working_away, g.lives_with_child)
                   for g in child.guardians],
    )


@dataclass(frozen=True)
class LikelyMatch:
    """A child on file that may be the one being reported, as the person filing may see it.

    Someone who may see the child (``knows_child``) reads the name and open case number; anyone else
    (a teacher filing) reads only enough to recognise the child they described: the name masked, the
    birth date and village they typed, the ID number masked, the guardians' relations with masked names.
    """

    child_id: int
    name: str
    birth_date: date | None
    village: str
    township: str
    id_number: str | None
    guardians: list[str]
    has_open_case: bool
    open_case_number: str | None


def likely_view(child: Child, user: User | None) -> LikelyMatch:
    known = user is None or knows_child(user, child)
    open_case = db.session.scalar(sa.select(Case.number).where(
        Case.child_id == child.id, Case.kind == "protection", Case.status == "open").limit(1))
    village = child.village
    sensitive = known and user is not None and sees_sensitive(user)
    return LikelyMatch(
        child_id=child.id, name=child.name if known else mask_name(child.name), birth_date=child.birth_date,
        village=village.name, township=village.parent.name if village.parent else "",
        id_number=child.id_number if sensitive else mask(child.id_number, 3),
        guardians=[f"{g.relation}: {g.name if known else mask_name(g.name)}" for g in child.guardians],
        has_open_case=open_case is not None, open_case_number=open_case if known else None)


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
