"""``told_of_case`` (the need-to-know rule decided for a list of users on one case) answers what ``may_be_told``
answers per user, for every demo user on cases that hold every kind of basis; and it costs a few statements
whatever the number of users, where the per-user rule costs up to five each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import submit_report, unit_user
from sqlalchemy.orm import lazyload
from sqlcount import not_savepoint, statements_sent

from app.cases.access import may_be_told, told_of_case
from app.cases.models import Case
from app.conferences.operations import schedule
from app.extensions import db
from app.org.models import User
from app.org.queries import user_by_username
from app.tasks.models import Task
from app.workflow import commands

SCENARIO = SCENARIOS["living_alone_parents_reached_good_caring"]


def _cases(as_user: Any) -> list[int]:
    """A case whose police steps are done (units with tasks: police, education, civil affairs, village), a fresh
    case in another township with a conference (two units and a person of a third invited by name), one in the
    neighbouring county, and a cancelled conference's case (no basis left from it)."""
    school = as_user("reporter_school")
    worked = submit_report(school, "living_alone", "t01v01")["case_id"]
    for step in SCENARIO.steps[:3]:
        task = db.session.scalar(sa.select(Task).where(Task.case_id == worked, Task.bpmn_id == step.bpmn_id,
                                                       Task.state == "open"))
        assert task is not None, step.bpmn_id
        commands.complete(task, user_by_username(unit_user(step.lane, "t01v01")), dict(step.data))  # type: ignore[arg-type]
        db.session.commit()
    conferred = submit_report(school, "missing", "t02v01")["case_id"]
    rescue = user_by_username("rescue_center_c01").unit_id  # type: ignore[union-attr]
    named = user_by_username("police_t01")
    schedule(db.session.get(Case, conferred), user_by_username("coordinator"),  # type: ignore[arg-type]
             title="个案会商", scheduled_at=datetime(2030, 3, 12, 6, 0, tzinfo=UTC), convening_unit_id=rescue,
             invited=[{"department_kind": "justice"}, {"department_kind": "education"}],
             attendees=[{"user_id": named.id}])  # type: ignore[union-attr]
    other_county = submit_report(school, "living_alone", "t21v01")["case_id"]
    db.session.commit()
    return [worked, conferred, other_county]


def _people() -> list[User]:
    """Every user, loaded as a worker list loads them (roles not loaded), from a session that holds nothing."""
    db.session.expire_all()
    db.session.expunge_all()
    return list(db.session.scalars(sa.select(User).options(lazyload(User.role_rows)).order_by(User.id)))


def test_the_batched_answer_is_the_per_user_answer_for_every_demo_user(as_user: Any) -> None:
    cases = _cases(as_user)
    deactivated = user_by_username("township_t02")
    assert deactivated is not None
    deactivated.active = False
    db.session.commit()
    for case_id in cases:
        batched = {u.username for u in told_of_case(_people(), case_id)}
        expected = {u.username for u in _people() if may_be_told(u, case_id)}

        assert batched == expected, (case_id, batched ^ expected)
        assert len(expected) >= 3, expected  # the case is visible to someone: not vacuously equal
    told = {case_id: {u.username for u in told_of_case(_people(), case_id)} for case_id in cases}
    assert "education_c01" in told[cases[0]] and "education_c01" in told[cases[1]]  # a task; an invitation
    assert "justice_c01" in told[cases[1]] and "justice_c01" not in told[cases[0]]
    assert "police_t01" in told[cases[1]] and "police_t01_head" not in told[cases[1]]  # by name, not the unit
    assert "coordinator_c02" in told[cases[2]] and "coordinator" not in told[cases[2]]
    assert "reporter_school" not in told[cases[0]]  # a reporter sees the number only: never told


def test_no_case_tells_everyone_and_an_unknown_case_tells_nobody(as_user: Any) -> None:
    people = _people()
    assert told_of_case(people, None) == people
    assert told_of_case(people, 10**9) == []
    assert told_of_case([], 1) == []


def test_a_list_of_users_costs_three_statements_whatever_its_length(as_user: Any) -> None:
    case_id = _cases(as_user)[1]
    for few in (3, None):
        people = _people()[:few]
        held = db.session.get(Case, case_id)  # the sender has the case (the identity map holds it weakly)
        with statements_sent(not_savepoint) as seen:
            told_of_case(people, case_id)
        assert held is not None and len(seen) <= 3, seen  # roles, the region chain, the unit and conference facts
    region_loaded = _people()
    case = db.session.get(Case, case_id)
    assert case is not None and case.region.ancestry()  # the session holds the region chain now
    with statements_sent(not_savepoint) as seen:
        told_of_case(region_loaded, case_id)
    assert len(seen) == 2, seen
