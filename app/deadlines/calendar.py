"""The county's working calendar: admin overrides stored in the database.

``chinese_calendar`` knows the State Council's holiday schedule only for the
years it was released with; each December the schedule for the next year is
published, and a county enters it (``flask calendar set 2027-02-06 workday``)
until the library is upgraded. Overrides also correct local deviations: a county's own overrides
(``--county c02``) apply to its cases on top of the deployment's. The
arithmetic itself lives in ``deadlines.py`` (pure, property-tested); this
module feeds it the stored overrides and keeps reminders in office hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa

from app.common.clock import county_zone, now
from app.extensions import db

from .arithmetic import DeadlineSyntaxError, WorkingCalendar, due_at, parse_deadline, remind_at
from .models import ANY, CalendarDay

WORKDAY_START = time(8, 30)
"""Local time a reminder for a working-day deadline is moved to when it would fall at night or on a rest day."""


def working_calendar(county: str = ANY) -> WorkingCalendar:
    """The library's calendar with the deployment's stored overrides and then ``county``'s own applied."""
    return CountyCalendars()(county)


class CountyCalendars:
    """Every stored override read at once (a few hundred rows), each county's calendar built from them.

    A county's override of a day wins over the deployment's for that day. ``counties`` says which counties
    have overrides of their own, so a caller asks which county a case is in only when it can matter.
    """

    def __init__(self, rows: Iterable[tuple[str, date, bool]] | None = None) -> None:
        """``rows``: (county, day, is_workday) as stored, when the caller read them already
        (``deadlines.stored_settings``); else read here."""
        self._deployment: dict[date, bool] = {}
        self._own: dict[str, dict[date, bool]] = {}
        if rows is None:
            rows = db.session.execute(sa.select(CalendarDay.county, CalendarDay.day, CalendarDay.is_workday))
        for county, day, working in rows:
            (self._deployment if county == ANY else self._own.setdefault(county, {}))[day] = bool(working)
        self._calendars: dict[str, WorkingCalendar] = {}

    @property
    def counties(self) -> frozenset[str]:
        return frozenset(self._own)

    def __call__(self, county: str = ANY) -> WorkingCalendar:
        key = county if county in self._own else ANY
        if key not in self._calendars:
            self._calendars[key] = WorkingCalendar({**self._deployment, **self._own.get(key, {})})
        return self._calendars[key]


def set_day(day: date, is_workday: bool, note: str = "", by_id: int | None = None,
            county: str = ANY) -> CalendarDay:
    """Create or replace the override for ``day`` (for one county, or ``*`` for all). Flushes; the caller commits.

    Deadlines already computed keep their times: a task's due time is fixed when
    it becomes ready, like a deadline written on a paper form.
    """
    row = db.session.get(CalendarDay, (county, day))
    if row is None:
        row = CalendarDay(county=county, day=day)
        db.session.add(row)
    row.is_workday = is_workday
    row.note = note
    row.updated_at = now()
    row.updated_by_id = by_id
    db.session.flush()
    return row


def clear_day(day: date, county: str = ANY) -> bool:
    """Remove the override for ``day`` (back to the library / Monday-Friday); True if one existed."""
    row = db.session.get(CalendarDay, (county, day))
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True


@dataclass(frozen=True)
class YearView:
    """What ``flask calendar show YEAR`` prints."""

    year: int
    known_to_library: bool
    overrides: list[CalendarDay]
    rest_days_on_weekdays: list[date]
    workdays_on_weekends: list[date]


def year_view(year: int, county: str = ANY) -> YearView:
    calendar = working_calendar(county)
    overrides = list(db.session.scalars(sa.select(CalendarDay).where(CalendarDay.county.in_({ANY, county}),
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day)))
    rest, extra = [], []
    day = date(year, 1, 1)
    while day.year == year:
        working = calendar.is_workday(day)
        if day.weekday() < 5 and not working:
            rest.append(day)
        elif day.weekday() >= 5 and working:
            extra.append(day)
        day += timedelta(days=1)
    return YearView(year, WorkingCalendar.is_year_known(year), overrides, rest, extra)


def office_hours_reminder(remind: datetime, due: datetime, tz: tzinfo, calendar: WorkingCalendar) -> datetime:
    """Move a working-day deadline's reminder out of the night and off rest days.

    A reminder computed for 02:00 or for a Sunday would be read at the start of
    the next working day anyway, so it is sent then (08:30 local). If that is
    not before the due time, the reminder is sent at 08:30 on the due day
    itself (a working day for every ``NWD`` deadline), and never after ``due``.
    """
    local = remind.astimezone(tz)
    end = calendar.workday_end
    if calendar.is_workday(local.date()) and WORKDAY_START <= local.time() <= end:
        return remind
    day = local.date()
    if calendar.is_workday(day) and local.time() < WORKDAY_START:
        candidate_day = day
    else:
        candidate_day = day + timedelta(days=1)
        while not calendar.is_workday(candidate_day):
            candidate_day += timedelta(days=1)
    candidate = datetime.combine(candidate_day, WORKDAY_START, tzinfo=tz)
    if candidate >= due:
        due_day = due.astimezone(tz).date()
        candidate = datetime.combine(due_day, WORKDAY_START, tzinfo=tz)
    return min(candidate, due).astimezone(UTC)


def absolute_deadline(text: str, tz: tzinfo, calendar: WorkingCalendar) -> datetime | None:
    """An ISO date (due at the end of that working day) or aware/naive-local ISO datetime, else None."""
    value = text.strip().strip("'\"")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, calendar.workday_end, tzinfo=tz).astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def compute_due(created: datetime, deadline: str | None,
                calendar: WorkingCalendar | None = None) -> tuple[datetime | None, datetime | None]:
    """(due_at, remind_at) for a deadline property; a deadline already past is simply overdue.

    Besides durations and working days, an ``=expression`` deadline may give an
    absolute date or datetime (a conference decision "by 2027-03-01"); a date
    means the end of that working day. Reminders of working-day deadlines are
    kept in office hours (``calendar.office_hours_reminder``).
    """
    if not deadline:
        return None, None
    tz = county_zone()
    calendar = calendar or working_calendar()
    try:
        parsed = parse_deadline(deadline)
    except DeadlineSyntaxError:
        fixed = absolute_deadline(deadline, tz, calendar)
        if fixed is None:
            return None, None  # refused at deploy; an old version's bad value must not block the case
        return fixed, remind_at(created, fixed)
    due = due_at(created, parsed, tz, calendar)
    remind = remind_at(created, due)
    if parsed.is_working_days:
        remind = office_hours_reminder(remind, due, tz, calendar)
    return due, remind
