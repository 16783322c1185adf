"""Escalation ladders: each step once per (task, level), stopped by completion, caught up after a gap."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deadline_helpers import escalation_rows, notifications, open_case, sweep, tasks_of, usernames
from flows.scenarios import SCENARIOS

from app.cases.models import TimelineEntry
from app.extensions import db

FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]


def _first_police_task() -> Any:
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    assert task.department_kind == "police" and task.deadline == "PT1H"
    return case, task


def test_police_task_climbs_remind_overdue_coordinator_each_step_once(county: Any, clock: Any, api: Any) -> None:
    case, task = _first_police_task()
    created = task.created_at
    assert task.due_at == created + timedelta(hours=1)
    assert task.remind_at == created + timedelta(minutes=45)
    assert task.next_escalation_at == task.remind_at and task.escalation_level == 0

    assert sweep()["steps_taken"] == 0  # nothing due yet
    clock.advance(minutes=46)
    assert sweep()["steps_taken"] == 1
    [remind] = escalation_rows(task.id)
    assert (remind.level, remind.name, remind.outcome) == (1, "remind", "notified")
    assert usernames(remind.recipients) == {"police_t01", "police_t01_head"}  # unclaimed: the whole unit

    clock.advance(minutes=15)  # due
    assert sweep()["steps_taken"] == 1
    overdue = escalation_rows(task.id)[1]
    assert (overdue.level, overdue.name) == (2, "overdue")
    assert usernames(overdue.recipients) == {"police_t01", "police_t01_head"}
    assert db.session.query(TimelineEntry).filter_by(task_id=task.id, kind="task_overdue").count() == 1

    clock.advance(hours=2)  # police grace: PT2H after due
    assert sweep()["steps_taken"] == 1
    third = escalation_rows(task.id)[2]
    assert (third.level, third.name) == (3, "coordinator")
    assert usernames(third.recipients) == {"coordinator"}
    assert tasks_of(case.id)[0].next_escalation_at is None  # ladder done

    for _ in range(3):  # more sweeps, much later: nothing is repeated
        clock.advance(days=3)
        assert sweep()["steps_taken"] == 0
    assert [e.level for e in escalation_rows(task.id)] == [1, 2, 3]
    per_user = [(n.user_id, n.kind) for n in notifications(task_id=task.id) if n.kind != "new_task"]
    assert len(per_user) == len(set(per_user)) == 2 + 2 + 1

    body = api("police_t01").get(f"/api/v1/tasks/{task.id}").get_json()
    assert [e["name"] for e in body["escalations"]] == ["remind", "overdue", "coordinator"]
    assert body["escalations"][2]["recipients"] == ["县未成年人保护工作协调员"]
    assert body["overdue"] is True and body["escalation_level"] == 3 and body["next_escalation_at"] is None


def test_completing_a_task_stops_its_ladder(county: Any, clock: Any, api: Any) -> None:
    case, task = _first_police_task()
    clock.advance(minutes=50)
    sweep()
    assert [e.level for e in escalation_rows(task.id)] == [1]
    resp = api("police_t01").post(f"/api/v1/tasks/{task.id}/complete", json={"data": FIRST.data})
    assert resp.status_code == 200, resp.get_json()
    clock.advance(days=5)
    sweep()
    assert [e.level for e in escalation_rows(task.id)] == [1]
    db.session.expire_all()
    assert db.session.get(type(task), task.id).next_escalation_at is None


def test_a_late_sweep_catches_up_and_a_reminder_after_due_is_skipped(county: Any, clock: Any) -> None:
    case, task = _first_police_task()
    clock.advance(hours=5)  # the worker was down through remind, due and the grace period
    assert sweep()["steps_taken"] == 3
    rows = escalation_rows(task.id)
    assert [(e.level, e.outcome) for e in rows] == [(1, "skipped"), (2, "notified"), (3, "notified")]
    assert rows[0].recipients == []
    assert [n.kind for n in notifications(task_id=task.id) if n.kind == "remind"] == []


def test_reassigned_task_keeps_its_remaining_steps_for_the_new_holder(county: Any, clock: Any) -> None:
    from app.org.queries import user_by_username
    from app.tasks.operations import reassign

    case, task = _first_police_task()
    reassign(task, user_by_username("police_t01"), user_by_username("police_t01_head"))
    db.session.commit()
    clock.advance(minutes=50)
    sweep()
    [remind] = escalation_rows(task.id)
    assert usernames(remind.recipients) == {"police_t01"}  # the holder now is the assignee


def test_deadline_already_past_when_the_task_is_created_is_overdue_at_once(county: Any, clock: Any,
                                                                           api: Any) -> None:
    case = open_case("past_deadline", "t02v01")
    [task] = tasks_of(case.id)
    assert task.due_at < task.created_at  # a conference decision dated before today
    assert task.is_overdue(clock.now())
    listed = api("township_t02").get("/api/v1/tasks", query_string={"overdue": "true"}).get_json()["items"]
    assert [t["id"] for t in listed] == [task.id]
    assert sweep()["steps_taken"] == 3  # due 03-01 17:30, so the 1WD grace to the coordinator has passed too
    assert [(e.level, e.outcome) for e in escalation_rows(task.id)] == [
        (1, "skipped"), (2, "notified"), (3, "notified")]
    assert usernames(escalation_rows(task.id)[1].recipients) == {"township_t02", "township_t02_head",
                                                                "supervisor_t02"}


def test_stored_ladder_for_a_process_wins_over_the_default(county: Any, clock: Any, app: Any, tmp_path: Any) -> None:
    import json

    ladder = [{"process": "four_in_one", "kind": "police", "steps": [
        {"level": 1, "name": "overdue", "anchor": "due", "audiences": ["unit_head"], "marks_overdue": True},
        {"level": 2, "name": "coordinator", "anchor": "due", "delay": "PT30M", "audiences": ["coordinator"]}]}]
    path = tmp_path / "ladder.json"
    path.write_text(json.dumps(ladder), encoding="utf-8")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["ladders", "load", str(path)])
    assert out.exit_code == 0, out.output
    shown = runner.invoke(args=["ladders", "show", "--process", "four_in_one", "--kind", "police"]).output
    assert "ladder four_in_one/police" in shown and "due + PT30M" in shown
    assert "ladder builtin/police" in runner.invoke(args=["ladders", "show", "--kind", "police"]).output
    assert "*/police" in runner.invoke(args=["ladders", "seed"]).output
    assert "nothing" in runner.invoke(args=["ladders", "seed"]).output  # idempotent
    assert "ladder */police" in runner.invoke(args=["ladders", "show", "--kind", "police"]).output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"kind": "police", "steps": [{"level": 1, "name": "x", "anchor": "when"}]}]))
    refused = runner.invoke(args=["ladders", "load", str(bad)])
    assert refused.exit_code == 2 and "anchor" in refused.output

    case, task = _first_police_task()
    assert task.next_escalation_at == task.due_at  # no reminder step in this ladder
    clock.advance(minutes=95)
    sweep()
    rows = escalation_rows(task.id)
    assert [(e.level, e.name) for e in rows] == [(1, "overdue"), (2, "coordinator")]
    assert usernames(rows[0].recipients) == {"police_t01_head"}


def test_unrouted_task_escalates_to_the_coordinator(county: Any, clock: Any) -> None:
    from app.org.models import Unit

    db.session.query(Unit).filter_by(kind="police").update({"kind": "police_gone"})
    db.session.commit()
    case = open_case("four_in_one", "t03v01")
    [task] = tasks_of(case.id)
    assert task.unit_id is None
    clock.advance(minutes=50)
    sweep()
    assert usernames(escalation_rows(task.id)[0].recipients) == {"coordinator"}
