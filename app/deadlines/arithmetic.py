"""Business-calendar deadline arithmetic for user tasks (pure Python: no Flask, no database).

A user task's ``deadline`` property (DESIGN.md, "Deadlines and escalation") is one of:

* an ISO 8601 duration -- ``PT1H``, ``PT30M``, ``P3D``, ``P1DT12H``, ``P2W`` -- counted as
  *elapsed* time, around the clock and blind to the calendar. "Contact the child at the first
  moment" steps are measured in hours, and an hour is an hour on a Sunday or during Spring Festival.
* a number of *working days* -- ``3WD``, ``1WD`` (``3wd`` too) -- counted on the Chinese official
  calendar (public holidays are off, the make-up working days 调休 are on) in the county's timezone.

Months and years (``P1M``, ``P1Y``) are refused: they are not a fixed length, and a task deadline
that silently means 28 or 31 days depending on the start date is a trap. Write ``P30D`` or ``20WD``.
Zero deadlines are refused (``0WD``, ``PT0S``), as are absurdly long ones (over ten years) which are
far more likely to be typos than intent.

The working-day rule
--------------------
The due time of an ``NWD`` deadline is ``workday_end`` (17:30 by default) local time on the Nth
working day *strictly after* the local date of the start. The time of day of the start does not
matter: a report at 00:05 and one at 23:55 on the same local day get the same due time, so the unit
always has N full working days and never a fraction of one. A report on a rest day counts from
that day too, so ``1WD`` reported on a Sunday is due on Monday evening.

Worked example (timezone ``Asia/Shanghai``, the 2025 National Day schedule: 2025-09-28 (Sunday) and
2025-10-11 (Saturday) are make-up working days, 2025-10-01..08 are off):

* A report at 2025-09-30 15:00 (Tuesday, the last working day before the holiday) with ``1WD``:
  the first working day after 09-30 is Thursday 10-09, so it is due 2025-10-09 17:30 +08:00,
  which ``due_at`` returns as 2025-10-09 09:30 UTC.
* A report at 2025-10-10 09:00 (Friday) with ``2WD``: Saturday 10-11 is a make-up working day
  (the first), Sunday 10-12 is off, Monday 10-13 is the second: due 2025-10-13 17:30 local.
* A report at 2025-10-14 09:00 (an ordinary Tuesday) with ``1WD`` is due Wednesday 17:30.

The calendar comes from the ``chinese_calendar`` library, which only knows the years for which the
State Council has published a schedule. For other years ``WorkingCalendar`` falls back to
Monday-Friday; admins enter the new schedule as overrides (``{date: is_workday}``) until the library
is upgraded, and ``WorkingCalendar.known_years()`` / ``is_year_known()`` show which years need them.
"""

from __future__ import annotations

import ast
import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from types import MappingProxyType

import chinese_calendar

__all__ = [
    "MAX_DURATION",
    "MAX_WORKING_DAYS",
    "Deadline",
    "DeadlineSyntaxError",
    "WorkingCalendar",
    "add_working_days",
    "due_at",
    "parse_deadline",
    "remind_at",
    "working_days_between",
]

#: Longest fixed duration accepted; anything longer is almost certainly a typo in a BPMN property.
MAX_DURATION = timedelta(days=3660)
#: Largest working-day count accepted (about ten years), for the same reason.
MAX_WORKING_DAYS = 2500

_ACCEPTED_FORMS = (
    "an ISO 8601 duration such as PT1H, PT30M, P3D, P1DT12H or P2W, or a number of working days such as 3WD"
)
_MAX_TEXT_LENGTH = 100

_WORKING_DAYS_RE = re.compile(r"([0-9]{1,12})WD")
_DURATION_RE = re.compile(
    r"P(?:(?P<years>[0-9]{1,12})Y)?(?:(?P<months>[0-9]{1,12})M)?"
    r"(?:(?P<weeks>[0-9]{1,12})W)?(?:(?P<days>[0-9]{1,12})D)?"
    r"(?P<time>T(?:(?P<hours>[0-9]{1,12})H)?(?:(?P<minutes>[0-9]{1,12})M)?"
    r"(?:(?P<seconds>[0-9]{1,12}(?:[.,][0-9]{1,6})?)S)?)?"
)


