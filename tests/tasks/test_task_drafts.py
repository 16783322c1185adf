"""Drafts of a task's form (issue 14, part 4): only the task's workers keep one, within bounds, and it
goes when the task completes. The API (bearer) and the task page's endpoint (session + CSRF) share the rules."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flows.scenarios import SCENARIOS
from helpers import open_tasks, submit_report, unit_user

from app.extensions import db
from app.tasks.models import TaskDraft

SCENARIO = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone")
FIRST = SCENARIO.steps[0]
DRAFT = {"fields": {"officers": "王警官", "urgency": ["urgent"]}, "saved_at": "2026-03-09T09:20:00+08:00"}


def _task(as_user: Any) -> tuple[Any, int]:
    submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    api = as_user(unit_user(FIRST.lane, "t01v01"))
    [task] = open_tasks(api, step=FIRST.bpmn_id)
    return api, task["id"]


def _drafts() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(TaskDraft)) or 0


def test_a_worker_stores_reads_replaces_and_discards_a_draft(as_user: Any) -> None:
    api, task = _task(as_user)
    assert api.get(f"/api/v1/tasks/{task}/draft").get_json() == {"fields": None, "saved_at": None}
    resp = api.put(f"/api/v1/tasks/{task}/draft", json=DRAFT)
    assert resp.status_code == 200, resp.get_json()
    got = api.get(f"/api/v1/tasks/{task}/draft").get_json()
    assert got["fields"] == DRAFT["fields"] and got["saved_at"].startswith("2026-03-09T01:20:00")
    older = {"fields": {"officers": "older"}, "saved_at": "2026-03-08T09:20:00+08:00"}
    assert api.put(f"/api/v1/tasks/{task}/draft", json=older).get_json()["fields"] == DRAFT["fields"]  # newer kept
    future = {"fields": {"officers": "phone clock ahead"}, "saved_at": "2999-01-01T00:00:00+00:00"}
    assert api.put(f"/api/v1/tasks/{task}/draft", json=future).get_json()["saved_at"] < "2999"  # clamped to now
    assert _drafts() == 1
    assert api.delete(f"/api/v1/tasks/{task}/draft").status_code == 204
    assert _drafts() == 0


def test_need_to_know_other_units_coordinators_and_strangers_get_no_draft(as_user: Any) -> None:
    api, task = _task(as_user)
    api.put(f"/api/v1/tasks/{task}/draft", json=DRAFT)
    for user in ("police_t02", "township_t01", "coordinator", "reporter_school"):
        other = as_user(user)
        assert other.get(f"/api/v1/tasks/{task}/draft").status_code == 403, user
        assert other.put(f"/api/v1/tasks/{task}/draft", json=DRAFT).status_code == 403, user
    assert as_user("police_t01_head").get(f"/api/v1/tasks/{task}/draft").get_json()["fields"] is None  # one per user
    assert api.client.get(f"/api/v1/tasks/{task}/draft").status_code == 401  # no token
    assert api.get("/api/v1/tasks/999999/draft").status_code == 404
    assert _drafts() == 1


def test_oversized_and_hostile_bodies_are_refused_and_store_nothing(as_user: Any) -> None:
    api, task = _task(as_user)
    url = f"/api/v1/tasks/{task}/draft"
    big = {"fields": {"notes": "x" * 70_000}}
    assert api.put(url, data=json.dumps(big), content_type="application/json").status_code == 413
    hostile: list[Any] = [
        "not json{", "[1, 2]", "null", '"text"', '{"fields": [1]}', '{"fields": {"a": 1}}',
        '{"fields": {"a": {"b": "c"}}}', '{"fields": {"a": [1]}}', '{"fields": {"": "x"}}',
        json.dumps({"fields": {f"f{i}": "x" for i in range(400)}}), '{"fields": {}, "saved_at": "yesterday"}',
        '{"fields": {}, "saved_at": "2026-03-10T09:20:00"}', '{"fields": {}, "saved_at": 5}',
        json.dumps({"fields": {"a": "x" * 20_001}}), json.dumps({"fields": {"a": ["x"] * 101}}),
    ]
    for body in hostile:
        resp = api.put(url, data=body, content_type="application/json")
        assert 400 <= resp.status_code < 500 and resp.status_code != 413, (body[:40], resp.status_code)
        assert "message" in resp.get_json()
    assert _drafts() == 0


def test_completing_the_task_clears_every_draft_and_a_done_task_takes_none(as_user: Any) -> None:
    api, task = _task(as_user)
    api.put(f"/api/v1/tasks/{task}/draft", json=DRAFT)
    as_user("police_t01_head").put(f"/api/v1/tasks/{task}/draft", json=DRAFT)
    assert _drafts() == 2
    assert api.post(f"/api/v1/tasks/{task}/complete", json={"data": FIRST.data}).status_code == 200
    assert _drafts() == 0
    assert api.put(f"/api/v1/tasks/{task}/draft", json=DRAFT).status_code == 409
    assert _drafts() == 0


def test_the_task_pages_endpoint_needs_the_session_and_its_csrf_token(as_user: Any, page: Any) -> None:
    _, task = _task(as_user)
    police = page("police_t01")
    url = f"/tasks/{task}/draft"
    token = police.csrf()

    def send(method: str, body: Any = None, raw: str | None = None, csrf: bool = True) -> Any:
        police._forget_cached_user()
        headers = {"X-CSRFToken": token} if csrf else {}
        return police.client.open(url, method=method, json=body, data=raw, headers=headers,
                                   content_type="application/json" if raw is not None else None)

    assert send("PUT", DRAFT, csrf=False).status_code == 400 and _drafts() == 0
    ok = send("PUT", DRAFT)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert police.get(url).get_json()["fields"] == DRAFT["fields"]
    assert page("police_t02").get(url).status_code == 403
    assert page("coordinator").get(url).status_code == 403
    assert send("PUT", raw=json.dumps({"fields": {"a": "x" * 70_000}})).status_code == 413
    assert send("PUT", raw="{not json").status_code == 422
    assert send("PUT", raw='{"fields": {"a": {"b": 1}}}').status_code == 422
    assert police.get(url).get_json()["fields"] == DRAFT["fields"]
    assert send("DELETE").status_code == 200
    assert _drafts() == 0
