"""Out-of-office substitution (issue 16, part 1): a liaison away for a week, their tasks, reminders and
escalations with the substitute (or the unit head), and the tasks back (or kept) at the end. The clock is
the tests' fixed clock and the sweep the real inline sweep, as in the deadline tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from deadline_helpers import escalation_rows, notifications, open_case, sweep, tasks_of, usernames
from helpers import open_tasks
from webhelpers import PageClient

from app.audit.models import AuditEvent
from app.cases.models import TimelineEntry
from app.extensions import db
from app.org.absence import StandIns
from app.org.models import User
from app.org.queries import user_by_username
from app.org.roles import Role

LIAISON, HEAD, SUB = "police_t01", "police_t01_head", "police_t01_b"


def _people() -> tuple[User, User, User]:
    from app.org.operations import create_user

    liaison, head = user_by_username(LIAISON), user_by_username(HEAD)
    assert liaison is not None and head is not None
    sub = create_user(SUB, "东城镇派出所代班民警", "a-password-123", {Role.LIAISON}, liaison.unit)
    db.session.commit()
    return liaison, head, sub


def _claimed_tasks(api: Any, n: int) -> list[Any]:
    tasks = [tasks_of(open_case("four_in_one", "t01v01").id)[0] for _ in range(n)]
    for task in tasks:
        assert api(LIAISON).post(f"/api/v1/tasks/{task.id}/claim").status_code == 200
    return tasks


def _absence(api: Any, who: str, user: User, **body: Any) -> Any:
    for key in ("starts_at", "ends_at"):
        body[key] = body[key].isoformat()
    return api(who).put(f"/api/v1/users/{user.id}/absence", json=body)


def _mine(api: Any, who: str) -> set[int]:
    return {t["id"] for t in open_tasks(api(who), assignee="me")}


def test_a_week_away_tasks_reminders_and_escalations_go_to_the_substitute_and_come_back(
        county: Any, clock: Any, api: Any) -> None:
    liaison, head, sub = _people()
    tasks = _claimed_tasks(api, 2)
    ids = {t.id for t in tasks}
    start = clock.now() + timedelta(minutes=10)
    end = start + timedelta(days=7)
    resp = _absence(api, LIAISON, liaison, starts_at=start, ends_at=end, substitute_id=sub.id, on_return="return")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "scheduled" and resp.get_json()["substitute"] == sub.display_name
    assert sweep()["absences"] == 0 and _mine(api, LIAISON) == ids  # not begun: nothing moves

    clock.advance(minutes=11)  # Monday's leave begins: the sweep hands the claimed tasks over
    assert sweep()["absences"] == 1
    assert _mine(api, SUB) == ids and _mine(api, LIAISON) == set()
    detail = api(SUB).get(f"/api/v1/tasks/{tasks[0].id}").get_json()
    assert [(h["kind"], h["from"], h["to"]) for h in detail["handovers"]] == [
        ("away", liaison.display_name, sub.display_name)]
    assert detail["version"] == 3  # claim, then the hand-over: bumped like a reassignment

    clock.advance(minutes=35)  # 46 minutes after the report: the reminder
    sweep()
    clock.advance(minutes=15)  # due: holder and unit head
    sweep()
    clock.advance(hours=2)  # police grace: the county coordinator
    sweep()
    for task in tasks:
        steps = [usernames(e.recipients) for e in escalation_rows(task.id)]
        assert steps == [{SUB}, {SUB, HEAD}, {"coordinator"}]

    clock.advance(days=2)  # midweek: a new report, nobody claims it, and the head hands one to the absent liaison
    [loose] = tasks_of(open_case("four_in_one", "t01v01").id)
    [given] = tasks_of(open_case("four_in_one", "t01v01").id)
    moved = api(HEAD).post("/api/v1/tasks/bulk/reassign", json={"tasks": [{"id": given.id}], "to_user_id": liaison.id})
    assert moved.status_code == 200
    told = {n.user_id for n in notifications("task_reassigned", given.id)}
    assert told == {sub.id}  # a note meant for the person away reaches the substitute
    clock.advance(minutes=46)
    sweep()
    assert usernames(escalation_rows(loose.id)[0].recipients) == {SUB, HEAD}  # the unit, the absent one replaced
    assert usernames(escalation_rows(given.id)[0].recipients) == {SUB}  # held by the person away
    away_notes = [n for n in notifications() if n.user_id == liaison.id and n.created_at > start]
    assert [n.kind for n in away_notes] == []  # nothing addressed to the liaison all week

    clock.at = end + timedelta(minutes=1)  # the leave is over: the tasks come back
    assert sweep()["absences"] == 1
    assert _mine(api, LIAISON) == ids | {given.id} and _mine(api, SUB) == set()
    kinds = [h["kind"] for h in api(LIAISON).get(f"/api/v1/tasks/{tasks[1].id}").get_json()["handovers"]]
    assert kinds == ["away", "back"]
    audited = db.session.scalars(sa.select(AuditEvent.object_id).where(AuditEvent.action == "handover")).all()
    assert sorted(audited) == sorted([str(t.id) for t in tasks] * 2)
    timeline = db.session.scalars(sa.select(TimelineEntry.kind).where(
        TimelineEntry.task_id == tasks[0].id, TimelineEntry.kind == "task_handed_over")).all()
    assert len(timeline) == 2
    assert StandIns.load().replace([liaison]) == [liaison]
    assert sweep()["absences"] == 0  # settled once
    assert api(LIAISON).get(f"/api/v1/users/{liaison.id}/absence").status_code == 404


def test_without_a_substitute_the_unit_head_is_told_and_the_tasks_stay(county: Any, clock: Any, api: Any,
                                                                       app: Any) -> None:
    liaison, head, sub = _people()
    [task] = _claimed_tasks(api, 1)
    resp = _absence(api, HEAD, liaison, starts_at=clock.now(), ends_at=clock.now() + timedelta(days=3),
                    substitute_id=None)
    assert resp.status_code == 200 and resp.get_json()["state"] == "under_way"  # set by the head, begun at once
    clock.advance(minutes=46)
    sweep()
    assert usernames(escalation_rows(task.id)[0].recipients) == {HEAD}
    assert _mine(api, LIAISON) == {task.id}
    seen = PageClient(app, HEAD).get(f"/absence?user_id={liaison.id}")  # the head sees the member's absence
    assert seen.status_code == 200 and "正在外出" in seen.get_data(as_text=True)
    assert PageClient(app, "police_t02").get(f"/absence?user_id={liaison.id}").status_code == 404


def test_tasks_stay_with_the_substitute_when_the_person_chose_so_and_ends_early(
        county: Any, clock: Any, api: Any, app: Any) -> None:
    liaison, head, sub = _people()
    [task] = _claimed_tasks(api, 1)
    resp = _absence(api, LIAISON, liaison, starts_at=clock.now(), ends_at=clock.now() + timedelta(days=5),
                    substitute_id=sub.id, on_return="stay")
    assert resp.status_code == 200 and _mine(api, SUB) == {task.id}  # under way: handed over in the same request
    clock.advance(days=1)
    ended = api(LIAISON).delete(f"/api/v1/users/{liaison.id}/absence")
    assert ended.status_code == 200 and ended.get_json()["state"] == "ended"
    assert _mine(api, SUB) == {task.id} and _mine(api, LIAISON) == set()
    kinds = [h["kind"] for h in api(SUB).get(f"/api/v1/tasks/{task.id}").get_json()["handovers"]]
    assert kinds == ["away", "kept"]
    html = PageClient(app, SUB).get(f"/tasks/{task.id}").get_data(as_text=True)  # the task page lists them too
    assert "交接记录" in html and "外出期间交由代理人办理" in html and "外出结束后留给代理人" in html
    absence_page = PageClient(app, LIAISON).get("/absence").get_data(as_text=True)
    assert "设置外出" in absence_page and "正在外出" not in absence_page  # ended: a fresh form


def test_bad_absences_are_refused_with_the_field_and_change_nothing(county: Any, clock: Any, api: Any) -> None:
    liaison, head, sub = _people()
    now = clock.now()
    other = user_by_username("police_t02")
    assert other is not None
    bad = [
        ({"substitute_id": other.id}, "substitute_id"),  # another unit
        ({"substitute_id": liaison.id}, "substitute_id"),
        ({"ends_at": now - timedelta(days=1)}, "ends_at"),
        ({"ends_at": now + timedelta(days=400)}, "ends_at"),
        ({"on_return": "later"}, "on_return"),
        ({"substitute_id": 2**31 - 1}, "substitute_id"),
    ]
    for change, field in bad:
        body = {"starts_at": now, "ends_at": now + timedelta(days=2), "substitute_id": sub.id} | change
        resp = _absence(api, LIAISON, liaison, **body)
        assert resp.status_code == 422 and field in str(resp.get_json()["errors"]), (change, resp.get_json())
    naive = api(LIAISON).put(f"/api/v1/users/{liaison.id}/absence", json={
        "starts_at": "2026-03-10T09:00:00", "ends_at": "2026-03-12T09:00:00"})
    assert naive.status_code == 422
    # another unit's liaison learns nothing; a member may not set a colleague's absence
    assert _absence(api, "police_t02", liaison, starts_at=now, ends_at=now + timedelta(days=1)).status_code == 404
    assert _absence(api, SUB, liaison, starts_at=now, ends_at=now + timedelta(days=1)).status_code == 404
    # the substitute is away then too
    assert _absence(api, HEAD, sub, starts_at=now, ends_at=now + timedelta(days=3)).status_code == 200
    resp = _absence(api, LIAISON, liaison, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=2),
                    substitute_id=sub.id)
    assert resp.status_code == 422 and "away then too" in resp.get_json()["errors"]["json"]["substitute_id"][0]
    assert api(LIAISON).get(f"/api/v1/users/{liaison.id}/absence").status_code == 404  # nothing was set


def test_a_later_period_does_not_stretch_the_absence_under_way(county: Any, clock: Any, api: Any) -> None:
    """Hostile review (docs/security.md): before, a second, later period (training from the 20th) set while an
    absence was under way moved that absence's end and kept its start: the person was away for the days between
    too, their tasks with the substitute all along, and the answer was 200."""
    liaison, _, sub = _people()
    now = clock.now()
    assert _absence(api, LIAISON, liaison, starts_at=now, ends_at=now + timedelta(days=2),
                    substitute_id=sub.id).status_code == 200
    later = _absence(api, LIAISON, liaison, starts_at=now + timedelta(days=10), ends_at=now + timedelta(days=15),
                     substitute_id=sub.id)
    assert later.status_code == 409 and "starts_at" in later.get_json()["errors"]["json"]
    shown = api(LIAISON).get(f"/api/v1/users/{liaison.id}/absence").get_json()
    assert shown["ends_at"] == (now + timedelta(days=2)).isoformat()  # unchanged
    longer = _absence(api, LIAISON, liaison, starts_at=now, ends_at=now + timedelta(days=3), substitute_id=sub.id)
    assert longer.status_code == 200 and longer.get_json()["ends_at"] == (now + timedelta(days=3)).isoformat()
