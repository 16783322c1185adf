"""Checking a county ledger row by row: what each row would create, update or leave, or why it is refused.

The dry run and the import run the same checks (the import checks again, against the database as it is
then). A row is refused, with every reason found, for: a missing value, a sex or date that cannot be
read, an ID number that is malformed, fails its checksum, or disagrees with the birth date or sex given,
a child 18 or older (16 or older for a left-behind child only), an unknown category or sub-type (or a child
in difficulty without one), an unknown township or village, a village outside the importer's county, a
guardian's relation or phone that cannot be read, a non-relative caregiver without an agreement date, a
child that appears twice in the file, an ID number registered to a child in another county, and a likely
match (same name, birth date and village) that carries another ID number or is not the only one.

Duplicates against existing children are ``app.cases.matching.match_children`` (the rule intake and merging
use): the same ID number in the county is the same child (the row updates it, or leaves it unchanged);
without one, the one child with the same name, birth date and village and no other ID number. Lookups are
batched (a few statements per 1,000 rows).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.cases.identity import normalise_id_number
from app.cases.matching import ChildFacts, ChildMatch, match_children
from app.cases.models import Child, ChildTag
from app.common.clock import local_today
from app.extensions import db
from app.org.models import Region

from .models import Enrolment, Entrustment, EntrustmentStatus
from .roster_layout import (
    CATEGORY_NAMES,
    GUARDIAN_SLOTS,
    RELATION_NAMES,
    SEX_NAMES,
    SUB_TYPE_NAMES,
    text,
)
from .roster_rows import CaregiverRow, GuardianRow, LedgerChild, Places, Problem, Reason, check_row

CHUNK = 1000
"""Rows per lookup statement (``IN`` lists stay well under every database's parameter limit)."""


class Outcome(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REFUSED = "refused"



@dataclass
class RowResult:
    row: int
    name: str
    outcome: Outcome = Outcome.REFUSED
    problems: list[Problem] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    child_id: int | None = None
    data: LedgerChild | None = None


@dataclass
class Plan:
    county: Region
    columns: list[str]
    rows: list[RowResult]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys([o.value for o in Outcome], 0)
        for r in self.rows:
            out[r.outcome.value] += 1
        return out


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


@dataclass
class Existing:
    """What the database knows of the children a file names, beyond ``cases.matching``'s answer."""

    elsewhere: set[str] = field(default_factory=set)
    """Normal-form ID numbers held by a child of another county."""
    by_key: dict[tuple[str, date | None, int], list[tuple[int, str | None]]] = field(default_factory=dict)
    """(name, birth date, village id) -> [(child id, normal-form ID number)] in the county, merged files left out."""


def find_existing(children: list[LedgerChild], places: Places, county_id: int) -> Existing:
    """Two lookups per 1,000 rows: ID numbers in other counties, and name + birth date + village here (for a
    likely duplicate with another ID number, which ``match_children`` does not call a match)."""
    found = Existing()
    numbers = sorted({n for c in children if (n := normalise_id_number(c.id_number))})
    for chunk in _chunks(numbers):
        found.elsewhere.update(n for n in db.session.scalars(sa.select(Child.id_number_norm).where(
            Child.id_number_norm.in_(chunk), Child.county_id != county_id)) if n)
    names = sorted({c.name for c in children})
    villages = list(places.names)
    grouped: dict[tuple[str, date | None, int], list[tuple[int, str | None]]] = defaultdict(list)
    for chunk in _chunks(names):
        for cid, name, born, village, number in db.session.execute(
                sa.select(Child.id, Child.name, Child.birth_date, Child.village_id, Child.id_number_norm)
                .where(Child.name.in_(chunk), Child.village_id.in_(villages), Child.merged_into_id.is_(None))
                .order_by(Child.id)):
            grouped[(name, born, village)].append((cid, number))
    found.by_key = dict(grouped)
    return found


def load_children(ids: Iterable[int]) -> dict[int, Child]:
    """The children (with guardians) by id, in chunks."""
    out: dict[int, Child] = {}
    for chunk in _chunks(sorted(set(ids))):
        for child in db.session.scalars(sa.select(Child).where(Child.id.in_(chunk))
                                        .options(selectinload(Child.guardians))):
            out[child.id] = child
    return out


def active_entrustments(child_ids: Iterable[int]) -> dict[int, Entrustment]:
    out: dict[int, Entrustment] = {}
    for chunk in _chunks(sorted(set(child_ids))):
        for e in db.session.scalars(sa.select(Entrustment).where(
                Entrustment.child_id.in_(chunk), Entrustment.status != EntrustmentStatus.ENDED).order_by(Entrustment.id)):
            out[e.child_id] = e
    return out


def active_enrolments(child_ids: Iterable[int]) -> dict[int, Enrolment]:
    out: dict[int, Enrolment] = {}
    for chunk in _chunks(sorted(set(child_ids))):
        for e in db.session.scalars(sa.select(Enrolment).where(Enrolment.child_id.in_(chunk),
                                                               Enrolment.ended_on.is_(None))):
            out[e.child_id] = e
    return out


def ledger_of(child: Child, entrustment: Entrustment | None) -> LedgerChild:
    """An existing child as the ledger would state them (export writes this; the import compares with it)."""
    guardians = [GuardianRow(g.name, g.relation, g.phone, g.working_away) for g in child.guardians[:2]]
    caregiver = None if entrustment is None else CaregiverRow(
        entrustment.caregiver_name, entrustment.relation, entrustment.phone, entrustment.agreement_signed_on)
    return LedgerChild(name=child.name, sex=child.sex, id_number=child.id_number, birth_date=child.birth_date,
                       village_id=child.village_id, tags=sorted(child.tags), school=child.school, guardians=guardians,
                       caregiver=caregiver)


def changes(row: LedgerChild, child: Child, entrustment: Entrustment | None) -> list[str]:
    """The fields (column keys) where the row says something else than the child's file."""
    out = [k for k in ("name", "sex", "birth_date", "village_id", "school") if getattr(row, k) != getattr(child, k)]
    if row.id_number and normalise_id_number(row.id_number) != child.id_number_norm:
        out.append("id_number")
    if sorted(row.tags) != sorted(child.tags):
        out.append("tags")
    known = {g.name: g for g in child.guardians}
    for g in row.guardians:
        had = known.get(g.name)
        if had is None or (had.relation, had.phone, had.working_away) != (g.relation, g.phone, g.working_away):
            out.append("guardians")
            break
    if row.caregiver is not None and (entrustment is None or (
            entrustment.caregiver_name, entrustment.relation, entrustment.phone, entrustment.agreement_signed_on)
            != (row.caregiver.name, row.caregiver.relation, row.caregiver.phone, row.caregiver.agreement_signed_on)):
        out.append("caregiver")
    return ["village" if c == "village_id" else c for c in out]


def _match(row: RowResult, data: LedgerChild, found: ChildMatch, existing: Existing) -> int | None:
    """The existing child this row is about (None: a new child); refusals go on the row.

    ``cases.matching`` decides (the same ID number in the county, else the one child with the same name,
    birth date and village and no other ID number); an import also refuses what a person filing a report
    would be asked about: several such children, one of them with another ID number, or the ID number of
    another county's child.
    """
    if found.exact is not None:
        return found.exact.id
    if len(found.likely) > 1:
        row.problems.append(Problem(Reason.AMBIGUOUS_MATCH, "", "、".join(f"#{c.id}" for c in found.likely)))
        return None
    if found.likely:
        return found.likely[0].id
    norm = normalise_id_number(data.id_number)
    if norm and norm in existing.elsewhere:
        row.problems.append(Problem(Reason.ID_IN_OTHER_COUNTY, "id_number"))
        return None
    others = [cid for cid, number in existing.by_key.get(data.key(), []) if norm and number and number != norm]
    if others:
        row.problems.append(Problem(Reason.LIKELY_DUPLICATE, "id_number", "、".join(f"#{cid}" for cid in others)))
    return None


def plan(county: Region, columns: list[str], rows: Iterable[tuple[int, dict[str, Any]]]) -> Plan:
    """Check every row; the outcome of each, with its reasons, and the data to write."""
    places = Places(county)
    today = local_today()
    results: list[RowResult] = []
    for number, raw in rows:
        result = RowResult(row=number, name=text(raw.get("name"))[:100])
        result.data, result.problems = check_row(raw, places, today)
        results.append(result)
    good = [r for r in results if r.data is not None]
    # the same child twice in the file: every copy is refused (which one is right is for the bureau to say)
    seen: dict[Any, list[RowResult]] = defaultdict(list)
    for r in good:
        assert r.data is not None
        seen[("id", r.data.id_number) if r.data.id_number else ("key", r.data.key())].append(r)
    for copies in seen.values():
        if len(copies) > 1:
            for r in copies:
                others = "、".join(str(c.row) for c in copies if c is not r)
                r.problems.append(Problem(Reason.DUPLICATE_IN_FILE, "", others))
    candidates = [r for r in good if r.data is not None and not r.problems]
    datas = [r.data for r in candidates if r.data is not None]
    existing = find_existing(datas, places, county.id)
    answers = match_children([ChildFacts(name=d.name, birth_date=d.birth_date, village_id=d.village_id,
                                         id_number=d.id_number) for d in datas], county.id)
    matched: dict[int, RowResult] = {}
    for r, found in zip(candidates, answers, strict=True):
        assert r.data is not None
        cid = _match(r, r.data, found, existing)
        if cid is not None:
            if cid in matched:  # two rows (different ID numbers or none) land on one child
                r.problems.append(Problem(Reason.DUPLICATE_IN_FILE, "", str(matched[cid].row)))
                continue
            matched[cid] = r
            r.child_id = cid
    children = load_children(matched)
    entrusted = active_entrustments(matched)
    enrolled = active_enrolments(matched)
    for r in results:
        if r.problems or r.data is None:
            r.outcome, r.data = Outcome.REFUSED, None
        elif r.child_id is None:
            r.outcome = Outcome.CREATE
        else:
            r.changes = changes(r.data, children[r.child_id], entrusted.get(r.child_id))
            if r.child_id not in enrolled:
                r.changes.append("enrolment")
            r.outcome = Outcome.UPDATE if r.changes else Outcome.UNCHANGED
    return Plan(county=county, columns=columns, rows=results)


def ledger_row(child: LedgerChild, places: Places) -> dict[str, Any]:
    """A child in the ledger's words (the export's row)."""
    township, village = places.names.get(child.village_id, ("", ""))
    tags = set(child.tags)
    categories = [CATEGORY_NAMES["left_behind"]] if ChildTag.LEFT_BEHIND.value in tags else []
    sub_types = [SUB_TYPE_NAMES[ChildTag(t)] for t in sorted(tags) if t != ChildTag.LEFT_BEHIND.value
                 and t in {s.value for s in SUB_TYPE_NAMES}]
    if sub_types:
        categories.append(CATEGORY_NAMES["difficulty"])
    row: dict[str, Any] = {
        "name": child.name, "sex": SEX_NAMES.get(child.sex, child.sex), "id_number": child.id_number or "",
        "birth_date": child.birth_date.isoformat() if child.birth_date else "", "township": township,
        "village": village, "category": "、".join(categories), "sub_types": "、".join(sub_types),
        "school": child.school,
    }
    for slot, g in zip(GUARDIAN_SLOTS, child.guardians, strict=False):
        row.update({f"{slot}_name": g.name, f"{slot}_relation": RELATION_NAMES.get(g.relation, g.relation),
                    f"{slot}_phone": g.phone, f"{slot}_away": "是" if g.working_away else "否"})
    if child.caregiver is not None:
        c = child.caregiver
        row.update({"caregiver_name": c.name, "caregiver_relation": c.relation, "caregiver_phone": c.phone,
                    "caregiver_agreement": c.agreement_signed_on.isoformat() if c.agreement_signed_on else ""})
    return row
