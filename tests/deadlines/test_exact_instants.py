"""Deadlines are exact instants (issue 16 part 4): a decision due on a date is due at 17:30:00 county time, the
township's annual report at 00:00:00 on 1 November, whatever fraction of a second "now" had when the step
opened; the API returns them in county time with the offset; ``overdue`` flips at the same instant for the
API, the lists and the sweep (``app.common.clock.is_past_due``)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from helpers import open_tasks, submit_report

from app.deadlines.models import Escalation
from app.deadlines.sweep_batch import escalate_due
from app.duties.models import DutyCycle
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.org.queries import region_by_code, user_by_username
from app.tasks.models import Task

TZ = ZoneInfo("Asia/Shanghai")
MEETING = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)  # Thursday 14:00 county time
FRACTION = timedelta(seconds=0.7)
"""Where "now" falls between two whole seconds: a duration counted from it lost this much."""


def _unit_id(username: str) -> int:
    user = user_by_username(username)
    assert user is not None and user.unit_id is not None
    return user.unit_id


def test_a_decision_due_on_a_date_is_due_at_17_30_00_and_the_preparation_at_the_meeting(
        as_user: Any, clock: Any) -> None:
    case_id = submit_report(as_user("reporter_school"), "living_alone", "t01v01")["case_id"]
    clock.at = datetime(2026, 3, 10, 2, 13, 5, tzinfo=UTC) + FRACTION
    scheduled = as_user("coordinator").post("/api/v1/conferences", json={
        "case_id": case_id, "title": "个案会商", "scheduled_at": MEETING.isoformat(), "mode": "in_person",
        "convening_unit_id": _unit_id("rescue_center_c01"), "invited": [{"department_kind": "education"}]})
    assert scheduled.status_code == 201, scheduled.get_json()
    [prep] = open_tasks(as_user("education_c01"), step="prepare_for_conference")
    assert prep["due_at"] == "2026-03-12T14:00:00+08:00"
    assert db.session.get(Task, prep["id"]).due_at == MEETING  # type: ignore[union-attr]

    clock.at = MEETING + timedelta(hours=2) + FRACTION
    conference = scheduled.get_json()
    held = as_user("rescue_center_c01").post(f"/api/v1/conferences/{conference['id']}/minutes", json={
        "minutes": "确定帮扶措施。", "attended_unit_ids": [_unit_id("rescue_center_c01")],
        "decisions": [{"decision": "儿童主任每周入户一次", "unit_id": _unit_id("village_committee_t01v01"),
                       "due_on": "2026-03-16"}]})
    assert held.status_code == 200, held.get_json()
    [visit] = [t for t in open_tasks(as_user("director_t01v01")) if t["case_id"] == case_id]
    assert visit["due_at"] == "2026-03-16T17:30:00+08:00"
    task = db.session.get(Task, visit["id"])
    assert task is not None and task.due_at == datetime(2026, 3, 16, 17, 30, tzinfo=TZ)
    assert held.get_json()["actions"][0]["due_at"] == "2026-03-16T17:30:00+08:00"


def open_task_of(cycle: DutyCycle | None) -> Task | None:
    assert cycle is not None
    return db.session.scalar(sa.select(Task).where(Task.instance_id == cycle.instance_id, Task.state == "open"))


def _annual_report_task(clock: Any) -> Task:
    clock.at = datetime(2026, 10, 5, 1, 0, 0, tzinfo=UTC) + FRACTION
    start_due_duties(clock.at)
    db.session.commit()
    township = region_by_code("t01")
    assert township is not None
    cycle = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "annual_report",
                                                          DutyCycle.region_id == township.id)).first()
    assert cycle is not None
    task = open_task_of(cycle)
    assert task is not None
    return task


def test_the_annual_report_is_due_at_midnight_on_1_november_exactly(as_user: Any, clock: Any) -> None:
    task = _annual_report_task(clock)
    assert task.due_at == datetime(2026, 11, 1, 0, 0, 0, tzinfo=TZ)
    township = as_user(f"township_{task.unit.region.code}")
    body = township.get(f"/api/v1/tasks/{task.id}").get_json()
    assert body["due_at"] == "2026-11-01T00:00:00+08:00"
    assert datetime.fromisoformat(body["due_at"]) == datetime(2026, 10, 31, 16, tzinfo=UTC)  # the same instant


def test_overdue_flips_at_the_due_instant_for_the_api_the_list_and_the_sweep(as_user: Any, clock: Any) -> None:
    task = _annual_report_task(clock)
    due = task.due_at
    assert due is not None
    township = as_user(f"township_{task.unit.region.code}")

    def seen() -> tuple[bool, bool, bool]:
        one = township.get(f"/api/v1/tasks/{task.id}").get_json()["overdue"]
        listed = task.id in {t["id"] for t in township.get("/api/v1/tasks", query_string={"overdue": "true"})
                             .get_json()["items"]}
        escalate_due(clock.at, 1000)
        swept = db.session.scalar(sa.select(sa.func.count()).select_from(Escalation).where(
            Escalation.task_id == task.id, Escalation.scheduled_at == due)) > 0
        return one, listed, swept

    clock.at = due - timedelta(microseconds=1)
    assert seen() == (False, False, False)
    clock.at = due
    assert seen() == (True, True, True)


def _migration() -> Any:
    path = next((Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("c3f8a1d6e2b9_*.py"))
    spec = importlib.util.spec_from_file_location("exact_deadline_instants", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_puts_rows_written_before_on_their_exact_instant(as_user: Any, clock: Any) -> None:
    task = _annual_report_task(clock)
    exact = task.due_at
    assert exact is not None
    old_due = exact - timedelta(seconds=0.7)  # what the duration counted from 10:00:00.7 gave
    task.due_at, task.next_escalation_at = old_due, old_due + timedelta(days=1)
    far = open_task_of(db.session.scalars(sa.select(DutyCycle).where(
        DutyCycle.duty == "annual_report", DutyCycle.instance_id != task.instance_id)).first())
    assert far is not None
    far.due_at = exact + timedelta(days=3)  # extended on purpose: left alone
    db.session.flush()
    migration = _migration()
    migration.put_on_exact_instants(db.session.connection())
    db.session.expire_all()
    assert task.due_at == exact and task.next_escalation_at == exact + timedelta(days=1)
    assert far.due_at == exact + timedelta(days=3)
