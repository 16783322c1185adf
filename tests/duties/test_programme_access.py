"""A child's programme record (``GET /api/v1/duties/children/<id>``) under need to know: each visit record's
free text follows the step rule of docs/security.md ("Need-to-know"), as on the case page."""

from __future__ import annotations

from typing import Any

from duty_helpers import enrolled
from helpers import open_tasks

from app.extensions import db

PLAN = "插班跟读，班主任每周家访一次"
"""Free text of education's return outcome (``placement_plan``)."""
PERSUADE = {"education_c01": ("education_persuade", {"plan": "班主任结对帮扶", "visited_on": "2026-03-10",
                                                      "family_attitude": "willing"}),
            "township_t01": ("township_persuade", {"parents_contacted": True}),
            "village_committee_t01v01": ("village_persuade", {"visited_on": "2026-03-10", "child_seen": True})}


def test_the_record_follows_the_read_matrix_for_each_unit(as_user: Any, clock: Any) -> None:
    """Education wrote the placement plan: education reads it; the township, which leads the return and reads
    every part of the case (app/cases/read_matrix.py, docs/security.md), reads it too; the child's director
    all; a unit with no basis nothing. Which parts each kind reads, cell by cell: tests/cases/test_read_matrix.py."""
    enrolment = enrolled("辍学生")
    db.session.commit()
    assert as_user("reporter_school").post("/api/v1/duties/dropouts", json={
        "child_id": enrolment.child_id, "school": "东城镇中心小学", "note": "连续一周未到校"}).status_code == 201
    for username, (step, data) in PERSUADE.items():
        [task] = open_tasks(as_user(username), step=step)
        assert as_user(username).post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}).status_code == 200
    [task] = open_tasks(as_user("education_c01"), step="education_return_outcome")
    done = as_user("education_c01").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {
        "return_outcome": "returned", "returned_on": "2026-03-16", "placement_plan": PLAN}})
    assert done.status_code == 200, done.get_json()

    def record(username: str) -> dict[str, Any]:
        resp = as_user(username).get(f"/api/v1/duties/children/{enrolment.child_id}")
        assert resp.status_code == 200, resp.get_json()
        [cycle] = [c for c in resp.get_json()["cycles"] if c["task_id"] == task["id"]]
        return dict(cycle["record"])

    assert record("education_c01")["placement_plan"] == PLAN
    assert record("director_t01v01")["placement_plan"] == PLAN
    assert record("township_t01") == {"return_outcome": "returned", "returned_on": "2026-03-16", "placement_plan": PLAN}
    assert as_user("police_t02").get(f"/api/v1/duties/children/{enrolment.child_id}").status_code == 403
