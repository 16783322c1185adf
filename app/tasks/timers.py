"""BPMN timers you can trust: the ``timer`` projection, backoff for failing timers, and incidents.

A timer row is rewritten with every state save; what the platform learned about
it (failed attempts, when to try again, the last error) is carried over to the
new row of the same engine task, so a save elsewhere on the instance cannot
wipe a backoff. Two things make an incident (``TimerIncident``), shown to
designers and admins with the reason: the engine could not compute the timer's
due time (the timer would otherwise sit forever as a row that never fires), and
firing it failed (then it backs off: ``next_attempt_at``). An incident is
resolved when its timer fires or the instance moves past it. Operations flush.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.common.clock import now
from app.common.dialect import for_update
from app.engine import WaitingTimer
from app.extensions import db
from app.org.models import User

from .models import Timer, TimerIncident

NO_DUE_TIME = "no_due_time"
FIRE_FAILED = "fire_failed"
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after the ``attempts``-th failure, at most six hours."""
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


def sync_timers(instance_id: int, case_id: int, timers: Sequence[WaitingTimer], at: datetime | None = None) -> None:
    """Rewrite the instance's timer rows from the engine's waiting timers, keeping each one's backoff."""
    at = at or now()
    # One statement: delete the old rows and read back what the platform learned about them.
    kept = {row.engine_task_id: row for row in db.session.execute(
        sa.delete(Timer).where(Timer.instance_id == instance_id)
        .returning(Timer.engine_task_id, Timer.attempts, Timer.next_attempt_at, Timer.last_error))}
    broken: dict[str, WaitingTimer] = {}
    for timer in timers:
        old = kept.get(timer.task_id)
        db.session.add(Timer(instance_id=instance_id, engine_task_id=timer.task_id, bpmn_id=timer.bpmn_id,
                             name=timer.name, due_at=timer.due_at, attempts=old.attempts if old else 0,
                             next_attempt_at=old.next_attempt_at if old else None,
                             last_error=timer.error or (old.last_error if old else None)))
        if timer.error:
            broken[timer.bpmn_id] = timer
    if not broken and not any(row.attempts or row.last_error for row in kept.values()):
        return  # no timer of this instance ever failed: it has no incident to open or resolve
    waiting = {t.bpmn_id for t in timers}
    for incident in open_incidents(instance_id):
        gone = incident.bpmn_id not in waiting
        fixed = incident.kind == NO_DUE_TIME and incident.bpmn_id not in broken
        if gone or fixed:
            incident.resolved_at = at
    _open(instance_id, case_id, {b: (t.name, t.error or "") for b, t in broken.items()}, NO_DUE_TIME, at)
    db.session.flush()


def record_fire_failure(instance_id: int, case_id: int, error: str, at: datetime | None = None) -> list[Timer]:
    """After a failed attempt to fire the instance's due timers: back them off and open an incident.

    Runs in a fresh transaction (the failed one was rolled back). Returns the timers backed off.
    """
    at = at or now()
    due = list(db.session.scalars(for_update(
        sa.select(Timer).where(Timer.instance_id == instance_id, Timer.due_at <= at))))
    for timer in due:
        timer.attempts += 1
        timer.next_attempt_at = at + backoff(timer.attempts)
        timer.last_error = error[:2000]
    _open(instance_id, case_id, {t.bpmn_id: (t.name, error) for t in due}, FIRE_FAILED, at)
    db.session.flush()
    return due


def _open(instance_id: int, case_id: int, reasons: dict[str, tuple[str, str]], kind: str, at: datetime) -> None:
    current = {i.bpmn_id: i for i in open_incidents(instance_id) if i.kind == kind}
    for bpmn_id, (name, reason) in reasons.items():
        incident = current.get(bpmn_id)
        if incident is None:
            db.session.add(TimerIncident(instance_id=instance_id, case_id=case_id, bpmn_id=bpmn_id, name=name,
                                         kind=kind, reason=reason[:2000], attempts=1, created_at=at, updated_at=at))
        elif incident.reason != reason[:2000] or kind == FIRE_FAILED:
            incident.reason, incident.updated_at = reason[:2000], at
            incident.attempts += 1 if kind == FIRE_FAILED else 0


def open_incidents(instance_id: int | None = None, case_id: int | None = None,
                   instance_ids: Sequence[int] | None = None) -> list[TimerIncident]:
    """Unresolved timer incidents of an instance, a case, some instances, or all of them (newest first)."""
    stmt = sa.select(TimerIncident).where(TimerIncident.resolved_at.is_(None))
    if instance_id is not None:
        stmt = stmt.where(TimerIncident.instance_id == instance_id)
    if case_id is not None:
        stmt = stmt.where(TimerIncident.case_id == case_id)
    if instance_ids is not None:
        stmt = stmt.where(TimerIncident.instance_id.in_(list(instance_ids)))
    return list(db.session.scalars(stmt.order_by(TimerIncident.updated_at.desc(), TimerIncident.id.desc())))


INCIDENT_READERS = ("admin", "process_designer", "county_coordinator")
"""Roles shown timer incidents on a case they may see (the people who can fix a diagram or chase it)."""


def incidents_for(user: object, case_id: int) -> list[TimerIncident]:
    """The case's open timer incidents if ``user`` is one of ``INCIDENT_READERS``, else none."""

    if not isinstance(user, User) or not user.roles.intersection(INCIDENT_READERS):
        return []
    return open_incidents(case_id=case_id)
