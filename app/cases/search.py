"""Find a child or a case: every filter the desk asks for, only among what the user may open.

The visibility is the need-to-know rule in SQL (``access.Visibility``: its ``children()`` and ``cases()``), applied
before paging, so a result list, its total and its pages say nothing about children the user may not see.
A search by a case number or a phone finds only through cases and children the user may open.

**Why no trigram index.** PostgreSQL's pg_trgm serves ``LIKE '%…%'`` only for patterns of three or more
characters; most searches for a Chinese name are two characters (a given name, or the surname and one
character), which yield no trigram and fall back to scanning every row of the index. The name part is
therefore a plain ``LIKE`` over the children the user may see (a county holds thousands to tens of
thousands), with ``ix_child_name`` serving the surname (prefix) case; ``bench/search.py`` measures it at
county scale. Exact keys (ID number, phone, case number) are indexed equalities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from app.common.errors import Forbidden
from app.extensions import db
from app.org.models import Region, User

from .access import Visibility, mask, sees_sensitive, visibility
from .identity import normalise_id_number, normalise_name, phone_digits
from .models import Case, Child, ChildTag, Guardian
from .queries import HIDDEN_TAGS_UNLESS_SENSITIVE

SENSITIVE_TAGS = {ChildTag.HIV.value}
"""Tags that are hidden from roles that do not see them (``queries.HIDDEN_TAGS_UNLESS_SENSITIVE``), and so
cannot be searched by them either: a filtered list would say who carries the tag."""


@dataclass(frozen=True)
class Terms:
    """What was asked (each optional; all given must hold). ``q`` is the header's one box: any of name part,
    ID number, case number, guardian phone, village name."""

    q: str = ""
    name: str = ""
    id_number: str = ""
    case_number: str = ""
    village: str = ""
    guardian_phone: str = ""
    tag: str = ""
    status: str = ""
    kind: str = ""

    def given(self) -> dict[str, str]:
        """The terms as audited (what was asked, never what was found)."""
        return {k: v for k, v in self.__dict__.items() if v}


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _villages_named(text: str) -> sa.Select[int]:
    """A village by code (exactly) or by a part of its name."""
    return sa.select(Region.id).where(Region.level == "village", sa.or_(
        Region.code == text, Region.name.like(_like(text), escape="\\")))


def _tagged(tag: str) -> Any:
    """Portable JSON-list membership: the list's text holds the quoted code (codes are plain words)."""
    return sa.cast(Child.tags, sa.String).like(_like(f'"{tag}"'), escape="\\")


def _child_conditions(user: User, terms: Terms, visible: Visibility) -> list[Any]:
    if terms.tag in SENSITIVE_TAGS and not sees_sensitive(user):
        raise Forbidden("your role does not see that tag, so it cannot search by it")
    where: list[Any] = []
    if terms.name:
        where.append(Child.name.like(_like(normalise_name(terms.name)), escape="\\"))
    if terms.id_number:
        where.append(Child.id_number_norm == normalise_id_number(terms.id_number))
    if terms.case_number:
        where.append(Child.id.in_(sa.select(Case.child_id).where(
            Case.number == terms.case_number.strip().upper(), visible.cases())))
    if terms.village:
        where.append(Child.village_id.in_(_villages_named(terms.village.strip())))
    if terms.guardian_phone:
        where.append(Child.id.in_(sa.select(Guardian.child_id).where(
            Guardian.phone_digits == phone_digits(terms.guardian_phone))))
    if terms.tag:
        where.append(_tagged(terms.tag))
    if q := terms.q.strip():
        either: list[Any] = [Child.name.like(_like(normalise_name(q)), escape="\\"),
                             Child.village_id.in_(_villages_named(q))]
        if norm := normalise_id_number(q):
            either.append(Child.id_number_norm == norm)
        either.append(Child.id.in_(sa.select(Case.child_id).where(
            Case.number == q.upper(), visible.cases())))
        if len(digits := phone_digits(q)) >= 7 and digits == q.replace(" ", "").replace("-", ""):
            either.append(Child.id.in_(sa.select(Guardian.child_id).where(Guardian.phone_digits == digits)))
        where.append(sa.or_(*either))
    return where


def find_children(user: User, terms: Terms) -> sa.Select[Child]:
    """Children matching ``terms`` that ``user`` may see (merged files left out), by name."""
    visible = visibility(user)
    return (sa.select(Child).where(visible.children(), Child.merged_into_id.is_(None),
                                   *_child_conditions(user, terms, visible))
            .order_by(Child.name, Child.id))


def find_cases(user: User, terms: Terms) -> sa.Select[Case]:
    """Cases matching ``terms`` that ``user`` may open, newest first. Child terms apply to the case's child;
    ``q`` also finds work files by title."""
    visible = visibility(user)
    where: list[Any] = [visible.cases()]
    child_terms = Terms(**{**terms.__dict__, "status": "", "kind": "", "case_number": "", "q": ""})
    if child_terms.given():
        where.append(Case.child_id.in_(sa.select(Child.id).where(*_child_conditions(user, child_terms, visible))))
    if terms.case_number:
        where.append(Case.number == terms.case_number.strip().upper())
    if terms.status:
        where.append(Case.status == terms.status)
    if terms.kind:
        where.append(Case.kind == terms.kind)
    if q := terms.q.strip():
        where.append(sa.or_(Case.number == q.upper(), Case.title.like(_like(q), escape="\\"),
                            Case.child_id.in_(sa.select(Child.id).where(
                                *_child_conditions(user, Terms(q=q), visible)))))
    return sa.select(Case).where(*where).order_by(Case.opened_at.desc(), Case.id.desc())


def child_rows(user: User, children: list[Child]) -> list[dict[str, Any]]:
    """A page of found children as ``user`` may read them (the child file's masking), each with the cases
    on it the user may open: two statements for the page (its cases; villages are in the identity map)."""
    sensitive = sees_sensitive(user)
    ids = [c.id for c in children]
    cases: dict[int, list[Case]] = {i: [] for i in ids}
    if ids:
        for case in db.session.scalars(sa.select(Case).where(Case.child_id.in_(ids),
                                                             visibility(user).cases())
                                       .options(lazyload(Case.child))
                                       .order_by(Case.opened_at.desc(), Case.id.desc())):
            cases[case.child_id or 0].append(case)
    rows = []
    for child in children:
        village = child.village
        rows.append({
            "id": child.id, "name": child.name, "sex": child.sex, "birth_date": child.birth_date,
            "id_number": child.id_number if sensitive else mask(child.id_number, 3),
            "village": village.name, "township": village.parent.name if village.parent else "",
            "tags": [t for t in child.tags if sensitive or t not in HIDDEN_TAGS_UNLESS_SENSITIVE],
            "cases": [{"id": c.id, "number": c.number, "kind": c.kind, "status": c.status,
                       "opened_at": c.opened_at} for c in cases[child.id]],
        })
    return rows
