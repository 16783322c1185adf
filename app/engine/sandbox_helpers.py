"""Pure helper functions every process script may call (the engine adds its own on top)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any


def _parse_iso(value: str) -> date | datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def days_between(iso_a: str, iso_b: str) -> int:
    """Whole days from ``iso_a`` to ``iso_b`` (negative when b is earlier).

    Two dates (``"2026-03-10"``) compare as calendar dates; datetimes must carry
    an offset (naive times would be read in server-local time) and count whole
    24-hour periods.
    """
    a, b = _parse_iso(iso_a), _parse_iso(iso_b)
    if isinstance(a, datetime) or isinstance(b, datetime):
        if not (isinstance(a, datetime) and isinstance(b, datetime)):
            raise ValueError("days_between: compare two dates or two datetimes, not one of each")
        if a.tzinfo is None or b.tzinfo is None:
            raise ValueError("days_between: datetimes need a UTC offset, e.g. 2026-03-10T09:00:00+08:00")
    return (b - a).days  # type: ignore[operator]


def add_days(iso_date: str, n: int) -> str:
    """``iso_date`` plus ``n`` days, in the same ISO form (date stays date, offset is kept)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("add_days: n must be a whole number of days")
    return (_parse_iso(iso_date) + timedelta(days=n)).isoformat()


def contains_any(seq: Any, items: Iterable[Any]) -> bool:
    """True when any of ``items`` is in ``seq`` (a list, set, dict's keys, or substrings of a string)."""
    return any(item in seq for item in items)


DEFAULT_HELPERS: dict[str, Callable[..., Any]] = {
    "days_between": days_between,
    "add_days": add_days,
    "contains_any": contains_any,
}
"""Pure helpers every process may call; the engine adds its own (``now_utc`` ...) on top."""