class DeadlineSyntaxError(ValueError):
    """A task ``deadline`` property that cannot be understood.

    A ``ValueError`` so callers validating BPMN uploads can catch either; the message names the
    offending text and the accepted forms so a process author can fix it without reading code.
    """

    def __init__(self, text: object, reason: str | None = None) -> None:
        shown = repr(text)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        message = f"invalid deadline {shown}"
        if reason:
            message += f": {reason}"
        message += f"; expected {_ACCEPTED_FORMS}"
        super().__init__(message)
        self.text = text
        self.reason = reason


@dataclass(frozen=True)
class Deadline:
    """A parsed task deadline: exactly one of a fixed ``duration`` or a count of ``working_days``.

    Frozen and hashable so it can be cached per process definition and compared in tests.
    ``str()`` gives the canonical text, which ``parse_deadline`` reads back to an equal value.
    """

    duration: timedelta | None = None
    working_days: int | None = None

    def __post_init__(self) -> None:
        if (self.duration is None) == (self.working_days is None):
            raise ValueError("a Deadline needs exactly one of duration or working_days")
        if self.duration is not None:
            if not isinstance(self.duration, timedelta):
                raise TypeError(f"duration must be a timedelta, not {type(self.duration).__name__}")
            if not timedelta(0) < self.duration <= MAX_DURATION:
                raise ValueError(f"duration must be positive and at most {MAX_DURATION.days} days")
        if self.working_days is not None:
            if isinstance(self.working_days, bool) or not isinstance(self.working_days, int):
                raise TypeError(f"working_days must be an int, not {type(self.working_days).__name__}")
            if not 1 <= self.working_days <= MAX_WORKING_DAYS:
                raise ValueError(f"working_days must be between 1 and {MAX_WORKING_DAYS}")

    @property
    def is_working_days(self) -> bool:
        """True for ``NWD`` deadlines, which need a calendar and timezone to resolve."""
        return self.working_days is not None

    def __str__(self) -> str:
        if self.working_days is not None:
            return f"{self.working_days}WD"
        assert self.duration is not None
        return _format_duration(self.duration)


def _format_duration(value: timedelta) -> str:
    """Canonical ISO 8601 text for a positive timedelta (days and time parts, no weeks)."""
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P"
    if value.days:
        out += f"{value.days}D"
    if hours or minutes or seconds or value.microseconds:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if value.microseconds:
            fraction = f"{value.microseconds:06d}".rstrip("0")
            out += f"{seconds}.{fraction}S"
        elif seconds:
            out += f"{seconds}S"
    return out


