"""``flask duties``: run the recurring-duty scheduler as of a moment, list the frequency rules."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from app.common.clock import now
from app.extensions import db

from .frequencies import effective_frequencies
from .scheduler import start_due_duties

duties_cli = AppGroup("duties", help="Recurring duties (visits, assessments, data comparison, reports).")


@duties_cli.command("run")
@click.option("--at", "at_text", default=None, help="ISO time with offset (default: now)")
def duties_run(at_text: str | None) -> None:
    """Start the duty cycles due at --at and escalate missed ones (idempotent); commits once."""

    at = datetime.fromisoformat(at_text) if at_text else now()
    if at.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-03-16T09:00+08:00", param_hint="--at")
    started = start_due_duties(at)
    db.session.commit()
    click.echo(f"started {started} duty cycle(s) as of {at.isoformat()}")


@duties_cli.command("frequencies")
def duties_frequencies() -> None:
    """The cadence rules in force (defaults with the county's overrides)."""

    for (duty, selector), cadence in sorted(effective_frequencies().items()):
        click.echo(f"{duty:16} {selector:28} {cadence}")
