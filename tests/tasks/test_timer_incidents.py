"""Timers you can trust: a timer without a computable time is an incident, failing timers back off,
and one bad timer cannot starve the others (issue 11, part 5)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from deadline_helpers import deploy_test_bpmn, open_case, sweep, tasks_of

from app.deadlines.sweep import due_timer_instances
from app.extensions import db
from app.tasks.models import Timer, TimerIncident
from app.tasks.timers import backoff


def _incidents(**where: Any) -> list[TimerIncident]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(TimerIncident).filter_by(**where).order_by(TimerIncident.id)))


def test_a_timer_whose_time_cannot_be_computed_is_an_incident_designers_and_admins_see(
        app: Any, county: Any, api: Any) -> None:
    deploy_test_bpmn("timer_broken")
    db.session.commit()
    case = open_case("timer_broken", "t01v01")  # "P" + situation is no duration: the case still opens
    [visit] = tasks_of(case.id)
    assert visit.bpmn_id == "visit"
    [timer] = db.session.scalars(sa.select(Timer)).all()
    assert timer.due_at is None and "Invalid duration" in (timer.last_error or "")
    [incident] = _incidents(resolved_at=None)
    assert (incident.kind, incident.bpmn_id, incident.case_id) == ("no_due_time", "late", case.id)
    assert "Invalid duration" in incident.reason

    body = api("admin").get(f"/api/v1/cases/{case.id}").get_json()
    [instance] = body["instances"]
    assert [(i["kind"], i["bpmn_id"]) for i in instance["incidents"]] == [("no_due_time", "late")]
    liaison = api("police_t01").get(f"/api/v1/cases/{case.id}").get_json()
    assert liaison["instances"][0]["incidents"] == []  # the liaison cannot fix a diagram
    listed = api("admin").get("/api/v1/processes/incidents")
    assert listed.status_code == 200 and [i["case_id"] for i in listed.get_json()["items"]] == [case.id]
    assert api("police_t01").get("/api/v1/processes/incidents").status_code == 403

    from webhelpers import PageClient

    for username, path in (("admin", f"/cases/{case.id}"), ("designer", "/designer/")):
        html = PageClient(app, username).get(path).get_data(as_text=True)
        assert 'data-incident="no_due_time"' in html and "Invalid duration" in html, username
    html = PageClient(app, "police_t01").get(f"/cases/{case.id}").get_data(as_text=True)
    assert "data-incident" not in html

    resp = api("police_t01").post(f"/api/v1/tasks/{visit.id}/complete", json={"data": {}})
    assert resp.status_code == 200, resp.get_json()
    assert _incidents(resolved_at=None) == [] and len(_incidents()) == 1  # the instance moved past it


def test_a_failing_timer_backs_off_is_recorded_and_does_not_starve_the_others(county: Any, clock: Any) -> None:
    deploy_test_bpmn("timer_faulty")
    db.session.commit()
    faulty = [open_case("timer_faulty", "t01v01") for _ in range(3)]
    clock.advance(minutes=1)
    good = open_case("timer_handover", "t01v02")  # its 24-hour timer falls due after the faulty ones
    clock.advance(hours=25)

    report = sweep()
    assert report["instances_with_timers"] == 4
    assert [t.bpmn_id for t in tasks_of(good.id)] == ["civil_affairs_takeover"]  # fired despite the others
    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(Timer).order_by(Timer.instance_id)))
    assert len(rows) == 3 and {r.attempts for r in rows} == {1}
    assert all(r.next_attempt_at == clock.now() + backoff(1) and "missing_variable" in (r.last_error or "")
               for r in rows)
    incidents = _incidents(resolved_at=None, kind="fire_failed")
    assert sorted(i.case_id for i in incidents) == sorted(c.id for c in faulty)

    assert due_timer_instances(clock.now()) == []  # backed off: the next sweep does not retry them
    assert sweep()["instances_with_timers"] == 0
    clock.advance(minutes=1, seconds=1)
    assert len(due_timer_instances(clock.now())) == 3
    sweep()
    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(Timer)))
    assert {r.attempts for r in rows} == {2} and rows[0].next_attempt_at == clock.now() + timedelta(minutes=2)
    assert {i.attempts for i in _incidents(resolved_at=None)} == {2}


def test_timers_that_keep_failing_cannot_hold_the_head_of_a_limited_batch(county: Any, clock: Any) -> None:
    deploy_test_bpmn("timer_faulty")
    db.session.commit()
    start = clock.now()
    faulty = [open_case("timer_faulty", "t01v01").id for _ in range(2)]  # due at +1 h, fail every time
    good = open_case("timer_handover", "t01v02")  # due at +24 h
    clock.advance(hours=1, seconds=1)
    sweep()
    # As if they had failed all day: their next attempt is after the good timer's due time.
    db.session.execute(sa.update(Timer).where(Timer.attempts > 0).values(
        attempts=9, next_attempt_at=start + timedelta(hours=24, minutes=30)))
    db.session.commit()
    clock.advance(hours=23, minutes=31)
    faulty_instances = set(db.session.scalars(sa.select(Timer.instance_id).where(Timer.attempts > 0)))
    assert len(faulty_instances) == 2 and len(due_timer_instances(clock.now())) == 3
    [first] = due_timer_instances(clock.now(), limit=1)
    assert first not in faulty_instances  # ordered by next attempt, not by the long-past due time
    assert len(faulty) == 2 and tasks_of(good.id)
