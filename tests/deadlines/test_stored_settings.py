"""The calendar overrides and ladders a step that opens tasks uses are kept by the process while their digest
stays (``app.deadlines.stored_settings``); any change, by any writer, is seen by the next step.

What could go wrong with a kept copy: a holiday entered with the CLI in another process, a ladder changed by a
migration's raw SQL, or a change rolled back (a test, a failed request) leaving the copy of what never
committed. The digest is of the rows themselves, so each of these gives the digest of what is stored now.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from deadline_helpers import open_case, tasks_of

from app.deadlines import stored_settings
from app.deadlines.calendar import set_day
from app.deadlines.ladder import ANY, parse_escalation, replace_ladder
from app.extensions import db


def _digests() -> tuple[str, str]:
    """What the routing statement carries, read alone."""
    row = db.session.execute(sa.select(*stored_settings.digest_columns(db.engine.dialect.name))).one()
    return row[0], row[1]


def _statements(block: Any) -> list[str]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        block()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return seen


def test_kept_settings_cost_no_statement_and_any_change_is_read(county: Any) -> None:
    digests = _digests()
    first = stored_settings.settings_for(digests)
    assert _statements(lambda: stored_settings.settings_for(digests)) == []  # kept: nothing read
    assert stored_settings.settings_for(_digests()) is first

    set_day(date(2026, 3, 11), False, "a holiday the process has not seen")
    changed = stored_settings.settings_for(_digests())
    assert changed is not first and not changed.calendars().is_workday(date(2026, 3, 11))

    replace_ladder(ANY, "police", parse_escalation("coordinator@due"))
    laddered = stored_settings.settings_for(_digests())
    assert laddered.book.for_task("four_in_one", "police").key == (ANY, "police")
    assert laddered.book.for_task("four_in_one", "police").steps[0].audiences == ("coordinator",)


def test_a_change_by_raw_sql_and_a_rolled_back_change_are_seen(county: Any) -> None:
    before = stored_settings.settings_for(_digests())
    nested = db.session.begin_nested()
    db.session.execute(sa.text("INSERT INTO calendar_day (county, day, is_workday, note, updated_at) "
                               "VALUES ('*', '2026-03-11', :no, '', '2026-03-01 00:00:00')"), {"no": False})
    inside = stored_settings.settings_for(_digests())
    assert not inside.calendars().is_workday(date(2026, 3, 11))
    nested.rollback()

    after = stored_settings.settings_for(_digests())
    assert after is before and after.calendars().is_workday(date(2026, 3, 11))  # never what was rolled back


def test_a_step_opening_a_task_uses_a_holiday_entered_after_the_settings_were_kept(county: Any) -> None:
    """Tuesday 10 March 09:00 (the suite's clock): a 1WD police step is due Wednesday 17:30, Thursday once
    Wednesday is a holiday, though the first case's step kept the settings without it."""
    from zoneinfo import ZoneInfo

    from app.config import ROOT as APP_ROOT
    from app.processes.operations import deploy

    mini = (APP_ROOT / "tests" / "data" / "mini.bpmn").read_text(encoding="utf-8")
    deploy({"mini.bpmn": mini.replace('value="PT1H"', 'value="1WD"')},
           {"mini/t1.json": {"type": "object"}, "mini/t2.json": {"type": "object"}}, note="tests")
    db.session.commit()
    tz = ZoneInfo("Asia/Shanghai")
    [a] = tasks_of(open_case("mini", "t01v01").id)
    db.session.execute(sa.text("INSERT INTO calendar_day (county, day, is_workday, note, updated_at) "
                               "VALUES ('*', '2026-03-11', :no, '', '2026-03-01 00:00:00')"), {"no": False})
    db.session.commit()
    [b] = tasks_of(open_case("mini", "t01v01").id)

    assert (a.due_at.astimezone(tz).day, b.due_at.astimezone(tz).day) == (11, 12)
