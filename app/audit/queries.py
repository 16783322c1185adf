"""The audit log listing: rows matching a search, newest first, a page at a time.

The log imports neither users (``org``) nor case files (``cases``): the page hands in the users searched
for and a ``CaseIndex``, so the package stays at the bottom, writable from every layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from flask_smorest.pagination import PaginationParameters

from app.common.endpoints import PeekPage
from app.extensions import db

from .models import AuditEvent

PAGE_SIZE = 100


class CaseIndex(Protocol):
    """What the audit log needs from case files, which live above it (``app.cases.queries.CASE_INDEX``)."""

    def in_region(self, region_id: int | None) -> sa.Select[int]:
        """Ids of the cases in a region and below it (none for no region)."""

    def matching(self, ref: str) -> sa.Select[int]:
        """Ids of the cases whose number, or id, is ``ref``."""

    def numbers(self, case_ids: set[int]) -> dict[int, str]:
        """Case numbers by id, for display."""


@dataclass(frozen=True)
class AuditSearch:
    """A search of the log; ``None`` does not filter. ``start``/``end`` are instants (``end`` excluded).

    ``user_ids`` selects the users searched for: users are ``org``'s, and the log does not import it.
    """

    user_ids: sa.Select[int] | None = None
    no_case_by: sa.Select[int] | None = None
    """Rows about no case only by these users (a coordinator: their own county's people); None: all (admins)."""
    case: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditEvent]
    more: bool
    case_numbers: dict[int, str]


def search(cases: CaseIndex, region_id: int | None, terms: AuditSearch, page: int) -> AuditPage:
    """One page of the rows a viewer of ``region_id`` may see.

    Rows about a case only for the county that holds it (need to know); rows about no case (logins,
    admin changes) carry no child's data, and a coordinator sees those of their own county's people only.
    """
    stmt = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    no_case: sa.ColumnElement[bool] = AuditEvent.case_id.is_(None)
    if terms.no_case_by is not None:
        no_case = sa.and_(no_case, AuditEvent.user_id.in_(terms.no_case_by))
    stmt = stmt.where(sa.or_(no_case, AuditEvent.case_id.in_(cases.in_region(region_id))))
    if terms.user_ids is not None:
        stmt = stmt.where(AuditEvent.user_id.in_(terms.user_ids))
    if terms.case is not None:
        stmt = stmt.where(AuditEvent.case_id.in_(cases.matching(terms.case)))
    if terms.action is not None:
        stmt = stmt.where(AuditEvent.action == terms.action)
    if terms.start:
        stmt = stmt.where(AuditEvent.at >= terms.start)
    if terms.end:
        stmt = stmt.where(AuditEvent.at < terms.end)
    found = PeekPage(stmt, PaginationParameters(page, PAGE_SIZE))  # the log is never counted
    rows = found.items
    numbers = cases.numbers({r.case_id for r in rows if r.case_id}) if rows else {}
    return AuditPage(rows=rows, more=found.more, case_numbers=numbers)


def actions() -> list[str]:
    """Every action the log holds, for the search form."""
    return [a for (a,) in db.session.execute(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action))]
