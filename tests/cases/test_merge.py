"""Duplicates found later (issue 15, part 2): a coordinator merges two files of one child, audited, and an
unmerge restores exactly what was moved."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import report_payload, submit_report

from app.audit.models import AuditEvent
from app.cases.models import Case, Child, TimelineEntry
from app.duties.models import Entrustment
from app.extensions import db


def _two_files(as_user: Any) -> tuple[dict[str, Any], dict[str, Any], int, int]:
    """The same child filed twice before intake could tell (no ID number on the second, confirmed as new)."""
    school = as_user("reporter_school")
    first = submit_report(school, "living_alone", id_number="370000201506010011", name="赵小花")
    body = report_payload("missing", id_number="", name="赵小花") | {"confirm_new_child": True}
    second = as_user("hotline_12355").post("/api/v1/reports", json=body).get_json()
    assert second["outcome"] == "new_case"
    kept = db.session.get(Case, first["case_id"]).child_id
    merged = db.session.get(Case, second["case_id"]).child_id
    return first, second, kept, merged


def test_merge_moves_the_cases_and_unmerge_puts_exactly_them_back(as_user: Any) -> None:
    first, second, kept, merged = _two_files(as_user)
    coordinator = as_user("coordinator")
    assert coordinator.post("/api/v1/duties/entrustments", json={
        "child_id": merged, "caregiver_name": "邻居张某", "relation": "neighbour", "is_relative": False,
        "agreement_signed_on": "2026-03-01", "filed_with_township": True, "filed_with_village": True,
    }).status_code == 201
    resp = coordinator.post("/api/v1/children/merges", json={"kept_id": kept, "merged_id": merged,
                                                             "reason": "同一儿童，热线未记身份证号"})
    assert resp.status_code == 201, resp.get_json()
    entry = resp.get_json()
    # the report's case and the care file the entrusted care opened
    assert second["case_id"] in entry["case_ids"] and len(entry["case_ids"]) == 2
    assert len(entry["moved"]["entrustment"]) == 1
    db.session.expire_all()
    assert db.session.get(Case, second["case_id"]).child_id == kept
    assert db.session.get(Child, merged).merged_into_id == kept
    assert db.session.scalar(sa.select(Entrustment.child_id)) == kept
    # the kept file shows both cases; the merged one is no longer found
    found = coordinator.get("/api/v1/children", query_string={"name": "赵小花"}).get_json()["items"]
    assert [r["id"] for r in found] == [kept]
    assert {c["id"] for c in found[0]["cases"]} == {first["case_id"], *entry["case_ids"]}
    # a new case opened on the kept file after the merge stays there when it is undone
    db.session.get(Case, first["case_id"]).status = "closed"
    db.session.get(Case, second["case_id"]).status = "closed"
    db.session.flush()
    later = as_user("hotline_12355").post("/api/v1/reports", json=report_payload(
        "missing", id_number="370000201506010011")).get_json()
    assert later["outcome"] == "new_case_known_child"
    undone = coordinator.post(f"/api/v1/children/merges/{entry['id']}/undo")
    assert undone.status_code == 200 and undone.get_json()["undone_at"]
    db.session.expire_all()
    assert db.session.get(Case, second["case_id"]).child_id == merged
    assert db.session.get(Case, later["case_id"]).child_id == kept
    assert db.session.get(Child, merged).merged_into_id is None
    assert db.session.scalar(sa.select(Entrustment.child_id)) == merged
    assert coordinator.post(f"/api/v1/children/merges/{entry['id']}/undo").status_code == 409
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "child_merge")).all()
    assert sorted(actions) == ["merge", "unmerge"]
    kinds = db.session.scalars(sa.select(TimelineEntry.kind).where(TimelineEntry.case_id == second["case_id"]))
    assert {"child_merged", "child_unmerged"} <= set(kinds)


def test_who_may_merge_and_what_is_refused(as_user: Any) -> None:
    _, _, kept, merged = _two_files(as_user)
    body = {"kept_id": kept, "merged_id": merged, "reason": "重复"}
    for outsider in ("police_t01", "director_t01v01", "reporter_school"):
        assert as_user(outsider).post("/api/v1/children/merges", json=body).status_code == 403, outsider
    assert as_user("coordinator_c02").post("/api/v1/children/merges", json=body).status_code == 403
    coordinator = as_user("coordinator")
    assert coordinator.post("/api/v1/children/merges", json=body | {"merged_id": kept}).status_code == 422
    assert coordinator.post("/api/v1/children/merges", json=body | {"merged_id": 2_000_000}).status_code == 404
    assert coordinator.post("/api/v1/children/merges", json={"kept_id": "x"}).status_code == 422
    # different ID numbers are two children
    other = as_user("reporter_school").post("/api/v1/reports", json=report_payload(
        id_number="370000201601010022", name="赵小花") | {"confirm_new_child": True}).get_json()
    other_child = db.session.get(Case, other["case_id"]).child_id
    assert coordinator.post("/api/v1/children/merges", json=body | {"merged_id": other_child}).status_code == 422
    assert coordinator.post("/api/v1/children/merges", json=body).status_code == 201
    # already merged
    assert coordinator.post("/api/v1/children/merges", json=body).status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("child_merge"))) == 1
    assert coordinator.get("/api/v1/children/merges").get_json()["total"] == 1
    assert as_user("coordinator_c02").get("/api/v1/children/merges").get_json()["total"] == 0


def test_another_countys_coordinator_invited_to_both_cases_still_may_not_merge_them(as_user: Any) -> None:
    """A coordinator named on a conference of another county's case reads that case (conference basis), but
    merging is the county's own bookkeeping: the coordinator of the children's county only."""
    from app.common.clock import now
    from app.conferences.models import Conference, ConferenceAttendee
    from app.org.models import Unit
    from app.org.queries import user_by_username

    first, second, kept, merged = _two_files(as_user)
    outsider = user_by_username("coordinator_c02")
    unit = db.session.scalar(sa.select(Unit.id).order_by(Unit.id).limit(1))
    for case_id in (first["case_id"], second["case_id"]):
        conference = Conference(case_id=case_id, convening_unit_id=unit, title="个案会商", scheduled_at=now(),
                                created_at=now())
        db.session.add(conference)
        db.session.flush()
        db.session.add(ConferenceAttendee(conference_id=conference.id, user_id=outsider.id, name="外县协调员"))
    db.session.flush()
    body = {"kept_id": kept, "merged_id": merged, "reason": "重复"}
    assert as_user("coordinator_c02").post("/api/v1/children/merges", json=body).status_code == 403
    assert db.session.get(Child, merged).merged_into_id is None


def test_the_id_number_goes_with_the_kept_file_and_comes_back_with_an_unmerge(as_user: Any) -> None:
    """Keeping the file without an ID number (the one with the cases people work on) and merging the one with
    it: a search by the number (merged files are skipped) found no child at all."""
    _, _, with_id, without_id = _two_files(as_user)
    coordinator = as_user("coordinator")
    number = "370000201506010011"

    def found() -> list[int]:
        resp = coordinator.get("/api/v1/children", query_string={"id_number": number})
        return [r["id"] for r in resp.get_json()["items"]]

    entry = coordinator.post("/api/v1/children/merges", json={"kept_id": without_id, "merged_id": with_id,
                                                              "reason": "同一儿童"}).get_json()
    assert found() == [without_id]
    db.session.expire_all()
    assert db.session.get(Child, without_id).id_number == number
    assert coordinator.post(f"/api/v1/children/merges/{entry['id']}/undo").status_code == 200
    assert found() == [with_id]
    db.session.expire_all()
    assert db.session.get(Child, without_id).id_number is None
