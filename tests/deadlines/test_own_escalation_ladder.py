"""A user task's own escalation ladder (its BPMN ``escalation`` property) beats the stored ladders.

The designer sets it on the side panel; it is versioned with the process, so a
case started on the earlier version keeps climbing the police ladder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from deadline_helpers import escalation_rows, open_case, sweep, tasks_of, usernames

from app.config import ROOT
from app.deadlines.ladder import OWN, LadderBook, LadderStep, parse_escalation, replace_ladder
from app.deadlines.models import ANY
from app.engine import edit_element
from app.extensions import db
from app.processes.operations import deploy, read_bundle_folder

OWN_LADDER = "holder@remind; unit_head+supervisor@due; coordinator@due+PT30M"


def _deploy_police_triage_with(ladder: str) -> None:
    files, forms = read_bundle_folder(ROOT / "bpmn" / "four_in_one", ROOT / "forms")
    files["four_in_one.bpmn"] = edit_element(files["four_in_one.bpmn"], "four_in_one.bpmn", "police_triage",
                                             properties={"escalation": ladder})
    deploy(files, forms, note="own ladder for police triage")
    db.session.commit()


def test_a_task_with_its_own_ladder_climbs_it_and_an_earlier_case_keeps_the_police_ladder(
        county: Any, clock: Any, api: Any) -> None:
    earlier = open_case("four_in_one", "t01v01")
    _deploy_police_triage_with(OWN_LADDER)
    later = open_case("four_in_one", "t01v01")
    [old], [new] = tasks_of(earlier.id), tasks_of(later.id)
    assert old.escalation is None and new.escalation == OWN_LADDER
    assert api("police_t01").get(f"/api/v1/tasks/{new.id}").get_json()["escalation"] == OWN_LADDER

    clock.advance(minutes=61)  # both reminded (45 min) and overdue (60 min)
    sweep()
    overdue = {row.task_id: row for row in escalation_rows() if row.level == 2}
    assert usernames(overdue[new.id].recipients) == {"police_t01_head", "supervisor_t01"}
    assert overdue[new.id].name == "overdue"
    assert usernames(overdue[old.id].recipients) == {"police_t01", "police_t01_head"}

    clock.advance(minutes=30)  # the own ladder's third step: due + 30 minutes; the police one waits for 2 hours
    sweep()
    assert [r.level for r in escalation_rows(new.id)] == [1, 2, 3]
    assert [r.level for r in escalation_rows(old.id)] == [1, 2]
    third = escalation_rows(new.id)[2]
    assert (third.name, usernames(third.recipients)) == ("escalation", {"coordinator"})
    assert tasks_of(later.id)[0].next_escalation_at is None

    clock.advance(hours=2)
    sweep()
    assert [r.level for r in escalation_rows(old.id)] == [1, 2, 3]
    assert [r.level for r in escalation_rows(new.id)] == [1, 2, 3]  # nothing repeated


def test_the_own_ladder_wins_over_stored_rows_and_a_broken_one_falls_back(county: Any) -> None:
    replace_ladder("four_in_one", "police", [LadderStep(1, "overdue", "due", audiences=("unit_head",),
                                                        marks_overdue=True)])
    book = LadderBook()
    stored = book.for_task("four_in_one", "police")
    assert stored.key == ("four_in_one", "police") and len(stored.steps) == 1
    own = book.for_task("four_in_one", "police", OWN_LADDER)
    assert own.key == (OWN, OWN_LADDER)
    assert [(s.level, s.anchor, s.delay, s.audiences) for s in own.steps] == [
        (1, "remind", "", ("holder",)), (2, "due", "", ("unit_head", "supervisor")),
        (3, "due", "PT30M", ("coordinator",))]
    # a ladder that no longer parses (an audience renamed since) never leaves the task without escalation
    assert book.for_task("four_in_one", "police", "nobody@due").key == ("four_in_one", "police")
    assert book.for_task("other", "court", "nobody@due").key[0] in (ANY, "builtin")
    # a ladder too long for the task row is refused (at save and deploy), never cut short
    with pytest.raises(ValueError, match="longer than 500"):
        parse_escalation("; ".join(["coordinator+supervisor+unit_head@due+PT1H"] * 20))


def test_reassigning_keeps_the_tasks_own_ladder(county: Any, clock: Any, api: Any) -> None:
    _deploy_police_triage_with("unit_head@due+PT10M")
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    assert task.next_escalation_at == task.due_at + timedelta(minutes=10)  # no reminder step in this ladder
    from app.org.queries import user_by_username
    from app.tasks.operations import reassign

    reassign(task, user_by_username("police_t01"), user_by_username("police_t01_head"))
    db.session.commit()
    assert tasks_of(case.id)[0].next_escalation_at == task.due_at + timedelta(minutes=10)
