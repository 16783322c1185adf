"""The conference pages through the test client, as the conferencing team uses them: a coordinator
schedules by form and sees the agenda; the minutes' three decisions land in three units' queues and are
tracked to done; a bad deadline or a bad schedule changes nothing; the team view shows what changed since
the last conference; every view is audited and strangers get the 403 page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from helpers import open_tasks
from webhelpers import open_case

from app.audit.models import AuditEvent
from app.conferences.models import Conference, ConferenceAction
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks.models import Task

VILLAGE = "t01v01"
MEETING = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)  # Thursday 14:00 county time


def _user_id(username: str) -> int:
    user = user_by_username(username)
    assert user is not None
    return user.id


def _unit_id(username: str) -> int:
    user = user_by_username(username)
    assert user is not None and user.unit_id is not None
    return user.unit_id


def _schedule_form(**extra: str) -> list[tuple[str, str]]:
    fields = {"title": "李小明个案会商：监护和返校安排", "scheduled_at": "2026-03-12T14:00", "mode": "in_person",
              "place": "县未成年人救助保护中心会议室", "convening_unit_id": str(_unit_id("rescue_center_c01")),
              "chair_id": str(_user_id("coordinator")), "attendees-0-name": "李奶奶", "attendees-0-role": "祖母",
              **extra}
    return [*fields.items(), ("invited", "education"), ("invited", "township"), ("invited", "village_committee"),
            ("attendee_users", str(_user_id("supervisor_t01")))]


def _schedule(page: Any, case_id: int) -> int:
    resp = page("coordinator").post(f"/cases/{case_id}/conferences/new", _schedule_form())
    assert resp.status_code == 302, resp.get_data(as_text=True)
    match = re.fullmatch(r"/conferences/(\d+)", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def _decisions(deadline: str = "3WD") -> list[tuple[str, str]]:
    rows = [("学校安排班主任结对帮扶，两周内落实返校", "education", "5WD", ""),
            ("乡镇落实临时救助，督促父亲返乡或委托有能力的亲属照护", "township", deadline, ""),
            ("儿童主任每周入户一次，记录照护情况", "village_committee", "", "2026-03-16")]
    out = []
    for i, (text, kind, due, due_on) in enumerate(rows):
        out += [(f"decisions-{i}-decision", text), (f"decisions-{i}-department_kind", kind),
                (f"decisions-{i}-deadline", due), (f"decisions-{i}-due_on", due_on)]
    return out


def _minutes(conference_id: int, deadline: str = "3WD") -> list[tuple[str, str]]:
    conference = db.session.get(Conference, conference_id)
    assert conference is not None
    present = [str(u.unit_id) for u in conference.units if u.role == "convener" or u.unit.kind == "education"]
    return [("minutes", "各部门通报情况，确定帮扶措施。"), ("held_at", "2026-03-12T14:00"),
            *[("attended_units", u) for u in present], (f"attended-{conference.attendees[0].id}", "1"),
            *_decisions(deadline)]


def test_schedule_by_form_then_the_conference_page_shows_the_agenda(page: Any, as_user: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    coordinator = page("coordinator")
    assert 'id="schedule-conference"' in coordinator.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="schedule-conference"' not in page("police_t01").get(f"/cases/{case_id}").get_data(as_text=True)
    form = coordinator.get(f"/cases/{case_id}/conferences/new")
    assert form.status_code == 200 and 'name="invited" value="education"' in form.get_data(as_text=True)

    conference_id = _schedule(page, case_id)
    body = coordinator.get(f"/conferences/{conference_id}").get_data(as_text=True)
    assert "李小明个案会商" in body and "县未成年人救助保护中心会议室" in body
    assert "案情和儿童现状通报" in body  # the agenda, live while scheduled
    assert "受理研判并出警" in body  # the open triage step
    assert 'id="minutes-form"' in body and 'id="cancel-form"' in body
    assert "李奶奶" in body and "东城镇儿童督导员" in body
    conference = db.session.get(Conference, conference_id)
    assert conference is not None and conference.chair_id == _user_id("coordinator")
    assert {u.unit.kind for u in conference.units} == {"rescue_center", "education", "township", "village_committee"}

    # The invited units see the page (and a preparation task), but not the forms; strangers get the 403 page.
    education = page("education_c01").get(f"/conferences/{conference_id}")
    assert education.status_code == 200
    text = education.get_data(as_text=True)
    [prep] = open_tasks(as_user("education_c01"), step="prepare_for_conference")
    assert 'id="minutes-form"' not in text and f"/tasks/{prep['id']}" in text
    refused = page("justice_c01").get(f"/conferences/{conference_id}")
    assert refused.status_code == 403 and "403" in refused.get_data(as_text=True)
    assert page("coordinator").get("/conferences/999999").status_code == 404
    # The convening centre now sees the case through the conference and may convene a follow-up.
    assert 'id="schedule-conference"' in page("rescue_center_c01").get(f"/cases/{case_id}").get_data(as_text=True)
    listed = page("education_c01").get("/conferences?status=scheduled").get_data(as_text=True)
    assert f"/conferences/{conference_id}" in listed
    assert f"/conferences/{conference_id}" not in page("education_c01").get("/conferences?status=held").get_data(
        as_text=True)
    assert f"/conferences/{conference_id}" not in page("justice_c01").get("/conferences").get_data(as_text=True)


def test_bad_schedule_is_refused_inline_and_nothing_is_created(page: Any, as_user: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    form = [(k, v) for k, v in _schedule_form(scheduled_at="2026-03-01T09:00", title="") if k != "invited"]
    resp = page("coordinator").post(f"/cases/{case_id}/conferences/new", form)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert body.count('class="field-error"') >= 2 and "李奶奶" in body  # errors inline, input kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Conference)) == 0
    # Units that do not convene are refused the form outright.
    assert page("education_c01").get(f"/cases/{case_id}/conferences/new").status_code == 403
    assert page("police_t01").post(f"/cases/{case_id}/conferences/new", _schedule_form()).status_code == 403
    assert page("coordinator").get("/cases/999999/conferences/new").status_code == 404


def test_minutes_decisions_become_three_tasks_tracked_to_done(page: Any, as_user: Any, clock: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    conference_id = _schedule(page, case_id)
    clock.at = MEETING + timedelta(hours=2)
    assert page("education_c01").post(f"/conferences/{conference_id}/minutes",
                                      _minutes(conference_id)).status_code == 403
    resp = page("rescue_center_c01").post(f"/conferences/{conference_id}/minutes", _minutes(conference_id))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/conferences/{conference_id}#actions")

    owners = {"education": "education_c01", "township": "township_t01",
              "village_committee": f"village_committee_{VILLAGE}"}
    tasks = {}
    for kind, username in owners.items():
        [task] = open_tasks(as_user(username), step="carry_out_decision")
        assert task["unit"]["id"] == _unit_id(username) and task["case_id"] == case_id
        tasks[kind] = task
    body = page("rescue_center_c01").get(f"/conferences/{conference_id}").get_data(as_text=True)
    assert body.count('data-status="open"') == 3
    for task in tasks.values():
        assert f"/tasks/{task['id']}" not in body  # another unit's task: listed, not linked
        assert f"Task {task['id']}" in body or f"任务 {task['id']}" in body
    assert 'id="actions-form"' in body and 'id="minutes-form"' not in body
    assert "各部门通报情况" in body

    # The township completes its action on its task page; the conference page shows it done.
    township = page("township_t01")
    assert f"/tasks/{tasks['township']['id']}" in township.get(f"/conferences/{conference_id}").get_data(as_text=True)
    done = township.post(f"/tasks/{tasks['township']['id']}/complete",
                         {"outcome": "done", "actions_taken": "已落实临时救助，父亲返乡。"})
    assert done.status_code == 302, done.get_data(as_text=True)
    body = page("coordinator").get(f"/conferences/{conference_id}").get_data(as_text=True)
    assert body.count('data-status="done"') == 1 and body.count('data-status="open"') == 2
    assert "已落实" in body

    # More actions later; cancelling a held conference is refused (409).
    more = page("rescue_center_c01").post(f"/conferences/{conference_id}/actions", [
        ("decisions-0-decision", "派出所每月回访一次"), ("decisions-0-department_kind", "police"),
        ("decisions-0-deadline", "P7D")])
    assert more.status_code == 302
    assert len(open_tasks(as_user("police_t01"), step="carry_out_decision")) == 1
    assert page("rescue_center_c01").post(f"/conferences/{conference_id}/cancel",
                                          {"reason": "x"}).status_code == 409


def test_invalid_decision_deadline_is_422_and_nothing_is_recorded(page: Any, as_user: Any, clock: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    conference_id = _schedule(page, case_id)
    clock.at = MEETING + timedelta(hours=2)
    resp = page("rescue_center_c01").post(f"/conferences/{conference_id}/minutes", _minutes(conference_id, "5WX"))
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "5WD" in body and 'data-field="decisions.1.deadline"' in body
    error_field = body[body.index('data-field="decisions.1.deadline"') - 40:]
    assert "has-error" in error_field[:60] and "field-error" in error_field[:1200]
    assert "乡镇落实临时救助" in body  # the decisions typed are kept
    db.session.expire_all()
    conference = db.session.get(Conference, conference_id)
    assert conference is not None and conference.status == "scheduled" and conference.minutes == ""
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConferenceAction)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Task).where(
        Task.bpmn_id == "carry_out_decision")) == 0
    assert len(open_tasks(as_user("education_c01"), step="prepare_for_conference")) == 1  # not withdrawn
    # A deadline missing altogether is worded too.
    form = [(k, v) for k, v in _minutes(conference_id) if k not in ("decisions-0-deadline",)]
    resp = page("rescue_center_c01").post(f"/conferences/{conference_id}/minutes", form)
    assert resp.status_code == 422 and 'data-field="decisions.0.deadline"' in resp.get_data(as_text=True)


def test_team_view_shows_changes_since_the_last_conference(page: Any, as_user: Any, clock: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    conference_id = _schedule(page, case_id)
    clock.at = MEETING + timedelta(hours=2)
    assert page("rescue_center_c01").post(f"/conferences/{conference_id}/minutes",
                                          _minutes(conference_id)).status_code == 302
    team = page("education_c01").get("/conferences/team").get_data(as_text=True)
    assert f'data-case="{case_id}"' in team and "<td>李*明</td>" in team  # lists mask names

    clock.at = MEETING + timedelta(days=1)
    [triage] = open_tasks(as_user("police_t01"), case_id=case_id, step="police_triage")
    from flows.scenarios import SCENARIOS

    data = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0].data
    assert as_user("police_t01").post(f"/api/v1/tasks/{triage['id']}/complete",
                                      json={"data": data}).status_code == 200
    team = page("education_c01").get("/conferences/team")
    assert team.status_code == 200
    text = team.get_data(as_text=True)
    assert "任务已完成" in text and "受理研判并出警" in text  # a timeline entry after the conference
    assert f"/conferences/{conference_id}" in text
    assert f'data-case="{case_id}"' not in page("justice_c01").get("/conferences/team").get_data(as_text=True)
    assert page("education_c01").get(f"/conferences/team?unit_id={_unit_id('justice_c01')}").status_code == 403
    by_coordinator = page("coordinator").get(f"/conferences/team?unit_id={_unit_id('education_c01')}")
    assert by_coordinator.status_code == 200 and f'data-case="{case_id}"' in by_coordinator.get_data(as_text=True)
    listed = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.user_id == _user_id("education_c01"), AuditEvent.action == "list",
        AuditEvent.case_id == case_id)).all()
    assert len(listed) == 2 and listed[0].detail["via"] == "conference_team"


def test_views_are_audited_with_their_basis_and_cancelling_ends_access(page: Any, as_user: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    conference_id = _schedule(page, case_id)
    assert page("education_c01").get(f"/conferences/{conference_id}").status_code == 200
    assert page("coordinator").get(f"/cases/{case_id}/conferences/new").status_code == 200
    views = {(e.user_id, e.object_type, e.action): e.detail for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == "view"))}
    assert views[(_user_id("education_c01"), "conference", "view")] == {"basis": "conference", "page": "conference"}
    assert views[(_user_id("coordinator"), "case", "view")]["page"] == "conference_new"
    assert (_user_id("justice_c01"), "conference", "view") not in views

    resp = page("rescue_center_c01").post(f"/conferences/{conference_id}/cancel", {"reason": ""})
    assert resp.status_code == 422 and 'id="cancel-form"' in resp.get_data(as_text=True)
    assert page("education_c01").post(f"/conferences/{conference_id}/cancel",
                                      {"reason": "家长已返乡"}).status_code == 403
    resp = page("rescue_center_c01").post(f"/conferences/{conference_id}/cancel", {"reason": "家长已返乡，无需会商"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/conferences"  # its only need to know ended
    assert page("education_c01").get(f"/conferences/{conference_id}").status_code == 403
    assert page("coordinator").get(f"/conferences/{conference_id}").status_code == 200
    assert open_tasks(as_user("education_c01"), step="prepare_for_conference") == []


def test_pages_follow_the_chosen_language(page: Any, as_user: Any) -> None:
    case_id = open_case(as_user)["case_id"]
    conference_id = _schedule(page, case_id)
    coordinator = page("coordinator")
    coordinator.post("/locale", {"locale": "en", "next": "/conferences"})
    english = page("coordinator")
    body = english.get(f"/conferences/{conference_id}").get_data(as_text=True)
    assert "Agenda" in body and "Record the minutes" in body and "Minor rescue &amp; protection center" in body
    assert "Scheduled" in english.get("/conferences").get_data(as_text=True)
    assert "Participating units" in english.get(f"/cases/{case_id}/conferences/new").get_data(as_text=True)
    assert "Conference team view" in english.get("/conferences/team").get_data(as_text=True)


def test_a_harm_acting_unit_invited_to_the_conference_reads_the_report_narrative(page: Any, as_user: Any) -> None:
    """The rescue centre (convening, no task) reads the abuse narrative like a unit with a task; education,
    invited to the same conference, sees the case without it."""
    case_id = open_case(as_user)["case_id"]
    narrative = "孩子连续三天独自在家。"
    assert page("rescue_center_c01").get(f"/cases/{case_id}").status_code == 403  # no need to know yet
    _schedule(page, case_id)
    rescue = page("rescue_center_c01").get(f"/cases/{case_id}").get_data(as_text=True)
    education = page("education_c01").get(f"/cases/{case_id}").get_data(as_text=True)
    assert narrative in rescue
    assert narrative not in education and "（已隐藏：无知悉必要）" in education
