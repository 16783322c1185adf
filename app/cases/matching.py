"""Is this the same child? The one answer used by intake, the search, merging and the roster import.

Two strengths of match, and nothing fuzzier (a wrong merge of two children's files is worse than a
second file a coordinator merges later):

- **exact**: the same resident ID number (``identity.normalise_id_number``) in the same county. That is
  the same child; the unique index ``uq_child_county_id_number`` makes a second file impossible.
- **likely**: the same name (``identity.normalise_name``), birth date and village, where the two ID
  numbers do not differ (one or both unknown). Shown to the person filing, who picks one or says it is
  another child; never joined on its own.

A child whose file was merged into another (``Child.merged_into_id``) answers with the kept file.

For a single report call ``match_child``; for many rows (the ledger import) ``match_children``, which costs
two statements whatever the number of rows::

    facts = [ChildFacts(name="李小明", birth_date=date(2015, 6, 1), village_id=v.id,
                        id_number="370000201506010011"), ...]
    for fact, found in zip(facts, match_children(facts, county_id), strict=True):
        if found.exact: ...            # update that child's file (or refuse the row)
        elif found.likely: ...         # ask: one of these, or a new child?
        else: ...                      # a new child
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.extensions import db
from app.org.kinds import RegionLevel
from app.org.models import Region

from .identity import normalise_id_number, normalise_name
from .models import Child

MAX_LIKELY = 5
"""At most this many likely matches per row (the same name, birth date and village more often is a
ledger error to fix, not a choice to make)."""


@dataclass(frozen=True)
class ChildFacts:
    """What a report or a ledger row says about a child (any of it may be missing)."""

    name: str | None = None
    birth_date: date | None = None
    village_id: int | None = None
    id_number: str | None = None


@dataclass(frozen=True)
class ChildMatch:
    """``exact``: the child with this ID number (the kept file if it was merged), or None.
    ``likely``: children with the same name, birth date and village and no different ID number,
    empty when ``exact`` is set."""

    exact: Child | None = None
    likely: tuple[Child, ...] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        return self.exact is not None or bool(self.likely)


def county_of(village_id: int) -> int | None:
    """The county id above a region (one statement: village > township > county, or the county itself)."""
    row = db.session.execute(_county_statement(), {"village_id": village_id}).first()
    if row is None:
        return None
    pairs = [(row[0], row[1]), (row[2], row[3]), (row[4], row[5])]
    return next((rid for rid, level in pairs if level == RegionLevel.COUNTY), None)


@functools.cache
def _county_statement() -> sa.Select[int, str, int, str, int, str]:
    """``county_of``'s statement (``:village_id``), built once: two new aliases cost more CPU than the statement."""
    up1, up2 = aliased(Region), aliased(Region)
    return (sa.select(Region.id, Region.level, up1.id, up1.level, up2.id, up2.level)
            .outerjoin(up1, up1.id == Region.parent_id).outerjoin(up2, up2.id == up1.parent_id)
            .where(Region.id == sa.bindparam("village_id", type_=sa.Integer)))


def _kept(child: Child, by_id: dict[int, Child]) -> Child:
    """Follow merges to the file that is kept (at most a few hops; a cycle cannot be made by ``merge``)."""
    seen = {child.id}
    while child.merged_into_id is not None and child.merged_into_id not in seen:
        seen.add(child.merged_into_id)
        nxt = by_id.get(child.merged_into_id) or db.session.get(Child, child.merged_into_id)
        if nxt is None:
            break
        child = nxt
    return child


def match_children(facts: Sequence[ChildFacts], county_id: int | None) -> list[ChildMatch]:
    """One ``ChildMatch`` per row of ``facts``, in order, among the children of ``county_id``.

    Two statements for any number of rows (ID numbers in one ``IN``; name, birth date and village
    triples in another). Rows without an ID number and without all three of name, birth date and
    village match nothing. ``county_id`` None (a region outside any county) matches nothing.
    """
    if county_id is None or not facts:
        return [ChildMatch() for _ in facts]
    norms = [normalise_id_number(f.id_number) for f in facts]
    by_number: dict[str, Child] = {}
    wanted = sorted({n for n in norms if n})
    for chunk in (wanted[i:i + 1000] for i in range(0, len(wanted), 1000)):
        for child in db.session.scalars(sa.select(Child).where(Child.county_id == county_id,
                                                               Child.id_number_norm.in_(chunk))):
            by_number[child.id_number_norm or ""] = child
    triples = {(normalise_name(f.name), f.birth_date, f.village_id) for f, n in zip(facts, norms, strict=True)
               if f.name and f.birth_date and f.village_id}
    by_triple: dict[tuple[str, date | None, int | None], list[Child]] = defaultdict(list)
    if triples:
        names = sorted({t[0] for t in triples})
        villages = sorted({t[2] for t in triples if t[2] is not None})
        for chunk in (names[i:i + 1000] for i in range(0, len(names), 1000)):
            for child in db.session.scalars(
                    sa.select(Child).where(Child.village_id.in_(villages), Child.name.in_(chunk),
                                           Child.birth_date.is_not(None), Child.merged_into_id.is_(None))
                    .order_by(Child.id)):
                key = (normalise_name(child.name), child.birth_date, child.village_id)
                if key in triples:
                    by_triple[key].append(child)
    everyone = {c.id: c for c in by_number.values()} | {c.id: c for cs in by_triple.values() for c in cs}
    out: list[ChildMatch] = []
    for fact, norm in zip(facts, norms, strict=True):
        exact = by_number.get(norm) if norm else None
        if exact is not None:
            out.append(ChildMatch(exact=_kept(exact, everyone)))
            continue
        candidates = by_triple.get((normalise_name(fact.name), fact.birth_date, fact.village_id), [])
        # The second statement can see a child the first did not: another report about the same child, filed
        # at the same moment, committed between the two reads. Its ID number says it is this child.
        same = next((c for c in candidates if norm and c.id_number_norm == norm), None)
        if same is not None:
            out.append(ChildMatch(exact=_kept(same, everyone)))
            continue
        likely = tuple(c for c in candidates if not (norm and c.id_number_norm and c.id_number_norm != norm))
        out.append(ChildMatch(likely=likely[:MAX_LIKELY]))
    return out


def match_child(facts: ChildFacts, county_id: int | None = None) -> ChildMatch:
    """``match_children`` for one report; the county is found from the village when not given."""
    if county_id is None and facts.village_id is not None:
        county_id = county_of(facts.village_id)
    return match_children([facts], county_id)[0]
