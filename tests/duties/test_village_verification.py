"""Issue 15 part 6: each village with children in the programme verifies them every quarter (001 二（一）6:
每季度核实……并向乡镇报告); filing it tells the township at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from duty_helpers import enrolled, in_demo_county
from helpers import open_tasks

from app.duties.models import DutyCycle
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.notifications.models import Notification
from app.org.models import User

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def _told(kind: str) -> set[str]:
    return {u for (u,) in db.session.execute(sa.select(User.username).join(Notification, Notification.user_id == User.id)
                                               .where(Notification.kind == kind))}


def test_a_village_files_its_quarterly_verification_and_the_township_is_told(as_user: Any, clock: Any) -> None:
    clock.at = MONDAY
    enrolled("甲", "t01v01")
    enrolled("乙", "t01v01")
    enrolled("丙", "t02v01")
    db.session.commit()
    start_due_duties(clock.at)
    db.session.commit()
    cycles = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "village_verification",
                                                           in_demo_county())).all()
    assert len(cycles) == 2  # the two villages with children in the programme, not every village
    assert all(c.period == "2026-Q1" and c.due_at == datetime(2026, 3, 31, 16, tzinfo=UTC) for c in cycles)
    assert start_due_duties(clock.at) == 0  # once a quarter

    director = as_user("director_t01v01")
    [task] = open_tasks(director, step="village_quarterly_verification")
    assert task["unit"]["kind"] == "village_committee"
    assert as_user("director_t02v01").post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {
        "verified_on": "2026-03-20", "children_verified": 2}}).status_code in (403, 404)
    assert _told("village_verified") == set()
    done = director.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {
        "verified_on": "2026-03-20", "children_verified": 2, "guardianship_changes": "乙的母亲已返乡。"}})
    assert done.status_code == 200, done.get_json()
    assert _told("village_verified") == {"supervisor_t01"}  # t01's child supervisor, not t02's
    cycle = next(c for c in cycles if c.case_id == task["case_id"])
    db.session.refresh(cycle)
    assert cycle.status == "done"
    note = db.session.scalar(sa.select(Notification).where(Notification.kind == "village_verified"))
    assert note.case_id == task["case_id"]
    assert as_user("supervisor_t01").get(f"/api/v1/cases/{task['case_id']}").status_code == 200  # may open it