def parse_deadline(text: str) -> Deadline:
    """Parse a BPMN ``deadline`` property into a :class:`Deadline`.

    Accepts ``PT1H``-style ISO 8601 durations and ``3WD`` working days, case-insensitively, with
    surrounding whitespace, and also as a quoted Python string literal (``"P5D"``, ``'3WD'``)
    because authors used to SpiffWorkflow timer expressions habitually quote them. Full-width
    characters typed through a Chinese input method (``３ＷＤ``) are normalised first.

    Raises :class:`DeadlineSyntaxError` for anything else, including months/years, zero, and
    values beyond :data:`MAX_DURATION` / :data:`MAX_WORKING_DAYS`.
    """
    original = text
    if not isinstance(text, str):
        raise DeadlineSyntaxError(original, f"expected a string, got {type(text).__name__}")
    if len(text) > _MAX_TEXT_LENGTH:
        raise DeadlineSyntaxError(original, "too long")
    text = unicodedata.normalize("NFKC", text).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            unquoted = ast.literal_eval(text)
        except (SyntaxError, ValueError) as exc:
            raise DeadlineSyntaxError(original, "malformed quoted string") from exc
        if not isinstance(unquoted, str):
            raise DeadlineSyntaxError(original, "malformed quoted string")
        text = unquoted.strip()
    if not text:
        raise DeadlineSyntaxError(original, "empty")
    text = text.upper()

    match = _WORKING_DAYS_RE.fullmatch(text)
    if match:
        count = int(match.group(1))
        if count < 1:
            raise DeadlineSyntaxError(original, "working days must be at least 1")
        if count > MAX_WORKING_DAYS:
            raise DeadlineSyntaxError(original, f"more than {MAX_WORKING_DAYS} working days")
        return Deadline(working_days=count)

    match = _DURATION_RE.fullmatch(text)
    if not match:
        raise DeadlineSyntaxError(original)
    parts = match.groupdict()
    if parts["years"] is not None or parts["months"] is not None:
        raise DeadlineSyntaxError(
            original,
            "months and years are not a fixed length; use days (P30D) or working days (20WD)",
        )
    units = ("weeks", "days", "hours", "minutes", "seconds")
    if all(parts[unit] is None for unit in units):
        raise DeadlineSyntaxError(original, "no duration components")
    if parts["time"] is not None and all(parts[u] is None for u in ("hours", "minutes", "seconds")):
        raise DeadlineSyntaxError(original, "'T' must be followed by hours, minutes or seconds")

    seconds = Decimal((parts["seconds"] or "0").replace(",", "."))
    whole_seconds = int(seconds)
    microseconds = int((seconds - whole_seconds) * 1_000_000)
    days = 7 * int(parts["weeks"] or 0) + int(parts["days"] or 0)
    total_seconds = 3600 * int(parts["hours"] or 0) + 60 * int(parts["minutes"] or 0) + whole_seconds
    # Compare in plain integers first: a huge component would overflow timedelta itself.
    if days * 86400 + total_seconds > MAX_DURATION.total_seconds():
        raise DeadlineSyntaxError(original, f"longer than {MAX_DURATION.days} days")
    duration = timedelta(days=days, seconds=total_seconds, microseconds=microseconds)
    if duration <= timedelta(0):
        raise DeadlineSyntaxError(original, "the duration must be longer than zero")
    if duration > MAX_DURATION:
        raise DeadlineSyntaxError(original, f"longer than {MAX_DURATION.days} days")
    return Deadline(duration=duration)


def _library_years() -> range:
    """Years chinese_calendar has official data for, derived the same way the library checks."""
    from chinese_calendar import constants

    years = [d.year for d in constants.holidays] + [d.year for d in constants.workdays]
    return range(min(years), max(years) + 1)


_LIBRARY_YEARS = _library_years()


@functools.lru_cache(maxsize=16384)
def _library_is_workday(day: date) -> bool | None:
    """The library's answer, or None for a year it has no data for (it raises NotImplementedError).

    Cached because the library re-derives its supported range on every call and deadline
    arithmetic walks day by day.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


class WorkingCalendar:
    """Which days are working days: admin overrides, else the official calendar, else Mon-Fri.

    ``overrides`` maps a date to True (working) or False (rest); they win over the library so an
    admin can enter the State Council's schedule for a year before the library knows it (or
    correct a local deviation). ``workday_end`` is the local time a working-day deadline falls
    due on its last day.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        workday_end: time = time(17, 30),
    ) -> None:
        checked: dict[date, bool] = {}
        for day, working in (overrides or {}).items():
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"override keys must be dates, got {day!r}")
            if not isinstance(working, bool):
                raise TypeError(f"override for {day.isoformat()} must be a bool, got {working!r}")
            checked[day] = working
        if not isinstance(workday_end, time):
            raise TypeError(f"workday_end must be a datetime.time, got {workday_end!r}")
        if workday_end.tzinfo is not None:
            raise ValueError("workday_end must be a naive local time; the timezone is given to due_at")
        self._overrides: Mapping[date, bool] = MappingProxyType(checked)
        self.workday_end = workday_end

    @property
    def overrides(self) -> Mapping[date, bool]:
        """Read-only view of the overrides (a calendar is shared between requests; keep it immutable)."""
        return self._overrides

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar(overrides=<{len(self._overrides)} dates>, "
            f"workday_end={self.workday_end.isoformat()})"
        )

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day: override, else official calendar, else Monday-Friday.

        Takes a ``date``, not a ``datetime``: which calendar day an instant falls on depends on
        the timezone, so the caller must localise first.
        """
        if isinstance(d, datetime) or not isinstance(d, date):
            raise TypeError(f"is_workday takes a date, got {type(d).__name__}")
        override = self._overrides.get(d)
        if override is not None:
            return override
        official = _library_is_workday(d)
        if official is not None:
            return official
        return d.weekday() < 5

    @staticmethod
    def known_years() -> range:
        """Years the bundled chinese_calendar has the official schedule for.

        Overrides do not add to this: the calendar cannot tell whether an admin entered a whole
        year's schedule or one correction, so admin screens should show years outside this range
        (e.g. next year) as "falls back to Monday-Friday unless overridden".
        """
        return _LIBRARY_YEARS

    @classmethod
    def is_year_known(cls, year: int) -> bool:
        """Whether ``year`` is covered by the library (see :meth:`known_years`)."""
        return year in cls.known_years()

    def override_years(self) -> frozenset[int]:
        """Years that have at least one override, to show next to :meth:`known_years`."""
        return frozenset(day.year for day in self._overrides)


def add_working_days(day: date, n: int, calendar: WorkingCalendar) -> date:
    """The Nth working day strictly after ``day`` (``day`` itself for ``n == 0``).

    ``day`` need not be a working day. Negative ``n`` is refused rather than guessed at.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    one_day = timedelta(days=1)
    current = day
    remaining = n
    while remaining:
        current += one_day
        if calendar.is_workday(current):
            remaining -= 1
    return current


