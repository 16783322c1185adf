"""Merging two files about one child, and undoing it (一人一档 for duplicates found after intake).

A county coordinator keeps one file and merges the other into it: the merged child's cases (with their
reports, tasks, visit records and timelines) move to the kept child, other packages move their rows on
``events.children_merged`` (programme membership, duty cycles, entrusted care), and the merged child stays
as a row pointing at the kept one (``Child.merged_into_id``): searches skip it, a report naming its ID
number lands on the kept file. The ``ChildMerge`` row lists exactly what moved, so ``unmerge`` puts exactly
that back (cases opened on the kept file after the merge stay where they are).

Refused: two children with different ID numbers (the number is the surer fact: two people), a child
already merged, a child outside the coordinator's county.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.audit.operations import audit
from app.common import events
from app.common.clock import now
from app.common.dialect import for_update
from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.models import User
from app.org.roles import Role

from .access import knows_child
from .models import Case, Child, ChildMerge
from .timeline import record


def _lock(*child_ids: int) -> dict[int, Child]:
    """Both rows locked in id order (two merges of the same pair cannot deadlock), read afresh."""
    rows = db.session.scalars(for_update(sa.select(Child).where(Child.id.in_(sorted(child_ids)))
                                         .order_by(Child.id)).execution_options(populate_existing=True))
    return {c.id: c for c in rows}


def _require_coordinator(user: User, *children: Child) -> None:
    if not user.has_role(Role.COUNTY_COORDINATOR, Role.ADMIN):
        raise Forbidden("only a county coordinator merges children's files")
    # The county's own bookkeeping: a basis on the cases (a coordinator named on another county's conference)
    # reads them but does not make their files this coordinator's to merge.
    if user.region_id is None or any(c.county_id != user.region_id for c in children):
        raise Forbidden("only the coordinator of the children's county merges their files")
    if not all(knows_child(user, c) for c in children):
        raise Forbidden("you have no need to know one of these children")


def merge(user: User, kept_id: int, merged_id: int, reason: str) -> ChildMerge:
    """Merge child ``merged_id`` into ``kept_id``; audited; returns the merge (flushed)."""
    if kept_id == merged_id:
        raise Invalid("a child cannot be merged into itself", {"merged_id": ["choose another child"]})
    rows = _lock(kept_id, merged_id)
    kept, merged = rows.get(kept_id), rows.get(merged_id)
    if kept is None or merged is None:
        raise NotFound("child not found")
    _require_coordinator(user, kept, merged)
    if kept.merged_into_id is not None or merged.merged_into_id is not None:
        raise Conflict("one of these files is already merged into another")
    if kept.county_id != merged.county_id:
        raise Invalid("children of two counties are not merged", {"merged_id": ["another county's child"]})
    if kept.id_number_norm and merged.id_number_norm and kept.id_number_norm != merged.id_number_norm:
        raise Invalid("different ID numbers are different children",
                      {"merged_id": ["the two files carry different ID numbers"]})
    cases = list(db.session.scalars(sa.select(Case).where(Case.child_id == merged.id).order_by(Case.id)))
    at = now()
    entry = ChildMerge(kept_id=kept.id, merged_id=merged.id, case_ids=[c.id for c in cases], moved={},
                       reason=reason, merged_by_id=user.id, merged_at=at)
    db.session.add(entry)
    for case in cases:
        case.child_id = kept.id
        record(case, "child_merged", f"child file {merged.id} merged into {kept.id}", actor=user,
               detail={"kept_id": kept.id, "merged_id": merged.id})
    if merged.id_number and not kept.id_number:
        # The ID number is the surest fact about the child: it goes with the file kept, or a search by it (which
        # skips merged files) would find no one. Listed in ``moved`` so an unmerge gives it back.
        number, merged.id_number = merged.id_number, None
        db.session.flush()  # the county's unique index holds one file per number
        kept.id_number = number
        entry.moved = {"id_number": [merged.id]}
    merged.merged_into_id = kept.id
    db.session.flush()
    events.children_merged.send(entry, actor=user)
    audit(user.id, "merge", "child_merge", entry.id, detail={
        "kept_id": kept.id, "merged_id": merged.id, "case_ids": entry.case_ids, "reason": reason})
    db.session.flush()
    return entry


def unmerge(user: User, merge_id: int) -> ChildMerge:
    """Put back exactly what ``merge`` moved; audited. 409 when already undone, or when the kept file has
    itself been merged since (undo that first)."""
    entry = db.session.get(ChildMerge, merge_id)
    if entry is None:
        raise NotFound(f"merge {merge_id} not found")
    rows = _lock(entry.kept_id, entry.merged_id)
    kept, merged = rows[entry.kept_id], rows[entry.merged_id]
    _require_coordinator(user, kept, merged)
    db.session.refresh(entry)
    if entry.undone_at is not None:
        raise Conflict("this merge was already undone")
    if kept.merged_into_id is not None:
        raise Conflict("the kept file was merged into another since; undo that merge first")
    if merged.id_number_norm and kept.id_number_norm == merged.id_number_norm:
        raise Conflict("both files carry the same ID number: they are one child")
    if (entry.moved or {}).get("id_number") and kept.id_number:
        number, kept.id_number = kept.id_number, None
        db.session.flush()
        merged.id_number = number
    for case in db.session.scalars(sa.select(Case).where(Case.id.in_(entry.case_ids or []),
                                                         Case.child_id == kept.id)):
        case.child_id = merged.id
        record(case, "child_unmerged", f"merge of child file {merged.id} into {kept.id} undone", actor=user,
               detail={"kept_id": kept.id, "merged_id": merged.id})
    merged.merged_into_id = None
    entry.undone_at, entry.undone_by_id = now(), user.id
    db.session.flush()
    events.children_unmerged.send(entry, actor=user)
    audit(user.id, "unmerge", "child_merge", entry.id, detail={
        "kept_id": kept.id, "merged_id": merged.id, "case_ids": entry.case_ids})
    db.session.flush()
    return entry


def merges_in(user: User) -> sa.Select[ChildMerge]:
    """The merges of the coordinator's county, newest first."""
    if user.region_id is None:
        return sa.select(ChildMerge).where(sa.false())
    return (sa.select(ChildMerge).join(Child, Child.id == ChildMerge.kept_id)
            .where(Child.county_id == user.region_id).order_by(ChildMerge.merged_at.desc(), ChildMerge.id.desc()))
