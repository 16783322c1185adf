"""Admin calendar overrides feed due times; reminders of working-day deadlines stay in office hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.deadlines.arithmetic import WorkingCalendar, due_at, parse_deadline, remind_at
from app.deadlines.calendar import WORKDAY_START, compute_due, office_hours_reminder, year_view

TZ = ZoneInfo("Asia/Shanghai")


def test_cli_sets_and_shows_overrides_and_warns_about_unknown_years(app: Any, ctx: Any) -> None:
    runner = app.test_cli_runner()
    shown = runner.invoke(args=["calendar", "show", "2027"])
    assert shown.exit_code == 0 and "WARNING" in shown.output and "Monday-Friday" in shown.output
    assert "WARNING" not in runner.invoke(args=["calendar", "show", "2026"]).output
    out = runner.invoke(args=["calendar", "set", "2027-02-06", "workday", "--note", "春节调休"])
    assert out.exit_code == 0, out.output
    assert runner.invoke(args=["calendar", "set", "2027-02-08", "holiday", "--note", "春节"]).exit_code == 0
    shown = runner.invoke(args=["calendar", "show", "2027"]).output
    assert "2027-02-06 workday  春节调休" in shown and "2027-02-08 holiday  春节" in shown
    assert "weekend working days: 02-06" in shown and "02-08" in shown.split("weekday holidays:")[1]
    view = year_view(2027)
    assert date(2027, 2, 6) in view.workdays_on_weekends and not view.known_to_library
    assert runner.invoke(args=["calendar", "set", "2027-13-01", "workday"]).exit_code != 0
    assert "removed" in runner.invoke(args=["calendar", "clear", "2027-02-08"]).output


def test_overrides_move_working_day_due_times(app: Any, ctx: Any) -> None:
    friday = datetime(2027, 2, 5, 10, 0, tzinfo=TZ)  # 2027: unknown to the library, Monday-Friday fallback
    due, _ = compute_due(friday, "1WD")
    assert due == datetime(2027, 2, 8, 17, 30, tzinfo=TZ)  # Monday
    runner = app.test_cli_runner()
    runner.invoke(args=["calendar", "set", "2027-02-06", "workday"])  # Saturday make-up day
    due, _ = compute_due(friday, "1WD")
    assert due == datetime(2027, 2, 6, 17, 30, tzinfo=TZ)
    runner.invoke(args=["calendar", "set", "2027-02-06", "holiday"])
    runner.invoke(args=["calendar", "set", "2027-02-08", "holiday"])
    due, _ = compute_due(friday, "1WD")
    assert due == datetime(2027, 2, 9, 17, 30, tzinfo=TZ)


def test_reminders_of_working_day_deadlines_avoid_night_and_rest_days(ctx: Any) -> None:
    # 2WD from Friday 2025-10-10 16:00: due Monday 10-13 17:30 (Saturday 10-11 is a make-up working day).
    start = datetime(2025, 10, 10, 16, 0, tzinfo=TZ)
    due, remind = compute_due(start, "2WD")
    assert due == datetime(2025, 10, 13, 17, 30, tzinfo=TZ)
    raw = remind_at(start, due)
    assert raw.astimezone(TZ).date() == date(2025, 10, 12)  # the 75% point falls on Sunday
    assert remind.astimezone(TZ) == datetime(2025, 10, 13, 8, 30, tzinfo=TZ)  # Monday morning instead
    # Elapsed-time deadlines are around the clock: a PT4H police step at 23:00 is reminded at 02:00.
    late = datetime(2026, 3, 10, 23, 0, tzinfo=TZ)
    _, remind = compute_due(late, "PT4H")
    assert remind.astimezone(TZ).time() == time(2, 0)


@settings(max_examples=150, deadline=None)
@given(start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(UTC)),
       days=st.integers(min_value=1, max_value=15))
def test_office_hours_reminder_properties(start: datetime, days: int) -> None:
    calendar = WorkingCalendar()
    due = due_at(start, parse_deadline(f"{days}WD"), TZ, calendar)
    remind = office_hours_reminder(remind_at(start, due), due, TZ, calendar)
    local = remind.astimezone(TZ)
    assert remind <= due and remind.tzinfo is UTC
    assert calendar.is_workday(local.date())
    assert WORKDAY_START <= local.time() <= calendar.workday_end
    assert remind >= min(remind_at(start, due), datetime.combine(due.astimezone(TZ).date(), WORKDAY_START, TZ))
    assert due - remind < timedelta(days=days + 12)
