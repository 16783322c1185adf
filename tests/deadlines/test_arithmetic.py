"""Deadline arithmetic on the real Chinese official calendar (2024-2026) plus property tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.deadlines.arithmetic import (
    MAX_DURATION,
    MAX_WORKING_DAYS,
    Deadline,
    DeadlineSyntaxError,
    WorkingCalendar,
    add_working_days,
    due_at,
    parse_deadline,
    remind_at,
    working_days_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def due_local(start: datetime, text: str, calendar: WorkingCalendar = CAL) -> datetime:
    result = due_at(start, parse_deadline(text), SHANGHAI, calendar)
    assert result.tzinfo is UTC
    return result.astimezone(SHANGHAI)


# --- the library facts the concrete cases rely on -------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # National Day 2025: 10-01..08 off; Sunday 09-28 and Saturday 10-11 are make-up days.
        (date(2025, 9, 28), True),
        (date(2025, 9, 30), True),
        *[(date(2025, 10, d), False) for d in range(1, 9)],
        (date(2025, 10, 9), True),
        (date(2025, 10, 10), True),
        (date(2025, 10, 11), True),
        (date(2025, 10, 12), False),
        # Spring Festival 2026: 02-15..23 off; Saturdays 02-14 and 02-28 are make-up days.
        (date(2026, 2, 13), True),
        (date(2026, 2, 14), True),
        *[(date(2026, 2, d), False) for d in range(15, 24)],
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),
        # National Day 2024: 10-01..07 off; Sunday 09-29 and Saturday 10-12 are make-up days.
        (date(2024, 9, 29), True),
        (date(2024, 9, 30), True),
        *[(date(2024, 10, d), False) for d in range(1, 8)],
        (date(2024, 10, 8), True),
        (date(2024, 10, 12), True),
    ],
)
def test_official_calendar_facts(day: date, working: bool) -> None:
    assert chinese_calendar.is_workday(day) is working
    assert CAL.is_workday(day) is working


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", Deadline(duration=timedelta(hours=1))),
        ("PT30M", Deadline(duration=timedelta(minutes=30))),
        ("P3D", Deadline(duration=timedelta(days=3))),
        ("P1DT12H", Deadline(duration=timedelta(days=1, hours=12))),
        ("P2W", Deadline(duration=timedelta(weeks=2))),
        ("PT45S", Deadline(duration=timedelta(seconds=45))),
        ("PT1.5S", Deadline(duration=timedelta(seconds=1, microseconds=500000))),
        ("PT0,25S", Deadline(duration=timedelta(microseconds=250000))),
        ("P1DT2H3M4S", Deadline(duration=timedelta(days=1, hours=2, minutes=3, seconds=4))),
        ("pt1h", Deadline(duration=timedelta(hours=1))),
        ("3WD", Deadline(working_days=3)),
        ("1WD", Deadline(working_days=1)),
        ("3wd", Deadline(working_days=3)),
        ("03WD", Deadline(working_days=3)),
        ("  3WD\n", Deadline(working_days=3)),
        ('"P5D"', Deadline(duration=timedelta(days=5))),
        ("'3WD'", Deadline(working_days=3)),
        ("  ' 3WD ' ", Deadline(working_days=3)),
        ("３ＷＤ", Deadline(working_days=3)),  # full-width, as typed through a Chinese IME
        (f"{MAX_WORKING_DAYS}WD", Deadline(working_days=MAX_WORKING_DAYS)),
        (f"P{MAX_DURATION.days}D", Deadline(duration=MAX_DURATION)),
    ],
)
def test_parse_accepts(text: str, expected: Deadline) -> None:
    assert parse_deadline(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "''",
        "P",
        "PT",
        "P1DT",
        "0WD",
        "00WD",
        "-1WD",
        "1.5WD",
        "WD",
        "3 WD",
        "3W D",
        "3",
        "3D",
        "P0D",
        "PT0S",
        "PT0H0M",
        "P1M",
        "P1Y",
        "P1Y2M3D",
        "P1MT1H",
        "-P1D",
        "+P1D",
        "P1.5D",
        "PT1.5H",
        "P1H",
        "PT1D",
        "P1D1W",
        "PT1M1H",
        "P3DX",
        "1WD2",
        "P1D P1D",
        "'P5D",
        "'P5D\"",
        "\"'P5D'\"",
        "'\\x'",
        "R3/PT1H",
        "2025-10-01T00:00:00",
        "tomorrow",
        "三个工作日",
        f"{MAX_WORKING_DAYS + 1}WD",
        f"P{MAX_DURATION.days + 1}D",
        "P999999999999D",
        "9" * 500 + "WD",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(DeadlineSyntaxError) as info:
        parse_deadline(text)
    message = str(info.value)
    assert "PT1H" in message and "3WD" in message  # names the accepted forms
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [None, 3, b"3WD", timedelta(hours=1)])
def test_parse_refuses_non_strings(value: object) -> None:
    with pytest.raises(DeadlineSyntaxError):
        parse_deadline(value)  # type: ignore[arg-type]


def test_syntax_error_names_the_text_and_explains_months() -> None:
    with pytest.raises(DeadlineSyntaxError, match=r"'P1M'.*months and years.*P30D"):
        parse_deadline("P1M")
    with pytest.raises(DeadlineSyntaxError, match=r"'bogus'"):
        parse_deadline("bogus")
    with pytest.raises(DeadlineSyntaxError, match=r"'0WD'.*at least 1"):
        parse_deadline("0WD")


def test_deadline_constructor_validates() -> None:
    with pytest.raises(ValueError):
        Deadline()
    with pytest.raises(ValueError):
        Deadline(duration=timedelta(hours=1), working_days=1)
    with pytest.raises(ValueError):
        Deadline(working_days=0)
    with pytest.raises(ValueError):
        Deadline(duration=timedelta(0))
    with pytest.raises(ValueError):
        Deadline(duration=-timedelta(hours=1))
    with pytest.raises(TypeError):
        Deadline(working_days=True)
    assert Deadline(working_days=2).is_working_days
    assert not Deadline(duration=timedelta(hours=2)).is_working_days
    assert hash(parse_deadline("3WD")) == hash(Deadline(working_days=3))


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("3wd", "3WD"), ("P2W", "P14D"), ("P1DT12H", "P1DT12H"), ("PT90M", "PT1H30M"), ("PT1.5S", "PT1.5S")],
)
def test_str_is_canonical(text: str, canonical: str) -> None:
    assert str(parse_deadline(text)) == canonical


# --- calendar ----------------------------------------------------------------------------------


def test_overrides_win_over_the_library() -> None:
    cal = WorkingCalendar({date(2025, 10, 9): False, date(2025, 10, 4): True})
    assert cal.is_workday(date(2025, 10, 9)) is False
    assert cal.is_workday(date(2025, 10, 4)) is True
    assert CAL.is_workday(date(2025, 10, 9)) is True
    # 1WD from the last day before National Day now lands on the overridden Saturday 10-04.
    assert due_local(local(2025, 9, 30, 15), "1WD", cal) == local(2025, 10, 4, 17, 30)


def test_unknown_year_falls_back_to_monday_to_friday() -> None:
    assert not WorkingCalendar.is_year_known(2099)
    assert CAL.is_year_known(2025) and CAL.is_year_known(2026)
    assert 2024 in CAL.known_years() and 2099 not in CAL.known_years()
    # 2099-01-01 is a Thursday: no holiday data, so it counts as a working day.
    assert CAL.is_workday(date(2099, 1, 1)) is True
    assert CAL.is_workday(date(2099, 1, 3)) is False  # Saturday
    assert due_local(local(2099, 1, 2, 10), "1WD") == local(2099, 1, 5, 17, 30)


def test_first_unknown_year_can_be_fixed_with_overrides() -> None:
    year = max(CAL.known_years()) + 1
    new_years_day = date(year, 1, 1)
    cal = WorkingCalendar({new_years_day: False})
    assert cal.is_workday(new_years_day) is False
    assert not cal.is_year_known(year)  # overrides don't claim the whole year is known
    assert cal.override_years() == frozenset({year})


def test_calendar_refuses_bad_inputs() -> None:
    with pytest.raises(TypeError):
        WorkingCalendar({datetime(2025, 1, 1): False})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        WorkingCalendar({date(2025, 1, 1): "no"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        WorkingCalendar(workday_end=time(17, 30, tzinfo=UTC))
    with pytest.raises(TypeError):
        CAL.is_workday(datetime(2025, 1, 1, 12))
    overrides = {date(2025, 1, 1): True}
    cal = WorkingCalendar(overrides)
    overrides[date(2025, 1, 1)] = False  # the calendar keeps its own copy
    assert cal.is_workday(date(2025, 1, 1)) is True
    with pytest.raises(TypeError):
        cal.overrides[date(2025, 1, 2)] = True  # type: ignore[index]


# --- due_at: working days on the real calendars -------------------------------------------------


@pytest.mark.parametrize(
    ("start", "text", "due"),
    [
        # The docstring's worked examples.
        (local(2025, 9, 30, 15), "1WD", local(2025, 10, 9, 17, 30)),
        (local(2025, 10, 10, 9), "2WD", local(2025, 10, 13, 17, 30)),
        (local(2025, 10, 14, 9), "1WD", local(2025, 10, 15, 17, 30)),
        # Ordinary week: Tuesday 09:00 + 1WD is Wednesday 17:30; time of day does not matter.
        (local(2025, 11, 4, 9), "1WD", local(2025, 11, 5, 17, 30)),
        (local(2025, 11, 4, 0, 1), "1WD", local(2025, 11, 5, 17, 30)),
        (local(2025, 11, 4, 23, 59), "1WD", local(2025, 11, 5, 17, 30)),
        (local(2025, 11, 4, 9), "3WD", local(2025, 11, 7, 17, 30)),
        (local(2025, 11, 7, 16), "1WD", local(2025, 11, 10, 17, 30)),  # Friday -> Monday
        (local(2025, 11, 9, 16), "1WD", local(2025, 11, 10, 17, 30)),  # Sunday -> Monday
        # 2025 Golden Week: Friday 09-26 -> make-up Sunday 09-28.
        (local(2025, 9, 26, 16), "1WD", local(2025, 9, 28, 17, 30)),
        (local(2025, 9, 26, 16), "3WD", local(2025, 9, 30, 17, 30)),
        (local(2025, 9, 26, 16), "4WD", local(2025, 10, 9, 17, 30)),
        # Reports during the holiday count from the first working day after it.
        (local(2025, 10, 3, 11), "1WD", local(2025, 10, 9, 17, 30)),
        (local(2025, 10, 8, 23, 59), "2WD", local(2025, 10, 10, 17, 30)),
        # Reported on the make-up Saturday 10-11: Sunday is off, due Monday.
        (local(2025, 10, 11, 10), "1WD", local(2025, 10, 13, 17, 30)),
        # Thursday 10-09 + 2WD reaches the make-up Saturday.
        (local(2025, 10, 9, 10), "2WD", local(2025, 10, 11, 17, 30)),
        # Spring Festival 2026: Friday 02-13 -> make-up Saturday 02-14; then nine days off.
        (local(2026, 2, 13, 15), "1WD", local(2026, 2, 14, 17, 30)),
        (local(2026, 2, 13, 15), "2WD", local(2026, 2, 24, 17, 30)),
        (local(2026, 2, 14, 10), "1WD", local(2026, 2, 24, 17, 30)),
        (local(2026, 2, 18, 10), "5WD", local(2026, 2, 28, 17, 30)),  # 24,25,26,27, make-up 28
        # National Day 2024 (last working day before it is Monday 09-30).
        (local(2024, 9, 30, 16), "1WD", local(2024, 10, 8, 17, 30)),
        (local(2024, 10, 11, 9), "1WD", local(2024, 10, 12, 17, 30)),  # make-up Saturday
        # Spring Festival 2025: 01-28..02-04 off, make-up Sunday 01-26 and Saturday 02-08.
        (local(2025, 1, 27, 9), "1WD", local(2025, 2, 5, 17, 30)),
        (local(2025, 2, 7, 9), "1WD", local(2025, 2, 8, 17, 30)),
    ],
)
def test_working_day_due_times(start: datetime, text: str, due: datetime) -> None:
    assert due_local(start, text) == due


def test_due_at_uses_local_date_not_utc_date() -> None:
    # 2025-11-04 20:00 UTC is already Wednesday 04:00 in Shanghai: 1WD is Thursday 17:30 local.
    start = datetime(2025, 11, 4, 20, 0, tzinfo=UTC)
    due = due_at(start, Deadline(working_days=1), SHANGHAI, CAL)
    assert due == datetime(2025, 11, 6, 9, 30, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_due_at_custom_workday_end() -> None:
    cal = WorkingCalendar(workday_end=time(18, 0))
    due = due_at(local(2025, 11, 4, 9), parse_deadline("1WD"), SHANGHAI, cal)
    assert due.astimezone(SHANGHAI) == local(2025, 11, 5, 18, 0)


def test_fixed_durations_are_elapsed_time() -> None:
    start = local(2025, 9, 30, 23, 30)  # right before the holiday: the calendar is ignored
    assert due_local(start, "PT1H") == local(2025, 10, 1, 0, 30)
    assert due_local(start, "P2W") == local(2025, 10, 14, 23, 30)
    # Across a DST change elapsed time differs from wall-clock time.
    new_york = ZoneInfo("America/New_York")
    before = datetime(2025, 3, 8, 12, 0, tzinfo=new_york)  # EST, -05:00
    due = due_at(before, parse_deadline("PT24H"), new_york, CAL)
    assert due == datetime(2025, 3, 9, 17, 0, tzinfo=UTC)
    assert due.astimezone(new_york) == datetime(2025, 3, 9, 13, 0, tzinfo=new_york)


def test_working_days_in_a_dst_zone() -> None:
    # Working days counted in Europe/Berlin (no real use case here, but the rule must hold).
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 27, 9, 0, tzinfo=berlin)  # Friday; DST starts Sunday 03-29
    due = due_at(start, Deadline(working_days=1), berlin, WorkingCalendar())
    assert due == datetime(2026, 3, 30, 15, 30, tzinfo=UTC)  # 17:30 CEST


@pytest.mark.parametrize(
    "start",
    [datetime(2025, 11, 4, 9, 0), datetime(2025, 11, 4)],
)
def test_naive_start_is_refused(start: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(start, Deadline(working_days=1), SHANGHAI, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(start, Deadline(duration=timedelta(hours=1)), SHANGHAI, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        remind_at(start, start.replace(tzinfo=UTC))


def test_due_at_refuses_unparsed_deadline() -> None:
    with pytest.raises(TypeError):
        due_at(local(2025, 1, 6), "3WD", SHANGHAI, CAL)  # type: ignore[arg-type]


# --- helpers -------------------------------------------------------------------------------------


def test_add_working_days_and_between() -> None:
    assert add_working_days(date(2025, 9, 30), 0, CAL) == date(2025, 9, 30)
    assert add_working_days(date(2025, 9, 30), 1, CAL) == date(2025, 10, 9)
    assert add_working_days(date(2025, 10, 9), 2, CAL) == date(2025, 10, 11)
    with pytest.raises(ValueError):
        add_working_days(date(2025, 9, 30), -1, CAL)
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 9), CAL) == 1
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 13), CAL) == 4  # 9, 10, 11, 13
    assert working_days_between(date(2025, 10, 1), date(2025, 10, 8), CAL) == 0
    assert working_days_between(date(2025, 10, 9), date(2025, 10, 9), CAL) == 0  # (a, a] is empty
    assert working_days_between(date(2025, 10, 9), date(2025, 10, 1), CAL) == 0  # b < a
    # Whole-year totals as published (2024: 251, 2025: 248) and as the library counts them.
    assert working_days_between(date(2023, 12, 31), date(2024, 12, 31), CAL) == 251
    assert working_days_between(date(2024, 12, 31), date(2025, 12, 31), CAL) == 248
    assert working_days_between(date(2025, 12, 31), date(2026, 12, 31), CAL) == len(
        chinese_calendar.get_workdays(date(2026, 1, 1), date(2026, 12, 31))
    )


# --- remind_at ----------------------------------------------------------------------------------


def test_remind_at_examples() -> None:
    start = datetime(2025, 11, 4, 0, 0, tzinfo=UTC)
    due = start + timedelta(hours=8)
    assert remind_at(start, due) == start + timedelta(hours=6)
    assert remind_at(start, due, 0.5) == start + timedelta(hours=4)
    assert remind_at(start, due, 0) == start
    assert remind_at(start, due, 1) == due
    assert remind_at(due, start) == start  # due before start: remind at due
    assert remind_at(start, start) == start
    assert remind_at(start, due).tzinfo is UTC
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            remind_at(start, due, bad)


def test_remind_at_is_elapsed_across_dst() -> None:
    new_york = ZoneInfo("America/New_York")
    start = datetime(2025, 3, 8, 12, 0, tzinfo=new_york)
    due = datetime(2025, 3, 9, 12, 0, tzinfo=new_york)  # 23 elapsed hours
    assert remind_at(start, due, 0.5) == datetime(2025, 3, 9, 4, 30, tzinfo=UTC)


# --- properties ------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONES = st.sampled_from(
    [
        SHANGHAI,
        ZoneInfo("Asia/Urumqi"),
        ZoneInfo("UTC"),
        ZoneInfo("Europe/Berlin"),
        ZoneInfo("America/New_York"),
        ZoneInfo("Pacific/Chatham"),
        ZoneInfo("Australia/Lord_Howe"),
    ]
)
START_ZONES = st.sampled_from(
    [UTC, SHANGHAI, ZoneInfo("America/Los_Angeles"), timezone(timedelta(hours=-11))]
)
starts = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
    START_ZONES,
)
working_day_counts = st.integers(min_value=1, max_value=40)
workday_ends = st.sampled_from([time(17, 30), time(18, 0), time(12, 0), time(23, 59, 59)])
override_maps = st.dictionaries(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2031, 12, 31)), st.booleans(), max_size=30
)


@PROPERTY_SETTINGS
@given(start=starts, n=working_day_counts, tz=ZONES, end=workday_ends, overrides=override_maps)
def test_working_day_due_is_a_working_day_at_workday_end_after_start(
    start: datetime, n: int, tz: ZoneInfo, end: time, overrides: dict[date, bool]
) -> None:
    cal = WorkingCalendar(overrides, workday_end=end)
    due = due_at(start, Deadline(working_days=n), tz, cal)
    assert due.tzinfo is UTC
    assert due > start
    due_local_time = due.astimezone(tz)
    expected_local = datetime.combine(due_local_time.date(), end, tzinfo=tz)
    assert due == expected_local.astimezone(UTC)
    assert cal.is_workday(due_local_time.date())
    assert due_local_time.date() > start.astimezone(tz).date()
    assert working_days_between(start.astimezone(tz).date(), due_local_time.date(), cal) == n


@PROPERTY_SETTINGS
@given(start=starts, n=working_day_counts, tz=ZONES, overrides=override_maps)
def test_due_is_monotonic_in_n(start: datetime, n: int, tz: ZoneInfo, overrides: dict[date, bool]) -> None:
    cal = WorkingCalendar(overrides)
    assert due_at(start, Deadline(working_days=n), tz, cal) < due_at(
        start, Deadline(working_days=n + 1), tz, cal
    )


@PROPERTY_SETTINGS
@given(
    start=starts,
    later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    n=working_day_counts,
    tz=ZONES,
)
def test_due_is_monotonic_in_start(start: datetime, later_by: timedelta, n: int, tz: ZoneInfo) -> None:
    later = start.astimezone(UTC) + later_by
    deadline = Deadline(working_days=n)
    assert due_at(start, deadline, tz, CAL) <= due_at(later, deadline, tz, CAL)


@PROPERTY_SETTINGS
@given(
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    n=st.integers(min_value=0, max_value=60),
    overrides=override_maps,
)
def test_add_working_days_inverts_working_days_between(
    day: date, n: int, overrides: dict[date, bool]
) -> None:
    cal = WorkingCalendar(overrides)
    result = add_working_days(day, n, cal)
    assert working_days_between(day, result, cal) == n
    if n:
        assert cal.is_workday(result)
        # No working day is skipped: one day earlier is still short of n.
        assert working_days_between(day, result - timedelta(days=1), cal) == n - 1


@PROPERTY_SETTINGS
@given(
    start=starts,
    duration=st.timedeltas(min_value=timedelta(microseconds=1), max_value=MAX_DURATION),
    tz=ZONES,
)
def test_fixed_durations_are_exact(start: datetime, duration: timedelta, tz: ZoneInfo) -> None:
    deadline = Deadline(duration=duration)
    due = due_at(start, deadline, tz, CAL)
    assert due.tzinfo is UTC
    assert due - start == duration  # aware subtraction across zones is elapsed time
    assert parse_deadline(str(deadline)) == deadline


@PROPERTY_SETTINGS
@given(n=st.integers(min_value=1, max_value=MAX_WORKING_DAYS), lower=st.booleans(), pad=st.booleans())
def test_working_day_text_round_trips(n: int, lower: bool, pad: bool) -> None:
    text = f"{n}wd" if lower else f"{n}WD"
    if pad:
        text = f"  '{text}'  "
    assert parse_deadline(text) == Deadline(working_days=n)
    assert str(parse_deadline(text)) == f"{n}WD"


@PROPERTY_SETTINGS
@given(
    start=starts,
    span=st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=400)),
    fraction=st.floats(min_value=0, max_value=1),
    due_zone=START_ZONES,
)
def test_remind_is_between_start_and_due(
    start: datetime, span: timedelta, fraction: float, due_zone: ZoneInfo
) -> None:
    due = (start.astimezone(UTC) + span).astimezone(due_zone)
    remind = remind_at(start, due, fraction)
    assert remind.tzinfo is UTC
    assert remind <= due
    if due > start:
        assert start <= remind
    else:
        assert remind == due
