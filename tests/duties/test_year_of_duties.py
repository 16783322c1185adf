"""A year of recurring duties for one village, week by week on the controllable clock.

Three children of 柳树村 are in the programme from 1 January 2026: 甲 (ordinary), 乙 (a key child:
visits twice a month) and 丙 (ordinary until graded poor in July, then a key child). Each Monday
09:00 the scheduler runs (twice: the second run must start nothing) and the escalation sweep runs;
on Wednesday the child director and the township do the duties the plan says, and skip the others.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from duty_helpers import complete_cycle, enrolled, in_demo_county

from app.cases.models import TimelineEntry
from app.deadlines.escalation import due_task_ids
from app.deadlines.models import Escalation
from app.deadlines.sweep_batch import escalate
from app.duties.models import DutyCycle
from app.duties.operations import start_assessment_now
from app.duties.scheduler import start_due_duties, sweep_cycles
from app.extensions import db
from app.notifications.models import Notification
from app.org.queries import user_by_username
from app.processes.models import ProcessInstance, ProcessSpec
from app.tasks.models import Task

FIRST_MONDAY = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 county time
WEEKS = 52  # 2026-01-05 .. 2026-12-28: ISO weeks W02..W53


def _skips(name: str, cycle: DutyCycle) -> bool:
    """The plan: which duties are not done (the rest are done on the Wednesday of the week they start)."""
    if cycle.duty == "weekly_contact":
        week = int(cycle.period.split("-W")[1]) - 2  # 0-based week of the simulation
        return (name == "甲" and week % 4 == 3) or (name == "丙" and week % 2 == 1)
    if cycle.duty == "home_visit":
        return name == "甲" and cycle.period in ("2026-03", "2026-08")
    if cycle.duty == "assessment":
        return name == "丙" and cycle.period == "2026-H1"
    return False


@pytest.mark.long  # 10-16 s: handed out first (conftest)
def test_a_year_of_duties_for_one_village(demo: Any, clock: Any) -> None:
    children = {name: enrolled(name, key_reasons=["psychological_or_behavioural"] if name == "乙" else [])
                for name in ("甲", "乙", "丙")}
    db.session.commit()
    by_child = {e.child_id: name for name, e in children.items()}
    worked: set[int] = set()

    for week in range(WEEKS):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        clock.at = monday
        escalate(due_task_ids(monday), monday)
        start_due_duties(monday)
        db.session.commit()
        assert start_due_duties(monday) == 0, f"second run at {monday} started cycles again"
        db.session.commit()
        if week == 10:
            start_assessment_now(children["乙"].child, None, "心理行为异常，随时评估")
            db.session.commit()
        clock.at = monday + timedelta(days=2, hours=1)  # Wednesday 10:00
        for cycle in db.session.scalars(sa.select(DutyCycle).where(DutyCycle.id.not_in(worked or {0}))
                                        .order_by(DutyCycle.id)).all():
            worked.add(cycle.id)
            name = by_child.get(cycle.child_id or 0)
            if name is None:  # township reports and the county comparison: not part of this plan
                continue
            if _skips(name, cycle):
                continue
            grade = "poor" if (name, cycle.period) == ("丙", "2026-H2") else "good"
            complete_cycle(cycle, overrides={"assessment_grading": {
                "grade": grade, "key_child": grade == "poor",
                "guardianship_status": "absent_or_inadequate" if grade == "poor" else "performs_well"}})
        db.session.commit()

    end = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    clock.at = end
    escalate(due_task_ids(end), end)
    sweep_cycles(end)  # close the books on the last week without starting 2027's cycles
    db.session.commit()

    cycles = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.child_id.is_not(None))).all()
    tally = Counter((by_child[c.child_id], c.duty, c.status) for c in cycles)
    assert tally == Counter({
        ("甲", "weekly_contact", "done"): 39, ("甲", "weekly_contact", "missed"): 13,
        ("乙", "weekly_contact", "done"): 52,
        ("丙", "weekly_contact", "done"): 26, ("丙", "weekly_contact", "missed"): 26,
        ("甲", "home_visit", "done"): 10, ("甲", "home_visit", "missed"): 2,
        ("乙", "home_visit", "done"): 24,  # a key child: twice a month
        ("丙", "home_visit", "done"): 17,  # monthly to July; graded poor in July: twice a month from August
        ("甲", "assessment", "done"): 2, ("乙", "assessment", "done"): 3, ("丙", "assessment", "done"): 1,
        ("丙", "assessment", "missed"): 1,
    })
    # Nothing duplicated: one instance per cycle, one cycle per (duty, subject, period).
    keys = Counter((c.duty, c.subject, c.period) for c in cycles)
    assert max(keys.values()) == 1
    duty_instances = db.session.scalar(sa.select(sa.func.count(ProcessInstance.id)).join(ProcessSpec).where(
        ProcessSpec.process_key.in_(["duty_weekly_contact", "duty_home_visit", "duty_assessment"])))
    assert duty_instances == len(cycles)
    assert sum(1 for c in cycles if c.trigger == "on_demand") == 1

    # Each missed cycle was escalated once: recorded on the child's file, and its task went up the ladder
    # (the village committee's ``overdue`` step at the due time tells the township's child supervisor).
    missed = [c for c in cycles if c.status == "missed"]
    care_cases = [e.case_id for e in children.values()]
    assert db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.kind == "duty_missed", TimelineEntry.case_id.in_(care_cases))) == len(missed) == 42
    supervisor = user_by_username("supervisor_t01")
    told = {n.task_id for n in db.session.scalars(sa.select(Notification).where(
        Notification.user_id == supervisor.id, Notification.kind == "overdue"))}
    for cycle in cycles:
        first = db.session.scalar(sa.select(Task).where(Task.instance_id == cycle.instance_id).order_by(Task.id))
        levels = {e.level for e in db.session.scalars(sa.select(Escalation).where(Escalation.task_id == first.id))}
        if cycle.status == "missed":
            assert 2 in levels and first.id in told, (cycle.duty, cycle.period)
        else:
            assert 2 not in levels and first.id not in told, (cycle.duty, cycle.period)
    # A missed cycle's task stays open (late completion allowed) until the next cycle is also due; then it
    # is withdrawn: only the last week's missed contacts are still open on 4 January 2027.
    still_open = [c for c in missed if db.session.scalar(sa.select(Task.state).where(
        Task.instance_id == c.instance_id).order_by(Task.id.desc()).limit(1)) == "open"]
    assert sorted((by_child[c.child_id], c.duty, c.period) for c in still_open) == [
        ("丙", "weekly_contact", "2026-W53"), ("甲", "weekly_contact", "2026-W53")]
    h1 = next(c for c in missed if c.duty == "assessment")
    assert db.session.get(ProcessInstance, h1.instance_id).status == "cancelled"  # withdrawn when H2 was due

    # The region-level duties ran on their own calendar: four quarterly comparisons for the county, four
    # quarterly verifications of the children's village, and one progress report per township, opened
    # 1 October and due 1 November.
    region = Counter((c.duty, c.period) for c in db.session.scalars(
        sa.select(DutyCycle).where(DutyCycle.child_id.is_(None), in_demo_county())))
    assert region == Counter({("data_comparison", "2026-Q1"): 1, ("data_comparison", "2026-Q2"): 1,
                              ("data_comparison", "2026-Q3"): 1, ("data_comparison", "2026-Q4"): 1,
                              ("village_verification", "2026-Q1"): 1, ("village_verification", "2026-Q2"): 1,
                              ("village_verification", "2026-Q3"): 1, ("village_verification", "2026-Q4"): 1,
                              ("annual_report", "2026"): 3})
    report = db.session.scalar(sa.select(DutyCycle).where(DutyCycle.duty == "annual_report").limit(1))
    assert report.due_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 1 November 00:00 county time
