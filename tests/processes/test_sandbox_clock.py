"""A test run's own clock: the designer lets time pass, timers fire one by one, steps fall overdue.

Uses tests/data/timer_supervision.bpmn: a visit with an 8-hour non-interrupting
boundary timer that escalates to the child supervisor, a 3-day wait before a
follow-up call, then an event-based gateway that gives the guardian 7 days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import START

from app.extensions import db

pytestmark = pytest.mark.dataset("four_in_one")
"""The demo county with only the four-in-one process: these tests are about it, not other bundles."""

P = "/api/v1/processes"
DATA = Path(__file__).resolve().parent.parent / "data"
REAL_TABLES = ("case_file", "process_instance", "task", "timer", "timeline_entry", "notification", "escalation")


def _counts() -> dict[str, int]:
    return {t: db.session.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in REAL_TABLES}


def _start(api: Any) -> dict[str, Any]:
    xml = (DATA / "timer_supervision.bpmn").read_text(encoding="utf-8")
    draft = api.post(f"{P}/drafts", json={"title": "督导跟进", "files": {"timer_supervision.bpmn": xml}})
    assert draft.status_code == 201, draft.get_json()
    run = api.post(f"{P}/drafts/{draft.get_json()['id']}/test-runs", json={"data": {}})
    assert run.status_code == 201, run.get_json()
    return run.get_json()


def _at(value: str) -> datetime:
    """To the second: the engine fires a timer a microsecond after its moment (strictly past)."""
    return datetime.fromisoformat(value).replace(microsecond=0)


def _complete(api: Any, run: dict[str, Any], bpmn_id: str) -> dict[str, Any]:
    task = next(t for t in run["ready"] if t["bpmn_id"] == bpmn_id)
    resp = api.post(f"{P}/test-runs/{run['id']}/tasks/{task['id']}/complete",
                    json={"lane": task["department"], "data": {}})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_time_passes_in_a_test_run_firing_each_timer_at_its_own_moment(demo: Any, as_user: Any) -> None:
    api = as_user("designer")
    before = _counts()
    run = _start(api)
    clock_url = f"{P}/test-runs/{run['id']}/clock"
    assert _at(run["clock_at"]) == START
    [visit] = run["ready"]
    assert visit["bpmn_id"] == "village_visit" and _at(visit["due_at"]) == START + timedelta(hours=8)
    assert [_at(t["due_at"]) for t in run["timers"]] == [START + timedelta(hours=8)]

    run = api.post(clock_url, json={"advance": "PT9H"}).get_json()  # the 8-hour boundary timer fires at 8 h
    assert _at(run["clock_at"]) == START + timedelta(hours=9)
    ready = {t["bpmn_id"]: t for t in run["ready"]}
    assert set(ready) == {"village_visit", "supervisor_check"}
    assert ready["village_visit"]["overdue"] is True and ready["supervisor_check"]["overdue"] is False
    assert _at(ready["supervisor_check"]["opened_at"]) == START + timedelta(hours=8)
    fired = [p["bpmn_id"] for p in run["path"]]
    assert fired.index("visit_late_timer") < fired.index("late_caught")
    assert run["path"][-1]["kind"] == "clock"

    run = _complete(api, run, "village_visit")  # starts the 3-day wait, counted from 9 h
    [wait] = run["timers"]
    assert _at(wait["due_at"]) == START + timedelta(hours=9, days=3)
    run = api.post(clock_url, json={"next_timer": True}).get_json()
    assert _at(run["clock_at"]) == START + timedelta(hours=9, days=3)
    assert {t["bpmn_id"] for t in run["ready"]} == {"supervisor_check", "followup_call"}

    run = _complete(api, run, "followup_call")  # the guardian has 7 days
    run = api.post(clock_url, json={"advance": "P10D"}).get_json()
    review = next(t for t in run["ready"] if t["bpmn_id"] == "township_review")
    assert _at(review["opened_at"]) == START + timedelta(hours=9, days=10)  # the 7-day timer's moment, not +10 d
    assert _at(run["clock_at"]) == START + timedelta(hours=9, days=13)
    assert "guardian_returned" not in {p["bpmn_id"] for p in run["path"]}

    run = _complete(api, run, "township_review")
    run = _complete(api, run, "supervisor_check")
    assert run["status"] == "completed"
    assert api.post(clock_url, json={"advance": "P1D"}).status_code == 409
    assert _counts() == before  # no case, task, timer row, timeline entry, notification or escalation


def test_bad_clock_moves_are_refused_and_change_nothing(demo: Any, as_user: Any) -> None:
    api = as_user("designer")
    run = _start(api)
    url = f"{P}/test-runs/{run['id']}/clock"
    back = api.post(url, json={"to": (START - timedelta(hours=1)).isoformat()})
    assert back.status_code == 422 and "only moves forward" in back.get_json()["message"]
    assert api.post(url, json={"advance": "next week"}).status_code == 422
    assert api.post(url, json={}).status_code == 422
    both = api.post(url, json={"advance": "P1D", "next_timer": True})
    assert both.status_code == 422 and "exactly one" in both.get_json()["message"]
    assert api.post(url, json={"advance": "P2000D"}).status_code == 422
    assert as_user("police_t01").post(url, json={"advance": "P1D"}).status_code == 403
    after = api.get(f"{P}/test-runs/{run['id']}").get_json()
    assert (after["clock_at"], after["path"], after["timers"]) == (run["clock_at"], run["path"], run["timers"])


def test_working_days_on_the_run_clock_follow_the_county_calendar(demo: Any, as_user: Any) -> None:
    api = as_user("designer")
    run = _start(api)
    # START is Tuesday 09:00 county time; 3 working days later is Friday, end of the working day
    run = api.post(f"{P}/test-runs/{run['id']}/clock", json={"advance": "3WD"}).get_json()
    local = _at(run["clock_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.strftime("%A"), local.hour) == ("Friday", 17)
