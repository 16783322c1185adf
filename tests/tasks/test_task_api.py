"""The task API: unit boundaries (403), stale and double submissions (409), bad data (422)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user

from app.audit.models import AuditEvent
from app.cases.models import TimelineEntry
from app.extensions import db

SCENARIO = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone")
FIRST = SCENARIO.steps[0]


def _first_task(as_user: Any, village: str = "t01v01") -> tuple[Any, dict[str, Any]]:
    submit_report(as_user("reporter_school"), "living_alone", village)
    api = as_user(unit_user(FIRST.lane, village))
    [task] = open_tasks(api, step=FIRST.bpmn_id)
    return api, task


def test_new_report_puts_first_step_in_the_right_police_station(as_user: Any) -> None:
    api, task = _first_task(as_user, "t02v01")
    assert task["bpmn_id"] == FIRST.bpmn_id
    assert task["unit"]["kind"] == FIRST.lane
    assert task["due_at"] is not None and task["state"] == "open"
    # The same step for a child in another township goes to that township's station only.
    assert open_tasks(as_user(unit_user(FIRST.lane, "t01v01")), step=FIRST.bpmn_id) == []


def test_another_units_liaison_gets_403_and_nothing_changes(as_user: Any) -> None:
    api, task = _first_task(as_user)
    stranger = as_user(unit_user(FIRST.lane, "t03v01"))
    for path in (f"/api/v1/tasks/{task['id']}", ):
        assert stranger.get(path).status_code == 403
    for action in ("claim", "complete"):
        resp = stranger.post(f"/api/v1/tasks/{task['id']}/{action}", json={"data": FIRST.data})
        assert resp.status_code == 403
        assert "another unit" in resp.get_json()["message"]
    assert api.get(f"/api/v1/tasks/{task['id']}").get_json()["state"] == "open"


def test_invalid_form_data_is_422_with_field_errors_and_changes_nothing(as_user: Any) -> None:
    api, task = _first_task(as_user)
    resp = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {"no_such_field": 1}})
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["message"] and body["errors"]
    assert api.get(f"/api/v1/tasks/{task['id']}").get_json()["state"] == "open"
    resp = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"nodata": True})
    assert resp.status_code == 422


def test_completing_twice_is_409(as_user: Any) -> None:
    api, task = _first_task(as_user)
    ok = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": FIRST.data})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["state"] == "completed"
    again = api.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": FIRST.data})
    assert again.status_code == 409
    assert "already completed" in again.get_json()["message"]


def test_claim_by_one_liaison_blocks_another_until_unclaimed(as_user: Any) -> None:
    api, task = _first_task(as_user)
    head = as_user(unit_user(FIRST.lane, "t01v01") + "_head")
    assert api.post(f"/api/v1/tasks/{task['id']}/claim").get_json()["assignee"]
    assert head.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 409
    mine = open_tasks(api, assignee="me")
    assert [t["id"] for t in mine] == [task["id"]]
    assert api.post(f"/api/v1/tasks/{task['id']}/unclaim").get_json()["assignee"] is None
    assert head.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200


def test_unknown_ids_are_404_with_json(as_user: Any) -> None:
    api = as_user("police_t01")
    for resp in (api.get("/api/v1/tasks/999999"), api.post("/api/v1/tasks/999999/complete", json={"data": {}}),
                 api.get("/api/v1/cases/999999")):
        assert resp.status_code == 404
        assert resp.is_json and resp.get_json()["message"]


def test_missing_or_bad_token_is_401(client: Any, demo: Any) -> None:
    assert client.get("/api/v1/tasks").status_code == 401
    resp = client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and "invalid" in resp.get_json()["message"]


def test_overdue_filter_uses_the_clock(as_user: Any, clock: Any) -> None:
    api, task = _first_task(as_user)
    assert open_tasks(api, overdue="true") == []
    clock.advance(days=60)
    assert [t["id"] for t in open_tasks(api, overdue="true")] == [task["id"]]
    assert open_tasks(api, overdue="true")[0]["overdue"] is True


def test_a_claim_reads_its_case_once_with_the_task(as_user: Any) -> None:
    """The case is read with the task: the timeline row and the answer's case number find it in the session
    (issue 17 part 3: the claim read it twice more, once for the timeline and once for the answer)."""
    api, task = _first_task(as_user)
    db.session.expunge_all()  # nothing of the case in the session beforehand (a new request's session)
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        claimed = api.post(f"/api/v1/tasks/{task['id']}/claim")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert claimed.status_code == 200 and claimed.get_json()["case_number"] == task["case_number"]
    shown = "\n".join(" ".join(s.split())[:200] for s in seen)
    assert not [s for s in seen if "FROM case_file" in s], shown  # no read of the case on its own
    assert "JOIN case_file" in next(s for s in seen if "FROM task" in s), shown  # it came with the task


def test_a_claim_reads_the_task_once_and_locks_the_instance_without_its_state(as_user: Any) -> None:
    """Under the instance lock the conditional UPDATE decides alone (issue 17 part 3): the task is not read again,
    the lock brings back no engine state, and the answer carries the version the UPDATE left."""
    api, task = _first_task(as_user)
    db.session.expunge_all()
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        claimed = api.post(f"/api/v1/tasks/{task['id']}/claim")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    shown = "\n".join(s[:200] for s in seen)
    assert claimed.status_code == 200, claimed.get_json()
    assert claimed.get_json()["version"] == task["version"] + 1
    assert len([s for s in seen if "FROM task" in s]) == 1, shown  # the read with the case, before the lock
    assert not [s for s in seen if "process_instance.state" in s], shown
    assert len([s for s in seen if "UPDATE task SET" in s]) == 1, shown
    sent = [s for s in seen if "SAVEPOINT" not in s]  # the test's transaction, not the request's
    if db.engine.dialect.name == "postgresql":  # the lock, UPDATE, audit and timeline rows in one (tasks.claiming)
        assert len(sent) == 3, shown  # token, task with case, the claim
        assert "FOR NO KEY UPDATE" in sent[2] and "INSERT INTO audit_event" in sent[2], shown
        assert "INSERT INTO timeline_entry" in sent[2], shown
    else:
        assert len(sent) == 6, shown  # token, task with case, lock, UPDATE ... RETURNING, audit, timeline
    assert _written(task["id"]) == (1, 1)
    [summary] = db.session.scalars(sa.select(TimelineEntry.summary).where(
        TimelineEntry.task_id == task["id"], TimelineEntry.kind == "task_claimed"))
    assert summary.startswith(f"{task['name']} claimed by "), summary  # both paths: tasks.claiming.claimed_summary

    again = api.post(f"/api/v1/tasks/{task['id']}/claim")  # your own task again: still yours, nothing written
    assert again.status_code == 200 and again.get_json()["version"] == task["version"] + 1
    assert _written(task["id"]) == (1, 1)
    other = as_user(unit_user(FIRST.lane, "t01v01") + "_head")
    refused = other.post(f"/api/v1/tasks/{task['id']}/claim")  # someone else's: 409, nothing written
    assert refused.status_code == 409 and "already claimed" in refused.get_json()["message"]
    assert _written(task["id"]) == (1, 1)


def _written(task_id: int) -> tuple[int, int]:
    """(audit rows of claims of the task, its ``task_claimed`` timeline rows)."""
    audited = db.session.scalar(sa.select(sa.func.count()).where(
        AuditEvent.action == "claim", AuditEvent.object_type == "task", AuditEvent.object_id == str(task_id)))
    noted = db.session.scalar(sa.select(sa.func.count()).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == "task_claimed"))
    return audited or 0, noted or 0
