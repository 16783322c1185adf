"""Quiet hours on the county calendar: SMS and work-chat messages wait for working time, except urgent ones.

Working time is what the deadlines count in: a working day of the county's calendar (holidays and make-up
days, the county's own overrides), from 08:30 (``calendar.WORKDAY_START``) to the end of the working day
(17:30). A message that would arrive at night, at a weekend or on a holiday is held until working time
starts again; the sweep sends it then.

Urgent: a notification about a step whose deadline is elapsed time (``PT1H``, ``P1D``: the "at the first
moment" steps, 第一时间, which run around the clock like their reminders) is sent at once, whatever the
hour. Working-day steps (``3WD``) and notes about no task wait. A user may also turn quiet hours off.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.cases.models import Case
from app.common.clock import county_zone
from app.extensions import db
from app.notifications.delivery import Context
from app.notifications.models import Notification
from app.org.models import Unit, User
from app.org.queries import county_code_for
from app.tasks.models import Task

from .arithmetic import DeadlineSyntaxError, WorkingCalendar, parse_deadline
from .calendar import WORKDAY_START, working_calendar


def working_time_from(at: datetime, calendar: WorkingCalendar) -> datetime | None:
    """None when ``at`` is working time; else the moment working time starts again (UTC)."""
    tz = county_zone()
    local = at.astimezone(tz)
    day = local.date()
    if calendar.is_workday(day) and WORKDAY_START <= local.time() < calendar.workday_end:
        return None
    if not (calendar.is_workday(day) and local.time() < WORKDAY_START):
        day += timedelta(days=1)
        while not calendar.is_workday(day):
            day += timedelta(days=1)
    return datetime.combine(day, WORKDAY_START, tzinfo=tz).astimezone(UTC)


def is_urgent(task: Task | None) -> bool:
    """A step with an elapsed-time deadline (hours, around the clock): the "first moment" steps."""
    if task is None or not task.deadline:
        return False
    try:
        return not parse_deadline(task.deadline).is_working_days
    except DeadlineSyntaxError:
        return False


def _county(user_id: int, case: Case | None) -> str:
    """The calendar's county: the recipient's own (their jurisdiction or unit), else the case's."""
    user = db.session.get(User, user_id)
    region_id = None
    if user is not None:
        region_id = user.region_id
        if region_id is None and user.unit_id is not None:
            unit = db.session.get(Unit, user.unit_id)
            region_id = unit.region_id if unit is not None else None
    if region_id is None and case is not None:
        region_id = case.region_id
    return county_code_for(region_id)


def describe(note: Notification, quiet: bool, at: datetime) -> Context:
    """The delivery's ``Context`` (``app.notifications.delivery.Describe``): the case number, and until when
    quiet hours hold the message (None: now)."""
    case = db.session.get(Case, note.case_id) if note.case_id is not None else None
    number = case.number if case is not None else None
    if not quiet:
        return Context(number, None)
    task = db.session.get(Task, note.task_id) if note.task_id is not None else None
    if is_urgent(task):
        return Context(number, None)
    return Context(number, working_time_from(at, working_calendar(_county(note.user_id, case))))
