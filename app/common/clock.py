"""The one source of "now" (so tests and operators can run the platform as of a given time) and of the
county's time zone: every conversion to county-local time goes through ``county_zone``/``local``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand (``clock.advance(hours=2)``)."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)
        return self.at


def now() -> datetime:
    """Current UTC time from the app's clock (the system clock outside an app)."""
    if has_app_context():
        clock = current_app.extensions.get("liandong.clock")
        if clock is not None:
            return clock.now()
    return datetime.now(UTC)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def county_zone() -> ZoneInfo:
    """The county's time zone (setting ``LIANDONG_TIMEZONE``; validated at start-up): working days,
    deadlines at 17:30, "today", digests and the dashboard's days are all counted in it."""
    return _zone(str(current_app.config["LIANDONG"].county_timezone))


def local(at: datetime) -> datetime:
    """``at`` (aware) in county time; a naive value is refused, as the database refuses it."""
    if at.tzinfo is None:
        raise ValueError("local() needs an aware datetime")
    return at.astimezone(county_zone())


def local_today() -> date:
    """Today's date in the county, by the app's clock."""
    return local(now()).date()


def is_past_due(due: datetime | None, at: datetime) -> bool:
    """The one rule for "its time has come", on the app's clock (``now()``): a deadline of 17:30:00 is
    overdue from 17:30:00 on. The escalation sweep takes a step at the same instant (``past_due`` in
    SQL), so the API, the pages and the dashboards never call a task overdue that the sweep has not
    treated as overdue, or the other way round."""
    return due is not None and due <= at


def past_due(column: Any, at: datetime) -> Any:
    """``is_past_due`` as a SQL condition on a timestamp column (lists, counts, the sweep's batch)."""
    return column <= at


def instant(moment: datetime) -> str:
    """An exact instant as a deadline property takes it: ISO 8601 in county time with its offset
    (``2026-11-01T00:00:00+08:00``). ``app.deadlines.calendar.compute_due`` reads it back exactly, where a
    duration counted from "now" lost the fraction of a second and the time between two calls."""
    return local(moment).isoformat()
