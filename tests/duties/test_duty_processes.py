"""Each duty process end to end: dropout return, entrusted care follow-ups, assessment at any time,
the quarterly comparison whose differences become tasks, the township report; frequency rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from duty_helpers import complete, complete_cycle, enrolled, in_demo_county, open_task_of
from helpers import open_tasks

from app.duties.models import DutyCycle, Entrustment
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.tasks.models import Task

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def _put(api: Any, body: dict[str, Any]) -> Any:
    return api.client.put("/api/v1/duties/frequencies", json=body, headers=api.headers)


def test_dropout_is_persuaded_back_by_education_township_and_village(as_user: Any, clock: Any) -> None:
    enrolment = enrolled("辍学生")
    db.session.commit()
    resp = as_user("reporter_school").post("/api/v1/duties/dropouts", json={
        "child_id": enrolment.child_id, "school": "东城镇中心小学", "left_on": "2026-03-02", "note": "连续一周未到校"})
    assert resp.status_code == 201, resp.get_json()
    cycle_id = resp.get_json()["id"]
    queues = {"education_c01": "education_persuade", "township_t01": "township_persuade",
              "village_committee_t01v01": "village_persuade"}
    for username, step in queues.items():
        [task] = open_tasks(as_user(username), step=step)
        assert task["case_id"] == enrolment.case_id
    assert as_user("justice_c01").post("/api/v1/duties/dropouts", json={
        "child_id": enrolment.child_id, "school": "x"}).status_code == 403
    data = {"education_persuade": {"plan": "班主任结对帮扶", "visited_on": "2026-03-10", "family_attitude": "willing"},
            "township_persuade": {"parents_contacted": True},
            "village_persuade": {"visited_on": "2026-03-10", "child_seen": True}}
    for username, step in queues.items():
        api = as_user(username)
        [task] = open_tasks(api, step=step)
        assert api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data[step]}).status_code == 200
    [outcome] = open_tasks(as_user("education_c01"), step="education_return_outcome")
    done = as_user("education_c01").post(f"/api/v1/tasks/{outcome['id']}/complete", json={
        "data": {"return_outcome": "returned", "returned_on": "2026-03-16", "placement_plan": "插班跟读"}})
    assert done.status_code == 200, done.get_json()
    cycle = db.session.get(DutyCycle, cycle_id)
    db.session.refresh(cycle)
    assert (cycle.status, cycle.outcome, cycle.trigger) == ("done", "returned", "on_demand")
    assert "dropout" in db.session.get(type(enrolment), enrolment.id).key_reasons  # a key child from now on


def test_inadequate_caregiver_is_followed_up_monthly_until_a_capable_one_is_in_place(as_user: Any,
                                                                                     clock: Any) -> None:
    clock.at = MONDAY
    enrolment = enrolled("委托照护")
    db.session.commit()
    director = as_user("director_t01v01")
    refused = director.post("/api/v1/duties/entrustments", json={
        "child_id": enrolment.child_id, "caregiver_name": "邻居张某", "relation": "neighbour", "is_relative": False})
    assert refused.status_code == 422 and "agreement_signed_on" in refused.get_json()["errors"]["json"]
    resp = director.post("/api/v1/duties/entrustments", json={
        "child_id": enrolment.child_id, "caregiver_name": "邻居张某", "relation": "neighbour", "is_relative": False,
        "agreement_signed_on": "2026-03-01", "filed_with_township": True, "filed_with_village": True})
    assert resp.status_code == 201, resp.get_json()
    entrustment_id = resp.get_json()["id"]

    def check(capacity: str) -> DutyCycle:
        cycle = db.session.scalars(sa.select(DutyCycle).where(
            DutyCycle.duty == "entrusted_care_check", DutyCycle.status == "open")).one()
        complete_cycle(cycle, overrides={"caregiver_check": {"caregiver_capacity": capacity}})
        db.session.commit()
        return cycle

    first = check("limited")  # found inadequate: the parents are told (the second step of the same instance)
    assert db.session.get(Entrustment, entrustment_id).status == "inadequate"
    assert first.outcome == "limited"
    steps = [t.bpmn_id for t in db.session.scalars(sa.select(Task).where(Task.instance_id == first.instance_id)
                                                                  .order_by(Task.id))]
    assert steps == ["caregiver_check", "notify_parents"]
    # No loop in the diagram: the follow-up is a new instance next month, and again while still inadequate.
    clock.at = MONDAY + timedelta(days=7)
    start_due_duties(clock.at)
    assert db.session.scalar(sa.select(sa.func.count(DutyCycle.id)).where(
        DutyCycle.duty == "entrusted_care_check")) == 1
    for month_start, capacity in ((datetime(2026, 4, 6, 1, tzinfo=UTC), "incapable"),
                                  (datetime(2026, 5, 4, 1, tzinfo=UTC), "capable")):
        clock.at = month_start
        start_due_duties(month_start)
        db.session.commit()
        check(capacity)
    assert db.session.get(Entrustment, entrustment_id).status == "capable"
    clock.at = datetime(2026, 6, 1, 1, tzinfo=UTC)
    start_due_duties(clock.at)
    periods = [c.period for c in db.session.scalars(sa.select(DutyCycle).where(
        DutyCycle.duty == "entrusted_care_check").order_by(DutyCycle.id))]
    assert periods == [f"entrustment:{entrustment_id}", "2026-04", "2026-05"]  # none after it became capable
    record = director.get(f"/api/v1/duties/children/{enrolment.child_id}").get_json()
    assert record["entrustments"][0]["status"] == "capable"
    assert record["entrustments"][0]["agreement_signed_on"] == "2026-03-01"


def test_key_child_assessed_now_feeds_the_help_tier_decision(as_user: Any, clock: Any) -> None:
    clock.at = MONDAY
    enrolment = enrolled("重点儿童", key_reasons=["parent_disabled_or_mentally_ill"])
    db.session.commit()
    resp = as_user("supervisor_t01").post(f"/api/v1/duties/children/{enrolment.child_id}/assessments",
                                          json={"reason": "母亲精神疾病复发"})
    assert resp.status_code == 201, resp.get_json()
    cycle = db.session.get(DutyCycle, resp.get_json()["id"])
    complete_cycle(cycle, overrides={"assessment_grading": {"grade": "fair"}})
    db.session.commit()
    case = as_user("coordinator").get(f"/api/v1/cases/{enrolment.case_id}").get_json()
    assert (case["kind"], case["grade"], case["help_tier"]) == ("care", "fair", "loving")
    assert case["status"] == "open"  # a programme file is not closed by its duty instances
    assert db.session.get(DutyCycle, cycle.id).outcome == "fair"


def test_quarterly_comparison_differences_become_tasks_of_the_named_departments(as_user: Any,
                                                                                 clock: Any) -> None:
    clock.at = MONDAY
    start_due_duties(MONDAY)
    db.session.commit()
    lists = {"civil_affairs_c01": "civil_affairs_list", "education_c01": "education_list",
             "police_c01": "police_list"}
    for username, step in lists.items():
        api = as_user(username)
        [task] = open_tasks(api, step=step)
        ok = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"list_confirmed": True,
                                                                             "list_count": 12}})
        assert ok.status_code == 200, ok.get_json()
    civil = as_user("civil_affairs_c01")
    [analysis] = open_tasks(civil, step="comparison_analysis")
    differences = [
        {"child_name": "王小花", "village": "柳树村", "difference_type": "enrolled_not_in_school",
         "department": "education"},
        {"child_name": "赵小兵", "village": "河口村", "difference_type": "no_household_registration",
         "department": "police"},
        {"child_name": "石小草", "village": "石门村", "difference_type": "in_school_not_enrolled",
         "department": "civil_affairs"},
    ]
    ok = civil.post(f"/api/v1/tasks/{analysis['id']}/complete",
                    json={"data": {"compared_on": "2026-03-20", "differences": differences}})
    assert ok.status_code == 200, ok.get_json()
    for username in lists:
        [task] = open_tasks(as_user(username), step="difference_followup")
        api = as_user(username)
        assert api.post(f"/api/v1/tasks/{task['id']}/complete", json={
            "data": {"resolution": "data_corrected", "resolved_on": "2026-03-25"}}).status_code == 200
    cycle = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "data_comparison",
                                                          in_demo_county())).one()
    db.session.refresh(cycle)
    assert (cycle.period, cycle.status, cycle.outcome) == ("2026-Q1", "done", "3")
    work_file = as_user("coordinator").get(f"/api/v1/cases/{cycle.case_id}").get_json()
    assert work_file["kind"] == "work" and work_file["child"] is None and work_file["status"] == "open"


def test_township_report_opens_on_1_october_and_is_due_on_1_november(demo: Any, clock: Any) -> None:
    clock.at = datetime(2026, 9, 28, 1, tzinfo=UTC)
    start_due_duties(clock.at)
    assert db.session.scalar(sa.select(sa.func.count(DutyCycle.id)).where(DutyCycle.duty == "annual_report")) == 0
    clock.at = datetime(2026, 10, 5, 1, tzinfo=UTC)
    start_due_duties(clock.at)
    db.session.commit()
    reports = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "annual_report", in_demo_county())
                                 .order_by(DutyCycle.id)).all()
    assert len(reports) == 3
    task = open_task_of(reports[0])
    assert task.due_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert task.unit.kind == "township"
    complete(task, village=f"{task.unit.region.code}v01")
    db.session.commit()
    [review] = db.session.scalars(sa.select(Task).where(Task.instance_id == reports[0].instance_id,
                                                        Task.state == "open")).all()
    assert review.unit.kind == "civil_affairs" and review.unit.region.level == "county"
    clock.at = datetime(2026, 11, 2, 1, tzinfo=UTC)
    start_due_duties(clock.at)
    db.session.commit()
    statuses = sorted(db.session.get(DutyCycle, r.id).status for r in reports)
    assert statuses == ["done", "missed", "missed"]  # submitted on time; the review by the county follows


def test_frequency_rules_are_configurable_per_tag_and_grade(as_user: Any, clock: Any) -> None:
    assert _put(as_user("director_t01v01"), {
        "duty": "weekly_contact", "selector": "tag:severely_disabled", "cadence": "weekly"}).status_code == 403
    bad = _put(as_user("coordinator"), {
        "duty": "weekly_contact", "selector": "colour:red", "cadence": "weekly"})
    assert bad.status_code == 422
    ok = _put(as_user("coordinator"), {
        "duty": "home_visit", "selector": "tag:low_income", "cadence": "weekly"})
    assert ok.status_code == 200, ok.get_json()
    rules = {(r["duty"], r["selector"]): (r["cadence"], r["source"])
             for r in as_user("coordinator").get("/api/v1/duties/frequencies").get_json()}
    assert rules[("home_visit", "tag:low_income")] == ("weekly", "county")
    assert rules[("home_visit", "key")] == ("semimonthly", "default")
    clock.at = MONDAY
    poor = enrolled("低保户儿童", tags=["low_income"])
    plain = enrolled("普通留守儿童")
    db.session.commit()
    start_due_duties(MONDAY)
    visits = {c.child_id: c.period for c in db.session.scalars(
        sa.select(DutyCycle).where(DutyCycle.duty == "home_visit"))}
    assert visits == {poor.child_id: "2026-W11", plain.child_id: "2026-03"}
