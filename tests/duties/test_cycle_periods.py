"""Cycle periods in the county's timezone, the scheduler's command line, and engine-level cancellation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.duties.cycles import most_frequent, period_of
from app.duties.models import DutyCycle
from app.extensions import db

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("cadence", "at", "key", "start", "end"), [
    # Sunday 23:30 in the county is still last week, though it is already Sunday 15:30 UTC...
    ("weekly", datetime(2026, 3, 15, 15, 30, tzinfo=UTC), "2026-W11", "2026-03-09", "2026-03-16"),
    # ...and Monday 00:30 county time is the new week while UTC still says Sunday.
    ("weekly", datetime(2026, 3, 15, 16, 30, tzinfo=UTC), "2026-W12", "2026-03-16", "2026-03-23"),
    ("weekly", datetime(2027, 1, 1, 4, tzinfo=UTC), "2026-W53", "2026-12-28", "2027-01-04"),
    ("semimonthly", datetime(2026, 2, 15, 16, tzinfo=UTC), "2026-02b", "2026-02-16", "2026-03-01"),
    ("semimonthly", datetime(2026, 12, 31, 4, tzinfo=UTC), "2026-12b", "2026-12-16", "2027-01-01"),
    ("monthly", datetime(2026, 1, 31, 16, tzinfo=UTC), "2026-02", "2026-02-01", "2026-03-01"),
    ("quarterly", datetime(2026, 11, 5, tzinfo=UTC), "2026-Q4", "2026-10-01", "2027-01-01"),
    ("semiannual", datetime(2026, 6, 30, 16, tzinfo=UTC), "2026-H2", "2026-07-01", "2027-01-01"),
    ("annual", datetime(2026, 12, 31, 16, tzinfo=UTC), "2027", "2027-01-01", "2028-01-01"),
])
def test_periods_are_counted_in_county_time(cadence: str, at: datetime, key: str, start: str, end: str) -> None:
    period = period_of(cadence, at, TZ)
    assert period.key == key
    assert period.start == datetime.fromisoformat(start).replace(tzinfo=TZ)
    assert period.end == datetime.fromisoformat(end).replace(tzinfo=TZ)
    assert period.start <= at < period.end


def test_most_frequent_wins() -> None:
    assert most_frequent(["monthly", "semimonthly", "semiannual"]) == "semimonthly"
    assert most_frequent(["none"]) is None
    now = datetime(2026, 3, 9, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        period_of("fortnightly", now, TZ)


def test_flask_duties_run_is_idempotent(app: Any, demo: Any) -> None:
    from duty_helpers import enrolled

    enrolled("命令行")
    db.session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["duties", "run", "--at", "2026-03-09T09:00:00+08:00"])
    assert first.exit_code == 0, first.output
    # contact, visit and assessment of the child, each demo county's quarterly data comparison and the child's
    # village's quarterly verification
    assert "started 6 duty cycle(s)" in first.output
    again = runner.invoke(args=["duties", "run", "--at", "2026-03-09T09:00:00+08:00"])
    assert "started 0 duty cycle(s)" in again.output
    assert runner.invoke(args=["duties", "run", "--at", "2026-03-09T09:00"]).exit_code != 0  # no offset
    rules = runner.invoke(args=["duties", "frequencies"])
    assert "home_visit" in rules.output and "semimonthly" in rules.output
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count(DutyCycle.id))) == 6


def test_cancel_is_idempotent_and_leaves_nothing_open(demo: Any, clock: Any) -> None:
    from duty_helpers import enrolled, open_task_of

    from app.duties.scheduler import start_due_duties
    from app.processes.models import ProcessInstance
    from app.workflow import commands as runtime

    clock.at = datetime(2026, 3, 9, 1, tzinfo=UTC)
    enrolled("撤回")
    start_due_duties(clock.at)
    cycle = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "home_visit")).one()
    task = open_task_of(cycle)
    instance = db.session.get(ProcessInstance, cycle.instance_id)
    runtime.cancel(instance, None, "测试撤回")
    version = instance.version
    runtime.cancel(instance, None, "再次撤回")
    db.session.commit()
    assert instance.status == "cancelled" and instance.version == version
    assert task.state == "cancelled" and open_task_of(cycle) is None
