"""Which child and which case a report goes to: one file per child (一人一档).

- A child named by id: someone who may see that child (``access.knows_child``), or the person filing
  who was shown that child as a likely match of what they described (``ChildIn.id`` picked from
  ``likely_matches``: checked again here, so an id alone opens nothing).
- The same ID number in the county (``matching``): the same child, whatever else the report says.
- The same name, birth date and village without a different ID number: held, nothing filed, the likely
  matches go back to the person filing, who picks one or confirms a new child (``confirm_new_child``).
- Otherwise a new child. Two reports about one new ID number at once: the unique index lets one insert;
  the other's insert fails inside a savepoint (on PostgreSQL after waiting for the first to commit), and
  it takes the winner's child instead.

Then the case: the child's open protection case gets the report (the child row is locked first, so two
reports about one child at once cannot both open a case); a child without one gets a new case.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.common.clock import now
from app.common.dialect import for_update
from app.common.errors import Invalid, NotFound
from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region, User
from app.org.queries import load_ancestries, region_by_code

from .access import knows_child
from .matching import ChildFacts, match_child
from .models import Case, Child, Guardian


@dataclass(frozen=True)
class ChildFound:
    """The child a report is about; ``likely`` set (and ``child`` None) when the person filing must choose."""

    child: Child | None
    known: bool = False
    """An existing file (by id, by ID number, or a likely match picked)."""
    likely: tuple[Child, ...] = ()


def _village(code: str | None) -> Region:
    village = region_by_code(code or "")
    if village is None or village.level != RegionLevel.VILLAGE:
        raise Invalid("unknown village", {"child.village": [f"no village with code {code!r}"]})
    return village


def _facts(payload: dict[str, Any], village: Region) -> ChildFacts:
    return ChildFacts(name=payload.get("name"), birth_date=payload.get("birth_date"), village_id=village.id,
                      id_number=payload.get("id_number") or None)


def _by_id(payload: dict[str, Any], user: User | None) -> Child:
    child = db.session.get(Child, payload["id"])
    if child is not None and child.merged_into_id is not None:
        child = db.session.get(Child, child.merged_into_id)
    if child is None:
        raise NotFound(f"child {payload['id']} not found")
    if user is None or knows_child(user, child):
        return child
    # Not theirs to name, unless they were shown it as a likely match of the child they describe.
    if payload.get("village") and payload.get("name") and payload.get("birth_date"):
        village = _village(payload["village"])
        if child in match_child(_facts(payload, village), child.county_id).likely:
            return child
    raise NotFound(f"child {payload['id']} not found")


def _new_child(payload: dict[str, Any], village: Region) -> Child | None:
    """Insert the child; None when another transaction inserted one with this ID number first."""
    child = Child(
        name=payload["name"], sex=payload["sex"], birth_date=payload.get("birth_date"),
        id_number=payload.get("id_number") or None, village=village, address=payload.get("address", ""),
        tags=sorted(set(payload.get("tags", []))), created_at=now(),
    )
    child.guardians = [Guardian(**g) for g in payload.get("guardians", [])]
    try:
        with db.session.begin_nested():
            db.session.add(child)
            db.session.flush()
    except IntegrityError:
        if child.id_number_norm is None:
            raise
        return None
    return child


def find_child(payload: dict[str, Any], user: User | None, *, confirm_new: bool = False) -> ChildFound:
    """The child of a report's ``child`` part (see the module docstring); creates it when new."""
    if payload.get("id"):
        return ChildFound(_by_id(payload, user), known=True)
    village = _village(payload.get("village"))
    # Held while the child is made: its county (here, and in ``Child``'s village validator) comes from this one
    # read of the chain, not from one read per level up to the province (issue 17 part 3).
    chain = load_ancestries({village.id})
    county_id = next((r.id for r in village.ancestry() if r.level == RegionLevel.COUNTY), None)
    found = match_child(_facts(payload, village), county_id)
    if found.exact is not None:
        return ChildFound(found.exact, known=True)
    if found.likely and not confirm_new:
        return ChildFound(None, likely=found.likely)
    child = _new_child(payload, village)
    del chain
    if child is not None:
        return ChildFound(child)
    # Lost the race for this ID number: the winner has committed its child (and its case) by now.
    winner = match_child(_facts(payload, village)).exact
    if winner is None:  # pragma: no cover - the unique index said it exists
        raise Invalid("the child could not be saved", {"child.id_number": ["try again"]})
    return ChildFound(winner, known=True)


def open_case_of(child: Child) -> Case | None:
    """The child's open protection case, read after locking the child row (PostgreSQL), so that of two
    reports about one child at once the second sees the case the first opened."""
    db.session.execute(for_update(sa.select(Child.id).where(Child.id == child.id), key_share=True))
    return db.session.scalar(
        sa.select(Case).where(Case.child_id == child.id, Case.kind == "protection", Case.status == "open")
        .order_by(Case.opened_at.desc(), Case.id.desc()).limit(1).execution_options(populate_existing=True))

