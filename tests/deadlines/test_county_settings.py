"""Each county keeps its own calendar overrides and escalation ladders, over the deployment's (issue 13).

The two demo counties differ here: ``c02`` (邻县) declares a local holiday and a shorter police ladder;
``c01`` (示范县) keeps the deployment's calendar and ladders.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from deadline_helpers import escalation_rows, open_case, sweep, tasks_of, usernames

from app.config import ROOT as APP_ROOT
from app.deadlines.calendar import set_day, working_calendar, year_view
from app.deadlines.ladder import ANY, LadderBook, parse_escalation, replace_ladder
from app.extensions import db
from app.processes.operations import deploy

TZ = ZoneInfo("Asia/Shanghai")
MINI = (APP_ROOT / "tests" / "data" / "mini.bpmn").read_text(encoding="utf-8")
"""A police step then a township step; here the police step is given a working-day deadline."""


def test_a_countys_own_holiday_moves_only_its_due_times(county: Any, app: Any) -> None:
    forms = {"mini/t1.json": {"type": "object"}, "mini/t2.json": {"type": "object"}}
    deploy({"mini.bpmn": MINI.replace('value="PT1H"', 'value="1WD"')}, forms, note="tests")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["calendar", "set", "2026-03-11", "holiday", "--county", "c02", "--note", "庙会"])
    assert out.exit_code == 0 and "in c02" in out.output, out.output
    assert runner.invoke(args=["calendar", "set", "2026-03-11", "holiday", "--county", "t21"]).exit_code == 2
    assert runner.invoke(args=["calendar", "set", "2026-03-11", "holiday", "--county", "m01"]).exit_code == 2
    db.session.commit()
    assert not working_calendar("c02").is_workday(date(2026, 3, 11))
    assert working_calendar("c01").is_workday(date(2026, 3, 11)) and working_calendar().is_workday(date(2026, 3, 11))

    # Tuesday 10 March 09:00: one working day later is Wednesday 17:30, or Thursday where Wednesday is off.
    first, second = open_case("mini", "t01v01"), open_case("mini", "t21v01")
    [a], [b] = tasks_of(first.id), tasks_of(second.id)
    assert a.due_at.astimezone(TZ) == datetime(2026, 3, 11, 17, 30, tzinfo=TZ)
    assert b.due_at.astimezone(TZ) == datetime(2026, 3, 12, 17, 30, tzinfo=TZ)

    # The deployment's override applies to every county; a county's own wins for that day.
    set_day(date(2026, 3, 14), True, "调休")  # a Saturday made a working day everywhere
    set_day(date(2026, 3, 14), False, "本县不调休", county="c02")
    assert working_calendar("c01").is_workday(date(2026, 3, 14))
    assert not working_calendar("c02").is_workday(date(2026, 3, 14))
    shown = runner.invoke(args=["calendar", "show", "2026", "--county", "c02"]).output
    assert "2026-03-11 holiday [c02]  庙会" in shown and "2026-03-14 workday  调休" in shown
    assert date(2026, 3, 11) not in year_view(2026).rest_days_on_weekdays


def test_a_countys_own_ladder_and_the_deployments_for_the_other(county: Any, clock: Any, app: Any) -> None:
    """c02 tells its coordinator as soon as a police step is due; c01 keeps remind, overdue, coordinator."""
    replace_ladder(ANY, "police", parse_escalation("coordinator@due"), county="c02")
    db.session.commit()
    book = LadderBook()
    assert book.for_task("four_in_one", "police", county="c02").county == "c02"
    assert book.for_task("four_in_one", "police", county="c01").key == ("builtin", "police")
    assert book.for_task("four_in_one", "education", county="c02").key == ("builtin", ANY)  # no own: deployment's
    shown = app.test_cli_runner().invoke(args=["ladders", "show", "--kind", "police", "--county", "c02"]).output
    assert "of c02" in shown and "coordinator" in shown

    first, second = open_case("four_in_one", "t01v01"), open_case("four_in_one", "t21v01")
    [a], [b] = tasks_of(first.id), tasks_of(second.id)
    assert a.next_escalation_at == a.remind_at and b.next_escalation_at == b.due_at
    clock.advance(minutes=61)
    sweep()
    assert [(e.level, e.name) for e in escalation_rows(a.id)] == [(1, "remind"), (2, "overdue")]
    [told] = escalation_rows(b.id)
    assert (told.level, told.name) == (1, "overdue") and usernames(told.recipients) == {"coordinator_c02"}
    assert tasks_of(second.id)[0].next_escalation_at is None  # its one-step ladder is done
    clock.advance(hours=2)
    sweep()
    assert usernames(escalation_rows(a.id)[-1].recipients) == {"coordinator"}  # never c02's


def test_ladders_load_takes_a_county_and_refuses_what_is_not_one(app: Any, county: Any, tmp_path: Any) -> None:
    good = tmp_path / "good.json"
    good.write_text('[{"county": "c02", "kind": "township", "steps": [{"level": 1, "name": "overdue", '
                    '"anchor": "due", "audiences": ["holder", "supervisor"], "marks_overdue": true}]}]',
                    encoding="utf-8")
    out = app.test_cli_runner().invoke(args=["ladders", "load", str(good)])
    assert out.exit_code == 0 and "*/township (c02): 1 step(s)" in out.output, out.output
    assert LadderBook().for_task(None, "township", county="c02").county == "c02"
    bad = tmp_path / "bad.json"
    bad.write_text(good.read_text(encoding="utf-8").replace('"c02"', '"t21"'), encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["ladders", "load", str(bad)])
    assert refused.exit_code == 2 and "not a county" in refused.output
