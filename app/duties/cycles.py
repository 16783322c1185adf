"""Cycle periods in the county's local time (pure Python: no Flask, no database).

Every recurring duty runs once per period of its cadence. A period has a key
(stored in ``duty_cycle.period`` and part of its unique constraint), a local
start and a local end (exclusive); the end is the cycle's due time.

=============  ==================  =======================================
cadence        key                 period
=============  ==================  =======================================
weekly         ``2026-W11``        ISO week, Monday 00:00 to next Monday
semimonthly    ``2026-03a``/``b``  days 1-15 / 16 to the end of the month
monthly        ``2026-03``         calendar month
quarterly      ``2026-Q1``         calendar quarter
semiannual     ``2026-H1``         January-June / July-December
annual         ``2026``            calendar year
=============  ==================  =======================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

CADENCES = ("weekly", "semimonthly", "monthly", "quarterly", "semiannual", "annual")
"""From the most to the least frequent; ``none`` (in the frequency table) switches a duty off."""

APPROX_DAYS = {"weekly": 7, "semimonthly": 15, "monthly": 30, "quarterly": 91, "semiannual": 182, "annual": 365}


@dataclass(frozen=True)
class Period:
    key: str
    start: datetime
    """Local, aware."""
    end: datetime
    """Local, aware, exclusive: the cycle is due at this moment."""


def _at_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def _month_start(year: int, month: int) -> date:
    while month > 12:
        year, month = year + 1, month - 12
    return date(year, month, 1)


def period_of(cadence: str, at: datetime, tz: tzinfo) -> Period:
    """The period of ``cadence`` containing the instant ``at``, in the timezone ``tz``."""
    local = at.astimezone(tz)
    day = local.date()
    if cadence == "weekly":
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return Period(f"{year}-W{week:02d}", _at_midnight(monday, tz), _at_midnight(monday + timedelta(days=7), tz))
    if cadence == "semimonthly":
        first = day.replace(day=1)
        sixteenth = day.replace(day=16)
        if day < sixteenth:
            return Period(f"{day:%Y-%m}a", _at_midnight(first, tz), _at_midnight(sixteenth, tz))
        return Period(f"{day:%Y-%m}b", _at_midnight(sixteenth, tz),
                      _at_midnight(_month_start(day.year, day.month + 1), tz))
    if cadence == "monthly":
        return Period(f"{day:%Y-%m}", _at_midnight(day.replace(day=1), tz),
                      _at_midnight(_month_start(day.year, day.month + 1), tz))
    if cadence == "quarterly":
        q = (day.month - 1) // 3
        return Period(f"{day.year}-Q{q + 1}", _at_midnight(date(day.year, 3 * q + 1, 1), tz),
                      _at_midnight(_month_start(day.year, 3 * q + 4), tz))
    if cadence == "semiannual":
        h = (day.month - 1) // 6
        return Period(f"{day.year}-H{h + 1}", _at_midnight(date(day.year, 6 * h + 1, 1), tz),
                      _at_midnight(_month_start(day.year, 6 * h + 7), tz))
    if cadence == "annual":
        return Period(f"{day.year}", _at_midnight(date(day.year, 1, 1), tz), _at_midnight(date(day.year + 1, 1, 1), tz))
    raise ValueError(f"unknown cadence {cadence!r} (known: {', '.join(CADENCES)})")


def most_frequent(cadences: list[str]) -> str | None:
    """The most frequent of ``cadences`` (a key child's rule wins over the default), or None."""
    known = [c for c in cadences if c in APPROX_DAYS]
    return min(known, key=lambda c: APPROX_DAYS[c]) if known else None
