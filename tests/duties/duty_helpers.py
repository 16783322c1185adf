"""Helpers for the duty tests: children in the programme, and working their duty tasks as the units would."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from app.cases.models import Child, Guardian
from app.common.clock import now
from app.duties.models import DutyCycle, Enrolment
from app.duties.operations import enrol
from app.extensions import db
from app.org.queries import region_by_code, user_by_username
from app.tasks.models import Task
from app.workflow import commands as task_ops

FORM_DATA: dict[str, dict[str, Any]] = {
    "weekly_contact": {"contact_date": "2026-01-07", "contact_method": "phone", "child_well": True},
    "home_visit": {"visit_date": "2026-01-07", "child_seen": True, "caregiver_present": True,
                   "living_conditions": "basic", "caregiver_capacity": "capable", "schooling": "in_school",
                   "visit_finding": "no_concern"},
    "assessment_visit": {"visit_date": "2026-01-07", "child_seen": True, "caregiver_capacity": "capable",
                         "schooling": "in_school"},
    "assessment_grading": {"safety_situation": "safe", "guardianship_status": "performs_well",
                           "health_status": "good", "grade": "good", "key_child": False,
                           "assessment_summary": "监护较好。"},
    "caregiver_check": {"checked_on": "2026-01-07", "child_seen": True, "caregiver_capacity": "capable",
                        "neglect": False},
    "notify_parents": {"parents_notified": True, "notified_on": "2026-01-08", "parents_response": "will_change_caregiver"},
    "township_progress_report": {"report_submitted_on": "2026-10-20", "children_count": 3, "visits_done": 40,
                                 "report_text": "本镇工作进展情况。"},
    "civil_affairs_review": {"reviewed_on": "2026-10-28", "accepted": True},
    "village_quarterly_verification": {"verified_on": "2026-03-20", "children_verified": 1},
}
"""Valid form data per step (the dates need not match the clock: they are what the worker writes)."""

WORKER = {"village_committee": "director_{village}", "township": "township_{township}",
          "civil_affairs": "civil_affairs_c01", "education": "education_c01", "police": "police_c01"}


def new_child(name: str, village: str = "t01v01", tags: list[str] | None = None) -> Child:
    child = Child(name=name, sex="female", birth_date=date(2014, 5, 1), id_number=None,
                  village=region_by_code(village), tags=tags or ["left_behind"], created_at=now())
    child.guardians = [Guardian(name="祖母", relation="grandmother", lives_with_child=True)]
    db.session.add(child)
    db.session.flush()
    return child


def enrolled(name: str, village: str = "t01v01", started_on: date = date(2026, 1, 1),
             key_reasons: list[str] | None = None, tags: list[str] | None = None) -> Enrolment:
    return enrol(new_child(name, village, tags), None, tags=tags or ["left_behind"], key_reasons=key_reasons or [],
                 start_reason="survey", started_on=started_on)


def open_task_of(cycle: DutyCycle) -> Task | None:
    return db.session.scalar(sa.select(Task).where(Task.instance_id == cycle.instance_id, Task.state == "open")
                             .order_by(Task.id).limit(1))


def complete(task: Task, village: str = "t01v01", **data: Any) -> None:
    """Complete ``task`` as a member of its unit, with valid form data for its step."""
    username = WORKER[task.department_kind or ""].format(village=village, township=village[:3])
    user = user_by_username(username)
    assert user is not None and user.unit_id == task.unit_id, (username, task.bpmn_id)
    task_ops.complete(task, user, {**FORM_DATA[task.bpmn_id], **data})


def complete_cycle(cycle: DutyCycle, village: str = "t01v01",
                   overrides: dict[str, dict[str, Any]] | None = None) -> None:
    """Work every task of the cycle's instance until it ends (``overrides``: form data per step)."""
    while (task := open_task_of(cycle)) is not None:
        complete(task, village, **(overrides or {}).get(task.bpmn_id, {}))


def in_demo_county() -> Any:
    """Region-level cycles (comparisons, township reports) of the demo county ``c01``, not of its neighbour."""
    from app.cases.access import regions_within

    county = region_by_code("c01")
    assert county is not None
    return DutyCycle.region_id.in_(regions_within(county.id))
