"""Need-to-know beyond the request matrix: who is told (notifications, escalations) and what a conference's
API answer carries of a unit's preparation (docs/security.md, "Need-to-know")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from deadline_helpers import open_case, sweep
from webhelpers import open_case as report_case

from app.extensions import db


def test_notices_go_only_to_people_with_need_to_know(county: Any, clock: Any) -> None:
    """A reporter-only member of the police station and a coordinator without a county are told nothing
    about the station's overdue task; everyone told can open the case."""
    from app.notifications.models import Notification
    from app.org.models import User
    from app.org.operations import create_user
    from app.org.queries import user_by_username
    from app.org.roles import Role

    station = user_by_username("police_t01").unit  # type: ignore[union-attr]
    clerk = create_user("police_t01_clerk", "派出所文员", None, {Role.REPORTER}, station, None)
    floating = create_user("coordinator_nowhere", "未分配县的协调员", None, {Role.COUNTY_COORDINATOR}, None, None)
    db.session.commit()
    open_case("four_in_one", "t01v01")
    for minutes in (46, 15, 121):  # remind, overdue, the coordinator (docs/deadlines-and-escalation.md)
        clock.advance(minutes=minutes)
        sweep()
    notes = list(db.session.scalars(sa.select(Notification).order_by(Notification.id)))
    kinds = {n.kind for n in notes}
    assert {"new_task", "remind", "overdue", "coordinator"} <= kinds, kinds
    told = {n.user_id for n in notes}
    assert clerk.id not in told and floating.id not in told
    from app.cases.access import may_be_told

    for note in notes:
        user = db.session.get(User, note.user_id)
        assert user is not None and may_be_told(user, note.case_id, note.task_id), (user.username, note.kind)


def test_a_holder_who_no_longer_works_tasks_is_not_told_the_unit_is(county: Any, clock: Any) -> None:
    """The liaison who claimed the task is made a reporter only: the ladder tells the unit's workers, not them."""
    from app.notifications.models import Notification
    from app.org.operations import update_user
    from app.org.queries import user_by_username
    from app.org.roles import Role
    from app.tasks import operations
    from app.tasks.models import Task

    case = open_case("four_in_one", "t01v01")
    liaison = user_by_username("police_t01")
    assert liaison is not None
    task = db.session.scalar(sa.select(Task).where(Task.case_id == case.id))
    operations.claim(task, liaison)  # type: ignore[arg-type]
    update_user(liaison, display_name=liaison.display_name, roles={Role.REPORTER}, unit=liaison.unit,
                region=liaison.region, active=True)
    db.session.commit()
    clock.advance(minutes=46)  # the reminder goes to the holder
    sweep()
    told = {n.user_id for n in db.session.scalars(sa.select(Notification).where(Notification.kind == "remind"))}
    assert told and liaison.id not in told
    assert user_by_username("police_t01_head").id in told  # type: ignore[union-attr]


def test_a_units_preparation_text_follows_the_step_rule_in_the_conference_api(as_user: Any) -> None:
    """The justice bureau's preparation notes: read by the harm-acting police and by justice itself, not by
    the education bureau, which is invited too but does not act on harm."""
    from app.cases.models import Case
    from app.conferences.operations import schedule
    from app.org.queries import user_by_username
    from app.tasks.models import Task
    from app.workflow import commands as operations

    notes = "司法所掌握：家中曾有暴力记录"
    case_id = report_case(as_user)["case_id"]
    rescue = user_by_username("rescue_center_c01").unit_id  # type: ignore[union-attr]
    conference = schedule(db.session.get(Case, case_id), user_by_username("coordinator"),  # type: ignore[arg-type]
                          title="个案会商", scheduled_at=datetime(2026, 3, 12, 6, 0, tzinfo=UTC),
                          convening_unit_id=rescue,
                          invited=[{"department_kind": "justice"}, {"department_kind": "education"}])
    db.session.commit()
    justice = user_by_username("justice_c01")
    prepare = db.session.scalar(sa.select(Task).where(Task.case_id == case_id, Task.unit_id == justice.unit_id))  # type: ignore[union-attr]
    operations.complete(prepare, justice, {"will_attend": True, "unit_information": notes})  # type: ignore[arg-type]
    db.session.commit()

    def preparation(username: str) -> dict[str, Any]:
        resp = as_user(username).get(f"/api/v1/conferences/{conference.id}")
        assert resp.status_code == 200, resp.get_json()
        [unit] = [u for u in resp.get_json()["units"] if u["unit"]["id"] == justice.unit_id]  # type: ignore[union-attr]
        return dict(unit["preparation"]["data"])

    assert preparation("police_t01")["unit_information"] == notes
    assert preparation("justice_c01")["unit_information"] == notes
    assert preparation("education_c01") == {"will_attend": True}
    assert preparation("coordinator")["unit_information"] == notes


def test_the_unread_badge_counts_only_notes_the_list_shows(county: Any, clock: Any, page: Any) -> None:
    """A liaison told of a case, then moved to another unit, no longer sees the note in the list; the header
    badge must not count it either (the count alone says a case about them exists)."""
    import re

    from app.notifications.operations import notify
    from app.org.operations import update_user
    from app.org.queries import user_by_username

    case = open_case("four_in_one", "t01v01")
    liaison = user_by_username("police_t01")
    assert liaison is not None
    notify([liaison], "new_task", f"{case.number}: note", case_id=case.id)
    db.session.commit()
    browser = page("police_t01")
    badge = browser.get("/notifications/count").get_data(as_text=True)
    assert re.search(r">\s*\d+\s*<", badge), badge  # told while the station works the case
    other = user_by_username("police_t02")
    assert other is not None
    update_user(liaison, display_name=liaison.display_name, roles=liaison.roles, unit=other.unit,
                region=other.region, active=True)
    db.session.commit()
    browser = page("police_t01")  # the access change ended the old session
    assert case.number not in browser.get("/notifications").get_data(as_text=True)
    assert "badge" not in browser.get("/notifications/count").get_data(as_text=True)
