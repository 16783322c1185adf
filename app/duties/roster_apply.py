"""Writing a checked ledger: new children, their care files and enrolments, and updates, in batches.

All in the caller's transaction (the page or endpoint commits once; a failure leaves nothing). Each batch
of ``BATCH`` rows costs a fixed number of statements whatever its size, because every kind of row goes
in one multi-row statement (ids taken first, ``common.bulk.next_ids``; rows in by ``COPY`` on PostgreSQL and
one INSERT on SQLite, ``common.bulk.copy_rows``; bulk UPDATE by primary key):
``tests/duties/test_roster.py`` pins the count. What each new child gets is what ``operations.enrol`` gives
one child: a care file (一人一档) with its number, an enrolment (start reason ``survey``, the ledger being
the survey's result) whose tags decide the recurring duties (``frequencies``), the timeline's
``file_opened`` and ``enrolled`` entries, and an audit row. An entrusted caregiver is recorded as awaiting
the village committee's check; the scheduler starts those checks a batch per run
(``scheduler._first_care_checks``), so a 10,000-child ledger does not start thousands of processes in
one request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import sqlalchemy as sa

from app.audit.operations import audit, audit_many
from app.cases.identity import normalise_id_number, phone_digits
from app.cases.models import Case, Child, Guardian, TimelineEntry
from app.common.bulk import copy_rows, next_ids
from app.common.clock import local_today, now
from app.extensions import db
from app.org.models import User

from .models import (
    Enrolment,
    Entrustment,
    EntrustmentStatus,
    RosterImport,
    RosterImportStatus,
    StartReason,
)
from .roster import (
    Outcome,
    Plan,
    RowResult,
    active_enrolments,
    active_entrustments,
    load_children,
)
from .roster_rows import LedgerChild

BATCH = 500
T = TypeVar("T")


def _batches(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


def _data(r: RowResult) -> LedgerChild:
    assert r.data is not None
    return r.data


def _entry(case_id: int, kind: str, summary: str, actor: User, detail: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": case_id, "at": now(), "kind": kind, "summary": summary[:500], "actor_id": actor.id,
            "unit_id": None, "task_id": None, "instance_id": None, "detail": detail}


def _care_files(children: list[tuple[int, str, int]], actor: User) -> dict[int, int]:
    """New care files for ``(child id, name, village id)``, numbered: child id -> case id (two statements)."""
    if not children:
        return {}
    at, year = now(), local_today().year
    ids = next_ids(Case, len(children))
    copy_rows(Case, [
        {"id": case_id, "number": f"LD{year}{case_id:06d}", "child_id": cid, "region_id": village, "kind": "care",
         "situation": "", "status": "open", "title": f"{name} 关爱服务档案", "opened_at": at}
        for case_id, (cid, name, village) in zip(ids, children, strict=True)])
    return {cid: case_id for (cid, _, _), case_id in zip(children, ids, strict=True)}


def _entrustments(rows: list[tuple[int, LedgerChild]], actor: User) -> list[dict[str, Any]]:
    at = now()
    return [{"child_id": cid, "caregiver_name": c.name, "relation": c.relation, "is_relative": c.is_relative,
             "phone": c.phone, "agreement_signed_on": c.agreement_signed_on, "filed_with_township": False,
             "filed_with_village": False, "status": EntrustmentStatus.PENDING_CHECK.value, "status_since": at,
             "recorded_by_id": actor.id, "recorded_at": at}
            for cid, data in rows if (c := data.caregiver) is not None]


def _enrol(rows: list[tuple[int, LedgerChild]], cases: dict[int, int], actor: User, record: RosterImport,
           entries: list[dict[str, Any]]) -> None:
    """Enrolments for children with a care file and no active enrolment (one statement)."""
    if not rows:
        return
    at, today = now(), local_today()
    copy_rows(Enrolment, [
        {"child_id": cid, "case_id": cases[cid], "tags": data.tags, "key_reasons": [], "started_on": today,
         "start_reason": StartReason.SURVEY.value, "note": f"roster import {record.id}", "created_by_id": actor.id,
         "created_at": at} for cid, data in rows])
    entries += [_entry(cases[cid], "enrolled", f"纳入关爱服务：{StartReason.SURVEY.value}（台账导入）", actor,
                       {"tags": data.tags, "roster_import": record.id}) for cid, data in rows]


def _create(batch: list[RowResult], actor: User, record: RosterImport, county_id: int) -> None:
    at = now()
    datas = [_data(r) for r in batch]
    ids = next_ids(Child, len(datas))
    copy_rows(Child, [
        {"id": cid, "name": d.name, "sex": d.sex, "birth_date": d.birth_date, "id_number": d.id_number,
         "id_number_norm": normalise_id_number(d.id_number), "county_id": county_id, "village_id": d.village_id,
         "address": "", "tags": d.tags, "school": d.school, "created_at": at} for cid, d in zip(ids, datas, strict=True)])
    guardians = [{"child_id": cid, "name": g.name, "relation": g.relation, "phone": g.phone,
                  "phone_digits": phone_digits(g.phone), "working_away": g.working_away, "lives_with_child": False}
                 for cid, d in zip(ids, datas, strict=True) for g in d.guardians]
    if guardians:
        copy_rows(Guardian, guardians)
    pairs = list(zip(ids, datas, strict=True))
    cases = _care_files([(cid, d.name, d.village_id) for cid, d in pairs], actor)
    entries = [_entry(cases[cid], "file_opened", "建立儿童关爱服务档案（一人一档，台账导入）", actor,
                      {"roster_import": record.id}) for cid in ids]
    _enrol(pairs, cases, actor, record, entries)
    caregivers = _entrustments(pairs, actor)
    if caregivers:
        copy_rows(Entrustment, caregivers)
    copy_rows(TimelineEntry, entries)
    audit_many([{"user_id": actor.id, "action": "create", "object_type": "child", "object_id": str(cid),
                 "case_id": cases[cid], "detail": {"roster_import": record.id, "row": r.row}}
                for cid, r in zip(ids, batch, strict=True)])
    for cid, r in zip(ids, batch, strict=True):
        r.child_id = cid


def _update(batch: list[RowResult], actor: User, record: RosterImport, county_id: int) -> None:
    ids = [r.child_id for r in batch if r.child_id is not None]
    children = load_children(ids)
    entrusted = active_entrustments(ids)
    enrolled = active_enrolments(ids)
    care: dict[int, tuple[int, str]] = {}
    for cid, case_id, status in db.session.execute(sa.select(Case.child_id, Case.id, Case.status)
                                                   .where(Case.child_id.in_(ids), Case.kind == "care")):
        if cid is not None:
            care[cid] = (case_id, status)
    child_rows, guardian_new, guardian_changed, tag_changes = [], [], [], []
    ended, new_caregivers, to_enrol = [], [], []
    for r in batch:
        data, cid = _data(r), r.child_id
        assert cid is not None
        child = children[cid]
        number = data.id_number or child.id_number
        child_rows.append({"id": cid, "name": data.name, "sex": data.sex, "birth_date": data.birth_date,
                           "id_number": number, "id_number_norm": normalise_id_number(number),
                           "county_id": county_id, "village_id": data.village_id, "tags": data.tags,
                           "school": data.school})
        known = {g.name: g for g in child.guardians}
        for g in data.guardians:
            had = known.get(g.name)
            if had is None:
                guardian_new.append({"child_id": cid, "name": g.name, "relation": g.relation, "phone": g.phone,
                                     "phone_digits": phone_digits(g.phone), "working_away": g.working_away,
                                     "lives_with_child": False})
            elif (had.relation, had.phone, had.working_away) != (g.relation, g.phone, g.working_away):
                guardian_changed.append({"id": had.id, "relation": g.relation, "phone": g.phone,
                                         "phone_digits": phone_digits(g.phone), "working_away": g.working_away})
        if "caregiver" in r.changes:
            if cid in entrusted:
                ended.append({"id": entrusted[cid].id, "status": EntrustmentStatus.ENDED.value, "ended_at": now()})
            new_caregivers.append((cid, data))
        if cid in enrolled:
            if sorted(enrolled[cid].tags) != data.tags:
                tag_changes.append({"id": enrolled[cid].id, "tags": data.tags})
        else:
            to_enrol.append((cid, data))
    db.session.execute(sa.update(Child), child_rows)
    if guardian_new:
        copy_rows(Guardian, guardian_new)
    if guardian_changed:
        db.session.execute(sa.update(Guardian), guardian_changed)
    if ended:
        db.session.execute(sa.update(Entrustment), ended)
    if new_caregivers:
        copy_rows(Entrustment, _entrustments(new_caregivers, actor))
    if tag_changes:
        db.session.execute(sa.update(Enrolment), tag_changes)
    entries: list[dict[str, Any]] = []
    reopen = [care[cid][0] for cid, _ in to_enrol if cid in care and care[cid][1] != "open"]
    if reopen:
        db.session.execute(sa.update(Case), [{"id": case_id, "status": "open", "closed_at": None} for case_id in reopen])
        entries += [_entry(case_id, "file_reopened", "重新纳入关爱服务，档案重新启用（台账导入）", actor,
                           {"roster_import": record.id}) for case_id in reopen]
    opened = _care_files([(cid, d.name, d.village_id) for cid, d in to_enrol if cid not in care], actor)
    entries += [_entry(case_id, "file_opened", "建立儿童关爱服务档案（一人一档，台账导入）", actor,
                       {"roster_import": record.id}) for case_id in opened.values()]
    cases = {cid: case_id for cid, (case_id, _) in care.items()} | opened
    _enrol(to_enrol, cases, actor, record, entries)
    entries += [_entry(cases[r.child_id], "roster_updated", "台账导入更新：" + "、".join(r.changes), actor,
                       {"roster_import": record.id, "changes": r.changes}) for r in batch if r.child_id is not None]
    copy_rows(TimelineEntry, entries)
    audit_many([{"user_id": actor.id, "action": "update", "object_type": "child", "object_id": str(r.child_id),
                 "case_id": cases.get(r.child_id or 0),
                 "detail": {"roster_import": record.id, "row": r.row, "changes": r.changes}} for r in batch])
    for child in children.values():
        db.session.expire(child)


def import_plan(plan: Plan, actor: User, record: RosterImport) -> dict[str, int]:
    """Write every row the plan creates or updates; the counts per outcome. Flushes, never commits."""
    for batch in _batches([r for r in plan.rows if r.outcome == Outcome.CREATE]):
        _create(batch, actor, record, plan.county.id)
    for batch in _batches([r for r in plan.rows if r.outcome == Outcome.UPDATE]):
        _update(batch, actor, record, plan.county.id)
    counts = plan.counts()
    record.status, record.counts = RosterImportStatus.IMPORTED.value, counts
    record.imported_by_id, record.imported_at = actor.id, now()
    db.session.flush()
    audit(actor.id, "create", "roster_import", record.id, detail={"counts": counts, "rows": record.rows})
    db.session.flush()
    return counts
