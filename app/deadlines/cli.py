"""``flask calendar``, ``flask deadlines`` and ``flask ladders``. Each command commits once."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from app.common.clock import FixedClock, county_zone
from app.common.errors import Invalid
from app.extensions import db
from app.org.queries import county_code
from workers.jobs import sweep

from .calendar import clear_day, set_day, year_view
from .ladder import LadderBook, replace_ladder, seed_default_ladders, steps_from_json
from .models import ANY


def _county(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--county``: ``*`` or a county's region code (anything else is a usage error, nothing changes)."""
    try:
        return county_code(value)
    except Invalid as exc:
        raise click.BadParameter(str(exc)) from exc


calendar_cli = AppGroup("calendar", help="The county's working calendar (holidays, make-up working days).")
deadlines_cli = AppGroup("deadlines", help="Deadline sweeps.")
ladders_cli = AppGroup("ladders", help="Escalation ladders.")


@calendar_cli.command("set")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.argument("kind", type=click.Choice(["workday", "holiday"]))
@click.option("--note", default="", help="e.g. 春节调休")
@click.option("--county", default="*", callback=_county, help="a county's region code: for its cases only")
def calendar_set(day: datetime, kind: str, note: str, county: str) -> None:
    """Mark DAY as a working day (调休 make-up day) or a holiday, overriding the official calendar."""
    set_day(day.date(), kind == "workday", note, county=county)
    db.session.commit()
    where = "" if county == "*" else f" in {county}"
    click.echo(f"{day.date().isoformat()} is a {kind}{where}" + (f" ({note})" if note else ""))


@calendar_cli.command("clear")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--county", default="*", callback=_county, help="a county's region code: its own override")
def calendar_clear(day: datetime, county: str) -> None:
    """Remove the override for DAY."""
    removed = clear_day(day.date(), county)
    db.session.commit()
    click.echo(f"override for {day.date().isoformat()} " + ("removed" if removed else "did not exist"))


@calendar_cli.command("show")
@click.argument("year", type=int, default=None, required=False)
@click.option("--county", default="*", callback=_county, help="a county's region code: its calendar")
def calendar_show(year: int | None, county: str) -> None:
    """Overrides, weekday holidays and weekend working days of YEAR; warns when the library lacks YEAR."""
    view = year_view(year or date.today().year, county)
    if not view.known_to_library:
        click.echo(f"WARNING: the bundled chinese_calendar has no official schedule for {view.year}; "
                   "without overrides it counts Monday-Friday. Enter the State Council's schedule with "
                   "`flask calendar set YYYY-MM-DD holiday|workday --note ...`.", err=True)
    click.echo(f"{view.year}: {len(view.overrides)} override(s)")
    for row in view.overrides:
        where = "" if row.county == "*" else f" [{row.county}]"
        click.echo(f"  {row.day.isoformat()} {'workday' if row.is_workday else 'holiday'}{where}  {row.note}")
    click.echo("weekday holidays: " + (", ".join(d.strftime("%m-%d") for d in view.rest_days_on_weekdays) or "-"))
    click.echo("weekend working days: " + (", ".join(d.strftime("%m-%d") for d in view.workdays_on_weekends) or "-"))


@deadlines_cli.command("sweep")
@click.option("--at", "at_text", default=None, help="ISO time to sweep as of (default: now), e.g. 2027-02-10T09:00+08:00")
def deadlines_sweep(at_text: str | None) -> None:
    """Run one sweep now, in this process: due ladder steps, BPMN timers, unsent mail, digests."""
    if at_text:
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            click.echo(f"--at: not an ISO time: {at_text!r}", err=True)
            sys.exit(2)
        if at.tzinfo is None:
            at = at.replace(tzinfo=county_zone())
    previous = current_app.extensions.get("liandong.clock")
    if at_text:
        current_app.extensions["liandong.clock"] = FixedClock(at.astimezone(UTC))
    try:
        report = sweep(inline=True)
    finally:
        current_app.extensions["liandong.clock"] = previous
    click.echo(" ".join(f"{k}={v}" for k, v in report.items() if k != "enqueued"))


@ladders_cli.command("show")
@click.option("--process", "process_key", default=None)
@click.option("--kind", "department_kind", default=None)
@click.option("--county", default="*", callback=_county, help="a county's region code: the ladder its tasks climb")
def ladders_show(process_key: str | None, department_kind: str | None, county: str) -> None:
    """The ladder a task of PROCESS and department KIND would climb, and where it comes from."""
    ladder = LadderBook().for_task(process_key, department_kind, county=county)
    click.echo(f"ladder {ladder.key[0]}/{ladder.key[1]}" + ("" if ladder.county == "*" else f" of {ladder.county}"))
    for step in ladder.steps:
        when = step.anchor + (f" + {step.delay}" if step.delay else "")
        flag = "  (marks overdue)" if step.marks_overdue else ""
        click.echo(f"  {step.level}. {step.name:12} at {when:16} → {', '.join(step.audiences)}{flag}")


@ladders_cli.command("seed")
def ladders_seed() -> None:
    """Store the built-in ladders as rows (idempotent), so they can be edited as data."""
    created = seed_default_ladders()
    db.session.commit()
    click.echo("seeded: " + (", ".join("/".join(k) for k in created) or "nothing (already stored)"))


@ladders_cli.command("load")
@click.argument("path", type=click.File("r", encoding="utf-8"))
def ladders_load(path) -> None:  # type: ignore[no-untyped-def]
    """Replace ladders from JSON: [{"process": "*", "kind": "police", "steps": [{level, name, anchor, ...}]}];
    an item's optional "county" (a region code) stores that county's own ladder."""
    try:
        for item in json.load(path):
            steps = steps_from_json(item["steps"])
            county = county_code(str(item.get("county") or ANY))
            replace_ladder(item.get("process") or ANY, item.get("kind") or ANY, steps, county=county)
            where = "" if county == ANY else f" ({county})"
            click.echo(f"{item.get('process') or ANY}/{item.get('kind') or ANY}{where}: {len(steps)} step(s)")
    except (Invalid, ValueError, KeyError, TypeError) as exc:
        db.session.rollback()
        click.echo(f"refused: {exc}", err=True)
        sys.exit(2)
    db.session.commit()


COMMANDS = (calendar_cli, deadlines_cli, ladders_cli)
