"""Offline submissions on the server (issue 14, part 3): exactly once, stale ones refused with both versions.

A phone sends a completion hours after its form was rendered, with the idempotency key made when the
worker pressed submit, the task version the form showed and the photos it uploaded first. The server
applies it once (a retry, also after a crash between the commit and the answer, gets the first result)
and refuses it, changing nothing, when the task was completed, reassigned or changed since: 409 with
what was sent and what the task holds now.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask import request
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user
from races import run_threads
from webhelpers import PageClient

from app.audit.models import AuditEvent
from app.cases.models import TimelineEntry
from app.common.models import CommandKey
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks.models import Attachment, Task

SCENARIO = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone")
FIRST = SCENARIO.steps[0]
LIAISON = unit_user(FIRST.lane, "t01v01")
HEAD = LIAISON + "_head"
FORM = {"situation": "living_alone", "urgency": "urgent", "police_station": "东城派出所",
        "dispatched_at": "2026-03-10T09:20", "reporter_contacted": "true"}
JSON = {"Accept": "application/json"}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _task(as_user: Any) -> tuple[int, Any]:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    liaison = as_user(LIAISON)
    [task] = open_tasks(liaison, step=FIRST.bpmn_id)
    return task["id"], liaison


def _row(task_id: int) -> Task:
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    assert task is not None
    return task


def _count(task_id: int, kind: str) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == kind)) or 0


def _keys(key: str) -> int:
    return db.session.scalar(sa.select(sa.func.count(CommandKey.id)).where(CommandKey.key == key)) or 0


def _snapshot(task_id: int) -> tuple[Any, ...]:
    row = _row(task_id)
    return (row.state, row.version, row.assignee_id, row.completed_by_id, row.data, _count(task_id, "task_completed"))


def test_every_change_a_worker_must_not_miss_bumps_the_version_and_bookkeeping_does_not(
        as_user: Any, page: Any, clock: Any) -> None:
    task_id, liaison = _task(as_user)
    seen = [liaison.get(f"/api/v1/tasks/{task_id}").get_json()["version"]]
    assert seen == [1]
    assert liaison.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    seen.append(_row(task_id).version)
    assert liaison.post(f"/api/v1/tasks/{task_id}/unclaim").status_code == 200
    seen.append(_row(task_id).version)
    head_id = user_by_username(HEAD).id
    form = {"task_ids": str(task_id), "to_user_id": str(head_id), "next": "/inbox"}
    assert page(HEAD).post("/inbox/reassign", form).status_code == 302
    seen.append(_row(task_id).version)
    # a reminder going out (the ladder's bookkeeping) is no change for the worker
    row = _row(task_id)
    row.escalation_level, row.next_escalation_at = 1, clock.at
    db.session.flush()
    seen.append(_row(task_id).version)
    assert as_user(HEAD).post(f"/api/v1/tasks/{task_id}/complete", json={"data": FIRST.data}).status_code == 200
    seen.append(_row(task_id).version)
    assert seen == [1, 2, 3, 4, 4, 5]


def test_a_submission_from_the_current_version_completes_once_and_a_retry_replays_it(as_user: Any) -> None:
    task_id, liaison = _task(as_user)
    body = {"data": FIRST.data, "idempotency_key": "phone-0a1b-0001", "task_version": 1}
    first = liaison.post(f"/api/v1/tasks/{task_id}/complete", json=body)
    assert first.status_code == 200 and first.get_json()["version"] == 2
    again = liaison.post(f"/api/v1/tasks/{task_id}/complete", json=body)  # the same key: the first result
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert _count(task_id, "task_completed") == 1
    # the same key with another version is another request: refused, nothing changed
    other = liaison.post(f"/api/v1/tasks/{task_id}/complete", json=body | {"task_version": 2})
    assert other.status_code == 422 and "idempotency_key" in other.get_json()["errors"]["json"]
    assert _count(task_id, "task_completed") == 1


@pytest.mark.committing  # the first request's commit must really happen before the crash
def test_a_crash_between_the_commit_and_the_answer_is_replayed_by_the_retry(app: Any, as_user: Any, page: Any) -> None:
    """The phone never got the first answer (the process died after committing): its retry, from a form
    whose version the completion itself has since bumped, gets the first result, not a conflict."""
    task_id, _ = _task(as_user)
    phone = page(LIAISON)
    form = FORM | {"idempotency_key": "phone-crash-000001", "task_version": "1"}
    crashed = threading.Event()

    def crash(response: Any) -> Any:
        if request.path.endswith("/complete") and not crashed.is_set():
            crashed.set()
            raise RuntimeError("the process died after the commit")
        return response

    app.after_request_funcs.setdefault(None, []).append(crash)
    try:
        with pytest.raises(RuntimeError):
            phone.post(f"/tasks/{task_id}/complete", form, headers=JSON)
    finally:
        app.after_request_funcs[None].remove(crash)
    assert crashed.is_set()
    row = _row(task_id)
    assert row.state == "completed" and row.version == 2  # committed before the crash
    retry = phone.post(f"/tasks/{task_id}/complete", form, headers=JSON)
    assert retry.status_code == 200, retry.get_data(as_text=True)[:400]
    assert retry.get_json()["status"] == "replayed"
    assert _count(task_id, "task_completed") == 1 and _row(task_id).version == 2


def _assert_refused(resp: Any, task_id: int, before: tuple[Any, ...], key: str, kind: str) -> dict[str, Any]:
    assert resp.status_code == 409, resp.get_data(as_text=True)[:400]
    conflict = resp.get_json()["conflict"]
    assert conflict["kind"] == kind and conflict["task_id"] == task_id
    assert conflict["sent"]["task_version"] == 1 and conflict["current"]["task_version"] == before[1]
    assert _snapshot(task_id) == before  # nothing changed
    assert _keys(key) == 0  # and the key is not spent: a refused submission is not remembered
    shown = [e.detail for e in db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "task", AuditEvent.object_id == str(task_id), AuditEvent.action == "view"))]
    assert {"page": "conflict", "kind": kind, "sent_version": 1, "current_version": before[1]} in shown  # the read
    return dict(conflict)


def test_completed_meanwhile_is_409_with_both_versions_and_who_and_when(as_user: Any) -> None:
    task_id, liaison = _task(as_user)
    theirs = FIRST.data | {"police_station": "西城派出所"}
    assert as_user(HEAD).post(f"/api/v1/tasks/{task_id}/complete", json={"data": theirs}).status_code == 200
    before = _snapshot(task_id)
    mine = FIRST.data | {"police_station": "东城派出所"}
    resp = liaison.post(f"/api/v1/tasks/{task_id}/complete",
                        json={"data": mine, "idempotency_key": "phone-late-00001", "task_version": 1})
    conflict = _assert_refused(resp, task_id, before, "phone-late-00001", "completed")
    head = user_by_username(HEAD)
    assert conflict["current"]["completed_by"] == {"id": head.id, "name": head.display_name}
    assert conflict["current"]["completed_at"] and conflict["current"]["data"]["police_station"] == "西城派出所"
    assert conflict["sent"]["data"]["police_station"] == "东城派出所"
    sides = {f["sent"]: f["current"] for f in conflict["fields"]}
    assert sides["东城派出所"] == "西城派出所"  # side by side, labelled for people
    # the same again (the phone retries): the same refusal, still nothing changed
    again = liaison.post(f"/api/v1/tasks/{task_id}/complete",
                         json={"data": mine, "idempotency_key": "phone-late-00001", "task_version": 1})
    _assert_refused(again, task_id, before, "phone-late-00001", "completed")


def test_reassigned_meanwhile_is_409_and_the_task_stays_with_its_new_holder(as_user: Any, page: Any) -> None:
    task_id, liaison = _task(as_user)
    head_id = user_by_username(HEAD).id
    assert page(HEAD).post("/inbox/reassign", {"task_ids": str(task_id), "to_user_id": str(head_id),
                                               "next": "/inbox"}).status_code == 302
    before = _snapshot(task_id)
    resp = liaison.post(f"/api/v1/tasks/{task_id}/complete",
                        json={"data": FIRST.data, "idempotency_key": "phone-reas-00001", "task_version": 1})
    conflict = _assert_refused(resp, task_id, before, "phone-reas-00001", "reassigned")
    assert conflict["current"]["assignee"]["id"] == head_id and conflict["current"]["state"] == "open"
    assert conflict["current"]["data"] is None  # nothing was completed: nothing to show of the other side


def test_changed_meanwhile_is_409_even_when_the_task_is_open_and_free_again(as_user: Any) -> None:
    task_id, liaison = _task(as_user)
    head = as_user(HEAD)
    assert head.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    assert head.post(f"/api/v1/tasks/{task_id}/unclaim").status_code == 200
    before = _snapshot(task_id)
    assert before[:3] == ("open", 3, None)
    resp = liaison.post(f"/api/v1/tasks/{task_id}/complete",
                        json={"data": FIRST.data, "idempotency_key": "phone-chg-000001", "task_version": 1})
    _assert_refused(resp, task_id, before, "phone-chg-000001", "changed")
    # the worker looked again (version 3) and sends deliberately: applied
    ok = liaison.post(f"/api/v1/tasks/{task_id}/complete",
                      json={"data": FIRST.data, "idempotency_key": "phone-chg-000002", "task_version": 3})
    assert ok.status_code == 200 and _count(task_id, "task_completed") == 1


def test_the_page_route_answers_the_outbox_in_json_and_the_form_with_a_conflict_view(as_user: Any, page: Any) -> None:
    task_id, _ = _task(as_user)
    assert as_user(HEAD).post(f"/api/v1/tasks/{task_id}/complete", json={"data": FIRST.data}).status_code == 200
    before = _snapshot(task_id)
    phone = page(LIAISON)
    form = FORM | {"idempotency_key": "phone-page-000001", "task_version": "1", "police_station": "北城派出所"}
    resp = phone.post(f"/tasks/{task_id}/complete", form, headers=JSON)
    _assert_refused(resp, task_id, before, "phone-page-000001", "completed")
    assert resp.get_json()["status"] == "conflict"
    html = phone.post(f"/tasks/{task_id}/complete", form)  # the plain form (no script): the page shows both
    assert html.status_code == 409
    text = html.get_data(as_text=True)
    theirs = FIRST.data["police_station"]
    assert 'id="conflict"' in text and "北城派出所" in text and theirs in text and theirs != "北城派出所"
    assert _snapshot(task_id) == before
    # bad input from the phone: clear 4xx, nothing changed
    junk = phone.post(f"/tasks/{task_id}/complete", form | {"task_version": "x" * 40, "attachment_ids": "-1"},
                      headers=JSON)
    assert junk.status_code == 409 and _snapshot(task_id) == before


def _upload(phone: PageClient, task_id: int, key: str, content: bytes = JPEG, name: str = "家访.jpg") -> Any:
    return phone.post(f"/tasks/{task_id}/attachments",
                      {"file": (io.BytesIO(content), name), "idempotency_key": key}, headers=JSON,
                      content_type="multipart/form-data")


def test_photos_are_uploaded_once_each_and_the_completion_names_them(as_user: Any, page: Any) -> None:
    task_id, _ = _task(as_user)
    phone = page(LIAISON)
    first = _upload(phone, task_id, "phone-photo-00001")
    assert first.status_code == 200 and first.get_json()["status"] == "attached"
    photo_id = first.get_json()["attachment_id"]
    again = _upload(phone, task_id, "phone-photo-00001")  # the answer was lost: the same key
    assert again.get_json() == {"status": "replayed", "attachment_id": photo_id}
    assert _upload(phone, task_id, "phone-photo-00001", JPEG + b"other").status_code == 422  # another file
    assert _upload(phone, task_id, "short").status_code == 422
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Attachment.id)).where(Attachment.task_id == task_id)) == 1
    # someone else's file cannot be claimed by a completion
    other = _upload(page(HEAD), task_id, "head-photo-000001").get_json()["attachment_id"]
    form = FORM | {"idempotency_key": "phone-done-00001", "task_version": "1"}
    refused = phone.post(f"/tasks/{task_id}/complete", [*form.items(), ("attachment_ids", str(other))], headers=JSON)
    assert refused.status_code == 422 and "attachment_ids" in refused.get_json()["errors"]
    assert _row(task_id).state == "open"
    done = phone.post(f"/tasks/{task_id}/complete", [*form.items(), ("attachment_ids", str(photo_id))], headers=JSON)
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    entry = db.session.scalars(sa.select(TimelineEntry).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == "task_completed")).one()
    assert entry.detail["attachment_ids"] == [photo_id]
    case_page = phone.get(f"/cases/{_row(task_id).case_id}").get_data(as_text=True)
    assert re.search(rf'class="timeline-file" href="/attachments/{photo_id}">家访.jpg', case_page)


def test_api_clients_upload_once_per_key_and_complete_naming_their_files(as_user: Any) -> None:
    task_id, liaison = _task(as_user)
    path = f"/api/v1/tasks/{task_id}/attachments"

    def upload(key: str, content: bytes = JPEG, api: Any = liaison) -> Any:
        return api.client.post(path, data={"file": (io.BytesIO(content), "现场.jpg"), "idempotency_key": key},
                               headers=api.headers, content_type="multipart/form-data")

    first = upload("api-photo-000001")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["name"] == "现场.jpg" and body["task_id"] == task_id and body["content_type"] == "image/jpeg"
    again = upload("api-photo-000001")
    assert again.status_code == 200 and again.get_json() == body
    assert upload("api-photo-000001", JPEG + b"x").status_code == 422  # the key is bound to the bytes
    assert upload("api-photo-000002", b"not a jpeg").status_code == 422
    assert upload("api-photo-000003", api=as_user("coordinator")).status_code == 403  # reads, never attaches
    no_file = liaison.client.post(path, data={"idempotency_key": "api-photo-000004"}, headers=liaison.headers,
                                  content_type="multipart/form-data")
    assert no_file.status_code == 422
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Attachment.id)).where(Attachment.task_id == task_id)) == 1
    done = liaison.post(f"/api/v1/tasks/{task_id}/complete", json={
        "data": FIRST.data, "idempotency_key": "api-done-0000001", "task_version": 1, "attachment_ids": [body["id"]]})
    assert done.status_code == 200, done.get_json()
    entry = db.session.scalars(sa.select(TimelineEntry).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == "task_completed")).one()
    assert entry.detail["attachment_ids"] == [body["id"]]


@pytest.mark.postgres
@pytest.mark.committing  # requests on threads at once
def test_the_phone_and_a_colleague_at_the_same_moment_one_wins_the_other_sees_the_conflict(
        app: Any, as_user: Any) -> None:
    """On PostgreSQL: the same key twice at once completes once (both 200); a colleague's completion from
    the same version at the same moment is refused with both versions."""
    task_id, liaison = _task(as_user)
    head = as_user(HEAD)
    db.session.remove()
    start = threading.Barrier(3)

    def send(api: Any, key: str) -> Any:
        def go() -> Any:
            client = app.test_client()
            start.wait(timeout=5)
            resp = client.post(f"/api/v1/tasks/{task_id}/complete", headers=api.headers,
                               json={"data": FIRST.data, "idempotency_key": key, "task_version": 1})
            return resp.status_code, resp.get_json()
        return go

    results = run_threads({"phone-a": send(liaison, "phone-race-00001"), "phone-b": send(liaison, "phone-race-00001"),
                           "colleague": send(head, "desk-race-000001")})
    codes = {name: code for name, (code, _) in results.items()}
    assert sorted(codes.values()) in ([200, 200, 409], [200, 409, 409]), results
    assert codes["phone-a"] == codes["phone-b"]  # the same key: the same answer
    loser = next(body for code, body in results.values() if code == 409)
    assert loser["conflict"]["kind"] == "completed" and loser["conflict"]["current"]["task_version"] == 2
    assert _count(task_id, "task_completed") == 1


def test_a_step_moved_to_another_unit_while_the_completion_waited_for_its_lock_is_403_without_its_data(
        as_user: Any) -> None:
    """The unit check ran on the task as read before the lock; the row read again under the lock may belong
    to another unit by then (handed on while the phone's request waited). The 409's body would show that
    unit's completed values and people to a worker with no basis left: it must be the 403 instead."""
    from app.common.errors import Forbidden
    from app.org.models import Unit
    from app.tasks import operations
    from app.tasks.conflicts import Submission

    task_id, _ = _task(as_user)
    task = _row(task_id)
    liaison = user_by_username(LIAISON)
    other = db.session.scalar(sa.select(Unit.id).where(Unit.id != task.unit_id).order_by(Unit.id).limit(1))
    # what another request committed meanwhile, unseen by the objects this request already holds
    db.session.execute(sa.update(Task).where(Task.id == task_id).values(
        unit_id=other, state="completed", data={"police_station": "另一单位的记录"}, version=Task.version + 1),
        execution_options={"synchronize_session": False})
    assert task.unit_id != other  # the stale copy the first check saw
    with pytest.raises(Forbidden):
        operations.lock_for_completion(task, liaison, Submission(version=1), FIRST.data)
