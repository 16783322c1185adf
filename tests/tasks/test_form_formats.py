"""Form fields with a ``format`` are checked on completion (today any text passed), API and page alike."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import open_tasks, submit_report

from app.tasks.forms import form_errors

TRIAGE = {"situation": "living_alone", "urgency": "urgent", "police_station": "城关派出所",
          "dispatched_at": "2026-03-10T09:20:00+08:00", "officers": "王警官", "reporter_contacted": True}


@pytest.mark.parametrize("fmt,good,bad", [
    ("date-time", "2026-03-10T09:20:00+08:00", ["yesterday", "2026-03-10 9:20", "2026-03-10T09:20:00", "2026-13-01T00:00:00Z"]),
    ("date", "2026-03-10", ["2026-02-30", "10/03/2026", "next week"]),
    ("time", "09:20:00+08:00", ["9 am", "25:00:00Z"]),
    ("email", "teacher@school.cn", ["teacher"]),
    ("uri", "https://example.cn/a", ["not a uri"]),
])
def test_every_format_our_forms_may_use_is_checked(fmt: str, good: str, bad: list[str]) -> None:
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": fmt}}}
    assert form_errors(schema, {"v": good}) == []
    for value in bad:
        assert [path for path, _ in form_errors(schema, {"v": value})] == ["v"], (fmt, value)


def _triage_task(as_user: Any) -> tuple[Any, int]:
    submit_report(as_user("reporter_school"))
    police = as_user("police_t01")
    [task] = [t for t in open_tasks(police) if t["bpmn_id"] == "police_triage"]
    assert police.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 200
    return police, task["id"]


def test_a_date_time_that_is_not_one_is_refused_naming_the_field(as_user: Any) -> None:
    police, task_id = _triage_task(as_user)
    resp = police.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {**TRIAGE, "dispatched_at": "昨天晚上"}})
    assert resp.status_code == 422, resp.get_json()
    assert "data.dispatched_at" in resp.get_json()["errors"]["json"]
    assert police.get(f"/api/v1/tasks/{task_id}").get_json()["state"] == "open"
    resp = police.post(f"/api/v1/tasks/{task_id}/complete", json={"data": TRIAGE})
    assert resp.status_code == 200, resp.get_json()


def test_the_task_page_refuses_a_bad_date_time(as_user: Any, page: Any) -> None:
    _, task_id = _triage_task(as_user)
    form = {k: str(v).lower() if isinstance(v, bool) else v for k, v in TRIAGE.items()}
    resp = page("police_t01").post(f"/tasks/{task_id}/complete", {**form, "dispatched_at": "昨天晚上"})
    assert resp.status_code == 422, resp.status_code
