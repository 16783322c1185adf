"""A batch's recipient lists are memoised by what they depend on: for a per-case audience (the conference
team) that is who the batch read it names, so cases without a team share one list and a case with one gets
its team (issue 17 part 4: the sweep resolved every step's audiences anew for each of 10,000 cases)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.deadlines import escalation
from app.deadlines.escalation import recipients
from app.deadlines.ladder import LadderStep
from app.deadlines.sweep_batch import DueCase, DueTask
from app.extensions import db
from app.org.absence import StandIns
from app.org.models import Region
from app.org.queries import user_by_username


def _task(case_id: int, region_id: int) -> DueTask:
    return DueTask(id=case_id, case_id=case_id, unit_id=None, assignee_id=None, department_kind="police",
                   escalation=None, escalation_level=2, next_escalation_at=None, remind_at=None, due_at=None,
                   name="step", region_id=region_id, number=f"N{case_id}")


def test_cases_without_a_team_share_a_list_and_a_case_with_one_gets_its_team(county: Any, monkeypatch: Any) -> None:
    region = db.session.scalar(sa.select(Region.id).where(Region.code == "t01v01"))
    member = user_by_username("police_t01")
    step = LadderStep(3, "coordinator", "due", "1WD", ("coordinator", "conference_team"))
    cache: dict[tuple[str, Any], list[Any]] = {("conference_team", ("case", 1)): [member],
                                               ("conference_team", ("case", 2)): [],
                                               ("conference_team", ("case", 3)): []}
    asked: list[str] = []
    coordinator = escalation._audiences["coordinator"]
    monkeypatch.setitem(escalation._audiences, "coordinator",
                        lambda task, case: asked.append("coordinator") or coordinator(task, case))
    away = StandIns.load()

    def told(case_id: int) -> set[str]:
        users = recipients(step, _task(case_id, region), DueCase(case_id, region, f"N{case_id}"), cache, away)
        return {u.username for u in users}

    with_team, without, another = told(1), told(2), told(3)
    assert "police_t01" in with_team and "coordinator" in with_team
    assert without == another == with_team - {"police_t01"}
    assert asked == ["coordinator"]  # the county's coordinators read once for the three cases
    assert sum(1 for key in cache if key[0] == "recipients") == 2  # one list with the team, one without
