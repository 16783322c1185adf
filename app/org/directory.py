"""Reads for other systems' lookups of the organisation: regions as a tree, units by kind and region.

The organisation is not children's data: any signed-in caller may read it (a hotline's call system looks
up the police station of a village before it files a report). Every list is a select that the API pages.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from .models import Region, Unit
from .queries import MAX_REGION_DEPTH


def regions_within(region_id: int) -> sa.Select[tuple[int]]:
    """The ids of a region and every region below it (one recursive statement, bounded in depth)."""
    tree = (sa.select(Region.id, sa.literal(0).label("depth")).where(Region.id == region_id)
            .cte("within", recursive=True))
    tree = tree.union_all(sa.select(Region.id, tree.c.depth + 1).join(tree, Region.parent_id == tree.c.id)
                          .where(tree.c.depth < MAX_REGION_DEPTH))
    return sa.select(tree.c.id)


def regions(*, parent: Region | None = None, top: bool = False, level: str = "", q: str = "") -> sa.Select[Region]:
    """Regions by code: the children of ``parent``, the top of the tree (``top``), or any; by level and by a
    part of the name or code."""
    stmt = sa.select(Region).options(joinedload(Region.parent)).order_by(Region.code)
    if parent is not None:
        stmt = stmt.where(Region.parent_id == parent.id)
    elif top:
        stmt = stmt.where(Region.parent_id.is_(None))
    if level:
        stmt = stmt.where(Region.level == level)
    if q:
        stmt = stmt.where(sa.or_(Region.name.contains(q, autoescape=True), Region.code.contains(q, autoescape=True)))
    return stmt


def ancestors(region: Region) -> list[Region]:
    """The regions above ``region``, from the top of the tree down to its parent."""
    chain: list[Region] = []
    node = region.parent
    while node is not None and len(chain) < MAX_REGION_DEPTH:
        chain.append(node)
        node = node.parent
    return chain[::-1]


def units(*, kind: str = "", within: Region | None = None, q: str = "") -> sa.Select[Unit]:
    """Units by kind, in a region or anywhere below it, by a part of the name; ordered by region and kind."""
    stmt = (sa.select(Unit).join(Unit.region).options(joinedload(Unit.region))
            .order_by(Region.code, Unit.kind, Unit.id))
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if within is not None:
        stmt = stmt.where(Unit.region_id.in_(regions_within(within.id)))
    if q:
        stmt = stmt.where(Unit.name.contains(q, autoescape=True))
    return stmt
