"""Dynamic management: a child who leaves the programme has their open duties cancelled and no new ones;
re-enrolled later, their duties start again at the next cycle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from duty_helpers import enrolled, open_task_of

from app.duties.models import DutyCycle
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.processes.models import ProcessInstance
from app.tasks.models import Task

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Monday 09:00 county time


def _cycles(child_id: int) -> list[DutyCycle]:
    return list(db.session.scalars(sa.select(DutyCycle).where(DutyCycle.child_id == child_id)
                                   .order_by(DutyCycle.id)))


def test_leaving_cancels_open_duties_and_starts_none_afterwards(as_user: Any, clock: Any) -> None:
    clock.at = MONDAY
    staying = enrolled("留守甲")
    leaving = enrolled("留守乙")
    db.session.commit()
    # contact, visit, assessment each; each county's comparison; the village's quarterly verification
    assert start_due_duties(MONDAY) == 3 * 2 + 2 + 1
    db.session.commit()
    open_cycles = _cycles(leaving.child_id)
    assert {c.duty for c in open_cycles} == {"weekly_contact", "home_visit", "assessment"}
    task_ids = [open_task_of(c).id for c in open_cycles]

    # A parent came home: the child director ends the membership through the API.
    clock.at = MONDAY + timedelta(days=1)
    resp = as_user("director_t01v01").post(f"/api/v1/duties/enrolments/{leaving.id}/end",
                                           json={"end_reason": "parent_returned"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["cycles_cancelled"] == 3 and resp.get_json()["ended_on"] == "2026-03-10"
    db.session.expire_all()
    assert {c.status for c in _cycles(leaving.child_id)} == {"cancelled"}
    assert {db.session.get(Task, t).state for t in task_ids} == {"cancelled"}
    assert {db.session.get(ProcessInstance, c.instance_id).status for c in open_cycles} == {"cancelled"}
    timeline = as_user("coordinator").get(f"/api/v1/cases/{leaving.case_id}").get_json()
    kinds = [e["kind"] for e in timeline["timeline"]]
    assert kinds.count("process_cancelled") == 3 and kinds.count("task_cancelled") == 3
    assert "left_programme" in kinds and timeline["status"] == "closed" and timeline["open_tasks"] == []
    assert as_user("director_t01v01").get("/api/v1/tasks", query_string={"case_id": leaving.case_id}
                                          ).get_json()["items"] == []

    # Weeks and months later: the child who stayed gets new cycles, the child who left none.
    for weeks in (1, 4, 17):
        at = MONDAY + timedelta(weeks=weeks)
        clock.at = at
        start_due_duties(at)
        db.session.commit()
    assert len(_cycles(leaving.child_id)) == 3
    assert len(_cycles(staying.child_id)) > 3 + 3

    # Back in the programme (the parent left again): duties start at each one's next cycle.
    at = MONDAY + timedelta(weeks=17, days=2)  # Wednesday 2026-07-08
    clock.at = at
    again = as_user("director_t01v01").post("/api/v1/duties/enrolments", json={
        "child": {"id": leaving.child_id}, "tags": ["left_behind"], "start_reason": "parents_left_to_work"})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["case_id"] == leaving.case_id  # the same file, reopened
    assert start_due_duties(at) == 0  # this week, July and the second half-year all began before today
    db.session.commit()
    for at in (MONDAY + timedelta(weeks=18), datetime(2026, 8, 3, 1, 0, tzinfo=UTC)):
        clock.at = at
        start_due_duties(at)
        db.session.commit()
    restarted = {(c.duty, c.period) for c in _cycles(leaving.child_id) if c.status != "cancelled"}
    assert restarted == {("weekly_contact", "2026-W29"), ("weekly_contact", "2026-W32"), ("home_visit", "2026-08")}


def test_enrolment_rules(as_user: Any) -> None:
    body = {"child": {"name": "新发现", "sex": "male", "village": "t02v01", "birth_date": "2016-01-01"},
            "tags": ["left_behind"], "key_reasons": ["dropout"], "start_reason": "new_child_found",
            "started_on": "2026-03-10"}
    assert as_user("director_t01v01").post("/api/v1/duties/enrolments", json=body).status_code == 403
    assert as_user("police_t02").post("/api/v1/duties/enrolments", json=body).status_code == 403
    ok = as_user("director_t02v01").post("/api/v1/duties/enrolments", json=body)
    assert ok.status_code == 201, ok.get_json()
    child_id = ok.get_json()["child_id"]
    twice = as_user("supervisor_t02").post("/api/v1/duties/enrolments", json={**body, "child": {"id": child_id}})
    assert twice.status_code == 409
    record = as_user("supervisor_t02").get(f"/api/v1/duties/children/{child_id}").get_json()
    assert record["enrolments"][0]["key_reasons"] == ["dropout"] and record["cycles"] == []
    assert as_user("director_t01v01").get(f"/api/v1/duties/children/{child_id}").status_code == 403
    assert date.fromisoformat(record["enrolments"][0]["started_on"]) == date(2026, 3, 10)
