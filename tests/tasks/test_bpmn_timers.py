"""BPMN timers fire from the sweep, as of the platform's clock (not SpiffWorkflow's wall clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from deadline_helpers import DATA, open_case, sweep, tasks_of

from app import engine
from app.cases.models import TimelineEntry
from app.extensions import db
from app.tasks.models import Timer


def _complete(api: Any, username: str, task_id: int) -> None:
    resp = api(username).post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}})
    assert resp.status_code == 200, resp.get_json()


def test_engine_reads_the_clock_it_is_given_not_the_wall_clock() -> None:
    bundle = engine.parse_bundle({"t.bpmn": (DATA / "timer_handover.bpmn").read_text(encoding="utf-8")})
    long_ago = datetime(2001, 5, 1, 8, 0, tzinfo=UTC)
    snap = engine.start_instance("handover", bundle.spec_json, {}, now=long_ago)
    [timer] = snap.timers
    assert timer.due_at == long_ago + timedelta(hours=24) and type(timer.due_at) is datetime
    not_yet = engine.fire_timers("handover", bundle.spec_json, snap.state, now=long_ago + timedelta(hours=23))
    assert [t.bpmn_id for t in not_yet.ready_tasks] == ["township_visit"]
    fired = engine.fire_timers("handover", bundle.spec_json, snap.state, now=long_ago + timedelta(hours=25))
    assert [t.bpmn_id for t in fired.ready_tasks] == ["civil_affairs_takeover"]
    # Outside a command the real clock answers again: the 2001 timer is long due.
    assert [t.bpmn_id for t in engine.fire_timers("handover", bundle.spec_json, snap.state).ready_tasks] == [
        "civil_affairs_takeover"]


def test_interrupting_boundary_timer_hands_the_overdue_task_to_county_civil_affairs(county: Any, clock: Any) -> None:
    case = open_case("timer_handover", "t01v02")
    [visit] = tasks_of(case.id)
    assert visit.bpmn_id == "township_visit" and visit.unit.kind == "township"
    [timer] = db.session.query(Timer).all()
    assert timer.due_at == clock.now() + timedelta(hours=24)

    clock.advance(hours=23)
    assert sweep()["instances_with_timers"] == 0
    assert [t.bpmn_id for t in tasks_of(case.id)] == ["township_visit"]

    clock.advance(hours=2)
    report = sweep()
    assert report["instances_with_timers"] == 1
    [takeover] = tasks_of(case.id)
    assert takeover.bpmn_id == "civil_affairs_takeover"
    assert takeover.unit.kind == "civil_affairs" and takeover.unit.region.level == "county"
    assert [t.state for t in tasks_of(case.id, state=None) if t.bpmn_id == "township_visit"] == ["cancelled"]
    assert db.session.get(type(visit), visit.id).next_escalation_at is None  # withdrawn: its ladder stops
    assert db.session.query(Timer).count() == 0
    kinds = [e.kind for e in db.session.query(TimelineEntry).filter_by(case_id=case.id).order_by(TimelineEntry.id)]
    assert "task_cancelled" in kinds and kinds.count("task_created") == 2
    assert sweep()["instances_with_timers"] == 0  # fired once


def test_non_interrupting_timer_opens_a_supervisor_task_then_intermediate_and_gateway_timers(
        county: Any, clock: Any, api: Any) -> None:
    case = open_case("timer_supervision", "t02v01")
    [visit] = tasks_of(case.id)
    assert visit.bpmn_id == "village_visit" and visit.unit.kind == "village_committee"

    clock.advance(hours=9)  # the 8-hour boundary timer: escalation event, caught by the subprocess boundary
    sweep()
    open_now = {t.bpmn_id: t for t in tasks_of(case.id)}
    assert set(open_now) == {"village_visit", "supervisor_check"}  # the visit is NOT withdrawn
    assert open_now["supervisor_check"].unit.kind == "township"
    steps = [e.detail.get("bpmn_id") for e in db.session.query(TimelineEntry).filter_by(
        case_id=case.id, kind="engine_step")]
    assert "visit_late_timer" in steps and "late_caught" in steps

    _complete(api, "director_t02v01", visit.id)
    [wait] = db.session.query(Timer).all()
    assert wait.bpmn_id == "wait_followup" and wait.due_at == clock.now() + timedelta(days=3)
    clock.advance(days=3, minutes=1)
    sweep()
    followup = next(t for t in tasks_of(case.id) if t.bpmn_id == "followup_call")

    _complete(api, "director_t02v01", followup.id)
    [gateway] = db.session.query(Timer).all()  # the event-based gateway waits for a message or 7 days
    assert gateway.bpmn_id == "gw_wait" and gateway.due_at == clock.now() + timedelta(days=7)
    clock.advance(days=6)
    sweep()
    assert "township_review" not in {t.bpmn_id for t in tasks_of(case.id)}
    clock.advance(days=1, minutes=1)
    sweep()
    assert "township_review" in {t.bpmn_id for t in tasks_of(case.id)}
    assert db.session.query(Timer).count() == 0
