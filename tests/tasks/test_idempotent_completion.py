"""Completions under an idempotency key: a retry gets the first result, never "already completed".

Issue 11, part 2: a client whose completion committed but whose answer was lost (a dropped mobile
connection, a proxy timeout) used to get 409 on retry and could not tell whether the step was done.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user
from races import run_threads

from app.cases.models import TimelineEntry
from app.extensions import db
from app.processes.models import ProcessInstance
from app.tasks.models import Task

SCENARIO = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone")
FIRST = SCENARIO.steps[0]
LIAISON = unit_user(FIRST.lane, "t01v01")


def _task(as_user: Any) -> tuple[int, Any, int]:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    liaison = as_user(LIAISON)
    [task] = open_tasks(liaison, step=FIRST.bpmn_id)
    instance_id = db.session.get(Task, task["id"]).instance_id
    return task["id"], liaison, db.session.get(ProcessInstance, instance_id).version


def _completions(task_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == "task_completed")) or 0


def _version(task_id: int) -> int:
    db.session.expire_all()
    return db.session.get(ProcessInstance, db.session.get(Task, task_id).instance_id).version


def test_a_retry_with_the_same_key_returns_the_first_result(as_user: Any) -> None:
    task_id, liaison, version = _task(as_user)
    body = {"data": FIRST.data, "idempotency_key": "phone-7f3a-0001"}
    first = liaison.post(f"/api/v1/tasks/{task_id}/complete", json=body)
    assert first.status_code == 200 and first.get_json()["state"] == "completed"
    again = liaison.post(f"/api/v1/tasks/{task_id}/complete", json=body)  # the answer was lost; same key
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()
    assert _completions(task_id) == 1 and _version(task_id) == version + 1
    # without a key a second completion is still refused, as documented, but says who completed it
    keyless = liaison.post(f"/api/v1/tasks/{task_id}/complete", json={"data": FIRST.data})
    assert keyless.status_code == 409
    assert "by you" in keyless.get_json()["message"] and keyless.get_json()["completed_by_you"]


def test_the_key_may_come_in_the_idempotency_key_header(as_user: Any) -> None:
    task_id, liaison, _ = _task(as_user)
    headers = liaison.headers | {"Idempotency-Key": "offline-queue-000017"}
    path = f"/api/v1/tasks/{task_id}/complete"
    first = liaison.client.post(path, json={"data": FIRST.data}, headers=headers)
    again = liaison.client.post(path, json={"data": FIRST.data}, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert _completions(task_id) == 1
    bad = liaison.client.post(path, json={"data": FIRST.data}, headers=liaison.headers | {"Idempotency-Key": "x"})
    assert bad.status_code == 422 and "Idempotency-Key" in bad.get_json()["errors"]["headers"]


def test_a_key_belongs_to_one_user_one_task_and_one_body(as_user: Any) -> None:
    task_id, liaison, _ = _task(as_user)
    body = {"data": FIRST.data, "idempotency_key": "phone-7f3a-0002"}
    assert liaison.post(f"/api/v1/tasks/{task_id}/complete", json=body).status_code == 200
    head = as_user(LIAISON + "_head")
    assert head.post(f"/api/v1/tasks/{task_id}/complete", json=body).status_code == 409
    changed = liaison.post(f"/api/v1/tasks/{task_id}/complete",
                           json=body | {"data": FIRST.data | {"triage_notes": "改了"}})
    assert changed.status_code == 422 and "idempotency_key" in changed.get_json()["errors"]["json"]
    submit_report(as_user("reporter_school"), "living_alone", "t01v02")
    other = [t for t in open_tasks(liaison, step=FIRST.bpmn_id) if t["id"] != task_id][0]
    elsewhere = liaison.post(f"/api/v1/tasks/{other['id']}/complete", json=body)
    assert elsewhere.status_code == 422
    assert _completions(other["id"]) == 0 and _completions(task_id) == 1


@pytest.mark.committing  # two requests on threads at once
def test_retries_with_the_same_key_at_the_same_moment_complete_once(app: Any, as_user: Any) -> None:
    task_id, liaison, version = _task(as_user)
    db.session.remove()
    start = threading.Barrier(2)
    body = {"data": FIRST.data, "idempotency_key": "phone-7f3a-0003"}

    def send() -> Any:
        client = app.test_client()
        start.wait(timeout=5)
        resp = client.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=liaison.headers)
        return resp.status_code, resp.get_json()

    results = run_threads({"retry-a": send, "retry-b": send})
    assert [code for code, _ in results.values()] == [200, 200], results
    assert results["retry-a"][1] == results["retry-b"][1]
    assert _completions(task_id) == 1 and _version(task_id) == version + 1


def test_the_task_page_form_carries_a_key_so_a_double_submit_completes_once(page: Any, as_user: Any) -> None:
    task_id, _, version = _task(as_user)
    desk = page(LIAISON)
    html = desk.get(f"/tasks/{task_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert key, "the completion form has no idempotency key"
    form = {"idempotency_key": key.group(1), "situation": "living_alone", "urgency": "urgent",
            "police_station": "东城派出所", "dispatched_at": "2026-03-10T09:20", "reporter_contacted": "true"}
    first = desk.post(f"/tasks/{task_id}/complete", form)
    second = desk.post(f"/tasks/{task_id}/complete", form)  # the second click of a double click
    assert (first.status_code, second.status_code) == (302, 302), second.get_data(as_text=True)[:500]
    assert _completions(task_id) == 1 and _version(task_id) == version + 1
    inbox = desk.get("/inbox").get_data(as_text=True)
    assert "already completed with this form" in inbox or "已用此表单办结" in inbox

