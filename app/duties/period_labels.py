"""A duty cycle's period in words, in the reader's language: "2026年第4季度" / "Q4 2026", "2026年11月" /
"Nov 2026", "第48周 (11月23日至29日)" / "Week 48 (Nov 23 – 29)", instead of its key (``2026-Q4``, ``2026-11``,
``2026-W48``).

The dates come from CLDR through Babel's skeletons and intervals (``format_skeleton``, ``format_interval``):
each language's own order, separators and month names, which a table of our own would get wrong for the
next language. Only the half-year, which CLDR has no pattern for, and the week's number (ISO, as the key
counts it; CLDR's ``w`` is the locale's own week) are ours.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from babel.dates import format_interval, format_skeleton
from flask_babel import get_locale, gettext

from app.common.clock import local

_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_HALF_MONTH = re.compile(r"(\d{4})-(\d{2})([ab])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_HALF_YEAR = re.compile(r"(\d{4})-H([12])")
_YEAR = re.compile(r"(\d{4})")


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def period_label(key: str, started: datetime | None = None) -> str:
    """The period ``key`` (``app.duties.cycles``) in words; an on-demand cycle (``adhoc:...``) by the day it
    started; a key of no known shape (or no such date: ``2025-W53``) as it is."""
    try:
        return _label(key, started)
    except ValueError:
        return key


def _label(key: str, started: datetime | None) -> str:
    locale = get_locale() or "zh_CN"
    if match := _WEEK.fullmatch(key):
        year, week = int(match[1]), int(match[2])
        monday = date.fromisocalendar(year, week, 1)
        days = format_interval(monday, monday + timedelta(days=6), "MMMd", locale=locale)
        return gettext("Week %(week)s (%(days)s)", week=week, days=days)
    if match := _HALF_MONTH.fullmatch(key):
        year, month = int(match[1]), int(match[2])
        first, last = (1, 15) if match[3] == "a" else (16, _month_end(year, month).day)
        return format_interval(date(year, month, first), date(year, month, last), "yMMMd", locale=locale)
    if match := _MONTH.fullmatch(key):
        return format_skeleton("yMMM", date(int(match[1]), int(match[2]), 1), locale=locale)
    if match := _QUARTER.fullmatch(key):
        return format_skeleton("yQQQ", date(int(match[1]), 3 * int(match[2]) - 2, 1), locale=locale)
    if match := _HALF_YEAR.fullmatch(key):
        year = int(match[1])
        return (gettext("First half of %(year)s", year=year) if match[2] == "1"
                else gettext("Second half of %(year)s", year=year))
    if match := _YEAR.fullmatch(key):
        return format_skeleton("y", date(int(match[1]), 1, 1), locale=locale)
    if key.startswith("adhoc:") and started is not None:
        day = format_skeleton("yMMMd", local(started).date(), locale=locale)
        return gettext("On demand, %(day)s", day=day)
    return key
