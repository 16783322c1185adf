"""A case conference across departments: invitations give need-to-know access and a preparation task;
decisions become real tasks in three departments' queues that go overdue and escalate like any step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from helpers import open_tasks, submit_report

from app.audit.models import AuditEvent
from app.extensions import db
from app.notifications.models import Notification
from app.org.queries import user_by_username

VILLAGE = "t01v01"
MEETING = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)  # Thursday 14:00 county time


def _unit_id(username: str) -> int:
    user = user_by_username(username)
    assert user is not None and user.unit_id is not None
    return user.unit_id


def _schedule(as_user: Any, case_id: int, **extra: Any) -> dict[str, Any]:
    body = {
        "case_id": case_id, "title": "李小明个案会商：监护和返校安排", "scheduled_at": MEETING.isoformat(),
        "mode": "in_person", "place": "县未成年人救助保护中心会议室",
        "convening_unit_id": _unit_id("rescue_center_c01"),
        "invited": [{"department_kind": "education"}, {"department_kind": "township"},
                    {"unit_id": _unit_id(f"village_committee_{VILLAGE}")}, {"department_kind": "police"}],
        "attendees": [{"user_id": user_by_username("supervisor_t01").id, "role": "儿童督导员"},
                      {"name": "李奶奶", "role": "祖母"}],
        **extra,
    }
    resp = as_user("coordinator").post("/api/v1/conferences", json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _decisions() -> list[dict[str, Any]]:
    return [
        {"decision": "学校安排班主任结对帮扶，两周内落实返校", "department_kind": "education", "deadline": "5WD"},
        {"decision": "乡镇落实临时救助，督促父亲返乡或委托有能力的亲属照护", "department_kind": "township",
         "deadline": "3WD"},
        {"decision": "儿童主任每周入户一次，记录照护情况", "unit_id": _unit_id(f"village_committee_{VILLAGE}"),
         "due_on": "2026-03-16"},
    ]


def test_decisions_become_tasks_in_three_queues_that_go_overdue_and_escalate(as_user: Any, clock: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", VILLAGE)["case_id"]
    conference = _schedule(as_user, case_id)
    assert conference["status"] == "scheduled"
    assert {u["unit"]["kind"] for u in conference["units"]} == {
        "rescue_center", "education", "township", "village_committee", "police"}
    assert "案情和儿童现状通报" in conference["agenda"]["items"]
    assert [t["bpmn_id"] for t in conference["agenda"]["open_tasks"]] == ["police_triage"]

    # Each invited unit has a preparation task, due when the meeting starts, and sees the case for it.
    education = as_user("education_c01")
    [prep] = open_tasks(education, step="prepare_for_conference")
    assert prep["due_at"] == "2026-03-12T14:00:00+08:00"  # the meeting's start, in county time
    case = education.get(f"/api/v1/cases/{case_id}")
    assert case.status_code == 200 and case.get_json()["access"] == "conference"
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.user_id == user_by_username("education_c01").id,
        AuditEvent.object_type == "case")).detail == {"basis": "conference"}
    done = education.post(f"/api/v1/tasks/{prep['id']}/complete",
                          json={"data": {"will_attend": True, "attendee_name": "王主任",
                                         "unit_information": "该生本学期缺课12天。"}})
    assert done.status_code == 200, done.get_json()
    assert as_user("justice_c01").get(f"/api/v1/cases/{case_id}").status_code == 403
    assert as_user("justice_c01").get(f"/api/v1/conferences/{conference['id']}").status_code == 403
    assert as_user("education_c01").get(f"/api/v1/conferences/{conference['id']}").status_code == 200

    # The meeting is held; an invited unit cannot record minutes, the convening unit can.
    clock.at = MEETING + timedelta(hours=2)
    minutes = {"minutes": "各部门通报情况，确定帮扶措施。", "attended_unit_ids": [
        _unit_id("rescue_center_c01"), _unit_id("education_c01"), _unit_id("township_t01")],
        "attendance": [{"attendee_id": conference["attendees"][0]["id"], "attended": True}],
        "decisions": _decisions()}
    assert as_user("education_c01").post(f"/api/v1/conferences/{conference['id']}/minutes",
                                         json=minutes).status_code == 403
    held = as_user("rescue_center_c01").post(f"/api/v1/conferences/{conference['id']}/minutes", json=minutes)
    assert held.status_code == 200, held.get_json()
    held = held.get_json()
    assert held["status"] == "held" and len(held["actions"]) == 3
    assert held["actions_open"] == 3 and held["actions_overdue"] == 0
    preparation = {u["unit"]["kind"]: u["preparation"]["state"] for u in held["units"] if u["preparation"]}
    assert preparation == {"education": "completed", "township": "cancelled", "village_committee": "cancelled",
                           "police": "cancelled"}

    # Each decision is a task in the owning unit's own queue: county education bureau, the child's township
    # government, the child's village committee.
    owners = {"education": "education_c01", "township": "township_t01",
              "village_committee": f"village_committee_{VILLAGE}"}
    tasks = {}
    for kind, username in owners.items():
        [task] = open_tasks(as_user(username), step="carry_out_decision")
        assert task["unit"]["kind"] == kind and task["case_id"] == case_id
        assert task["unit"]["id"] == _unit_id(username)
        assert task["name"] == "落实会商决定" and "会商" in task["instructions"]
        assert not task["overdue"]
        tasks[kind] = task
    assert tasks["village_committee"]["due_at"] == "2026-03-16T17:30:00+08:00"
    assert open_tasks(as_user("police_t01"), step="carry_out_decision") == []  # invited, but owns no action

    # Two weeks later nothing was done: all three are overdue, in the API's overdue filter and on the page.
    clock.at = MEETING + timedelta(days=14)
    for kind, username in owners.items():
        overdue = open_tasks(as_user(username), overdue="true", step="carry_out_decision")
        assert [t["id"] for t in overdue] == [tasks[kind]["id"]]

    from app.deadlines.escalation import due_task_ids
    from app.deadlines.sweep_batch import escalate

    taken = escalate(due_task_ids(clock.at), clock.at)
    db.session.commit()
    assert taken >= 9  # remind, overdue, coordinator: three steps for each of the three actions
    view = as_user("rescue_center_c01").get(f"/api/v1/conferences/{conference['id']}").get_json()
    assert view["actions_overdue"] == 3
    assert all(a["escalation_level"] >= 2 and a["overdue"] for a in view["actions"])
    # The unit heads were told at due; the village's action also reached the township's child supervisor.
    told = {(n.user_id, n.task_id) for n in db.session.scalars(
        sa.select(Notification).where(Notification.kind == "overdue"))}
    assert (user_by_username("township_t01_head").id, tasks["township"]["id"]) in told
    assert (user_by_username("supervisor_t01").id, tasks["village_committee"]["id"]) in told
    assert (user_by_username("education_c01_head").id, tasks["education"]["id"]) in told
    # The county coordinator step also tells the case's conference team (named attendees included).
    team_told = {n.user_id for n in db.session.scalars(sa.select(Notification).where(
        Notification.kind == "coordinator", Notification.task_id == tasks["education"]["id"]))}
    assert user_by_username("police_t01").id in team_told
    assert user_by_username("coordinator").id in team_told

    # The conference page tracks the actions to completion.
    api = as_user("township_t01")
    ok = api.post(f"/api/v1/tasks/{tasks['township']['id']}/complete",
                  json={"data": {"outcome": "done", "actions_taken": "已落实临时救助，父亲返乡。"}})
    assert ok.status_code == 200, ok.get_json()
    view = as_user("coordinator").get(f"/api/v1/conferences/{conference['id']}").get_json()
    statuses = {a["department_kind"]: (a["status"], a["outcome"]) for a in view["actions"]}
    assert statuses == {"education": ("open", None), "township": ("done", "done"), "village_committee": ("open", None)}
    assert view["actions_done"] == 1 and view["actions_overdue"] == 2


def test_follow_up_conference_links_the_earlier_one_and_team_view_shows_changes(as_user: Any, clock: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", VILLAGE)["case_id"]
    first = _schedule(as_user, case_id)
    clock.at = MEETING + timedelta(hours=2)
    rescue = as_user("rescue_center_c01")
    assert rescue.post(f"/api/v1/conferences/{first['id']}/minutes",
                       json={"minutes": "第一次会商", "decisions": _decisions()[:1]}).status_code == 200

    # Things happen on the case after the conference.
    clock.at = MEETING + timedelta(days=1)
    [triage] = open_tasks(as_user("police_t01"), case_id=case_id, step="police_triage")
    from flows.scenarios import SCENARIOS

    data = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0].data
    assert as_user("police_t01").post(f"/api/v1/tasks/{triage['id']}/complete",
                                      json={"data": data}).status_code == 200

    team = as_user("education_c01").get("/api/v1/conferences/team").get_json()
    [row] = team
    assert row["case_id"] == case_id and row["last_conference"]["id"] == first["id"]
    assert row["actions_open"] == 1 and row["changes_since_last"] >= 2
    assert any(c["kind"] == "task_completed" for c in row["recent_changes"])
    assert as_user("justice_c01").get("/api/v1/conferences/team").get_json() == []

    second = _schedule(as_user, case_id, previous_id=first["id"], title="李小明个案第二次会商",
                       scheduled_at=(MEETING + timedelta(days=7)).isoformat())
    assert second["previous_id"] == first["id"]
    assert [a["decision"] for a in second["agenda"]["previous_actions"]] == [_decisions()[0]["decision"]]
    assert "上次会商决定的落实情况" in second["agenda"]["items"]
    assert rescue.get(f"/api/v1/conferences/{first['id']}").get_json()["follow_up_ids"] == [second["id"]]
    listed = as_user("coordinator").get("/api/v1/conferences", query_string={"case_id": case_id}).get_json()
    assert [c["id"] for c in listed] == [first["id"], second["id"]]


def test_cancelled_conference_withdraws_preparation_and_access(as_user: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", VILLAGE)["case_id"]
    conference = _schedule(as_user, case_id)
    assert as_user("police_t01").get(f"/api/v1/cases/{case_id}").get_json()["access"] == "unit"  # triage task
    assert as_user("township_t01").get(f"/api/v1/cases/{case_id}").get_json()["access"] == "conference"
    resp = as_user("rescue_center_c01").post(f"/api/v1/conferences/{conference['id']}/cancel",
                                             json={"reason": "家长已返乡，无需会商"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert open_tasks(as_user("township_t01"), step="prepare_for_conference") == []
    assert as_user("township_t01").get(f"/api/v1/cases/{case_id}").status_code == 403
    timeline = as_user("coordinator").get(f"/api/v1/cases/{case_id}").get_json()["timeline"]
    assert any(e["kind"] == "conference_cancelled" for e in timeline)
    assert any(e["kind"] == "process_cancelled" for e in timeline)


def test_who_may_convene_and_what_is_refused(as_user: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", VILLAGE)["case_id"]
    base = {"case_id": case_id, "title": "会商", "scheduled_at": MEETING.isoformat(),
            "invited": [{"department_kind": "education"}]}
    # A unit that is not a convener, a unit with no need to know, a date in the past, nobody else invited.
    assert as_user("police_t01").post("/api/v1/conferences", json=base).status_code == 422
    assert as_user("rescue_center_c01").post("/api/v1/conferences", json=base).status_code == 403
    past = as_user("coordinator").post("/api/v1/conferences", json={
        **base, "convening_unit_id": _unit_id("rescue_center_c01"), "scheduled_at": "2026-01-01T00:00:00+08:00"})
    assert past.status_code == 422
    alone = as_user("coordinator").post("/api/v1/conferences", json={
        **base, "convening_unit_id": _unit_id("rescue_center_c01"),
        "invited": [{"unit_id": _unit_id("rescue_center_c01")}]})
    assert alone.status_code == 422
    # Another township's government does not serve this child: its tasks would go elsewhere.
    wrong = as_user("coordinator").post("/api/v1/conferences", json={
        **base, "convening_unit_id": _unit_id("rescue_center_c01"), "invited": [{"unit_id": _unit_id("township_t02")}]})
    assert wrong.status_code == 422 and "township_t01" not in str(wrong.get_json())
    # A coordinator may convene in the name of the child's township; actions wait for the minutes.
    ok = as_user("coordinator").post("/api/v1/conferences", json={
        **base, "convening_unit_id": _unit_id("township_t01")})
    assert ok.status_code == 201, ok.get_json()
    assert as_user("township_t01").post(f"/api/v1/conferences/{ok.get_json()['id']}/actions",
                                        json={"decisions": _decisions()[:1]}).status_code == 409
