"""The township is told as soon as the police have handled a case in its area (issue 15, part 6b): a
``task_completed`` receiver, not the township's own task arriving later; only people with a basis."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers import report_payload

from app.extensions import db


def test_the_police_handling_tells_the_townships_supervisor_at_once(as_user: Any, page: Any) -> None:
    from flows.scenarios import SCENARIOS

    from app.cases.models import Case
    from app.notifications.models import Notification
    from app.org.models import User
    from app.org.queries import user_by_username
    from app.tasks.models import Task
    from app.workflow import commands as operations

    created = as_user("reporter_school").post("/api/v1/reports", json=report_payload(village="t01v01"))
    assert created.status_code == 201, created.get_json()
    case = db.session.get(Case, created.get_json()["case_id"])
    assert case is not None
    police = user_by_username("police_t01")
    steps = {s.bpmn_id: s.data for s in SCENARIOS["living_alone_parents_reached_good_caring"].steps}

    def told() -> set[str]:
        rows = db.session.scalars(sa.select(Notification).where(Notification.kind == "police_handled",
                                                                Notification.case_id == case.id))
        return {db.session.get(User, n.user_id).username for n in rows}  # type: ignore[union-attr]

    for step in ("police_triage", "police_living_alone"):
        db.session.expire_all()
        task = db.session.scalar(sa.select(Task).where(Task.case_id == case.id, Task.bpmn_id == step))
        operations.complete(task, police, steps[step])  # type: ignore[arg-type]
        db.session.commit()
        assert told() == set(), step  # not before the handling is done
    task = db.session.scalar(sa.select(Task).where(Task.case_id == case.id,
                                                   Task.bpmn_id == "police_legal_disposition"))
    operations.complete(task, police, steps["police_legal_disposition"])  # type: ignore[arg-type]
    db.session.commit()
    # The township's supervisor (jurisdiction): told; the township government's plain liaison has no basis
    # on the case yet (no task, no jurisdiction), another township's supervisor has none either.
    assert told() == {"supervisor_t01"}
    note = db.session.scalar(sa.select(Notification).where(Notification.kind == "police_handled"))
    assert note is not None and case.number in note.title
    listed = page("supervisor_t01").get("/notifications")
    assert listed.status_code == 200 and case.number in listed.get_data(as_text=True)