def working_days_between(a: date, b: date, calendar: WorkingCalendar) -> int:
    """Number of working days in the half-open interval ``(a, b]``; 0 when ``b <= a``.

    The inverse of :func:`add_working_days` (``working_days_between(d, add_working_days(d, n)) ==
    n``), so on-time reports can say how many working days a task took or how late it was.
    """
    one_day = timedelta(days=1)
    count = 0
    current = a
    while current < b:
        current += one_day
        if calendar.is_workday(current):
            count += 1
    return count


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def due_at(start: datetime, deadline: Deadline, tz: tzinfo, calendar: WorkingCalendar) -> datetime:
    """When a task started at ``start`` with ``deadline`` falls due, as an aware UTC datetime.

    Fixed durations are elapsed time (``start + duration`` on the UTC timeline, so a DST change
    in ``tz`` cannot stretch or shrink them). Working days follow the rule in the module
    docstring: ``calendar.workday_end`` local time in ``tz`` on the Nth working day strictly after
    the local start date. ``start`` must be timezone-aware; a naive one is refused because
    guessing its zone is how deadlines end up eight hours off.
    """
    _require_aware(start, "start")
    if not isinstance(deadline, Deadline):
        raise TypeError(f"deadline must be a Deadline, got {type(deadline).__name__}")
    if deadline.duration is not None:
        # Aware + timedelta is wall-clock arithmetic in Python; go through UTC for elapsed time.
        return start.astimezone(UTC) + deadline.duration
    assert deadline.working_days is not None
    local_day = start.astimezone(tz).date()
    last_day = add_working_days(local_day, deadline.working_days, calendar)
    return datetime.combine(last_day, calendar.workday_end, tzinfo=tz).astimezone(UTC)


def remind_at(start: datetime, due: datetime, fraction: float = 0.75) -> datetime:
    """When to remind the unit: once ``fraction`` of the ``start``..``due`` interval has elapsed.

    Elapsed time, not working time, to keep the reminder predictable. The result is in UTC,
    never after ``due``, and equals ``due`` when ``due <= start`` (nothing sensible to remind
    ahead of). ``fraction`` must be in [0, 1].
    """
    _require_aware(start, "start")
    _require_aware(due, "due")
    if not isinstance(fraction, int | float) or math.isnan(fraction) or not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction!r}")
    # Subtracting aware datetimes that share a tzinfo ignores DST; normalise to UTC first.
    start_utc = start.astimezone(UTC)
    due_utc = due.astimezone(UTC)
    if due_utc <= start_utc:
        return due_utc
    remind = start_utc + (due_utc - start_utc) * fraction
    return min(max(remind, start_utc), due_utc)
