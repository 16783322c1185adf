"""Reads that drive the sweep: which BPMN timers are due (ladder steps: ``escalation.due_task_ids``).

The projections carry every time the sweep needs (``timer.due_at``,
``task.next_escalation_at``), so a sweep is two index range scans and never
deserializes a workflow to find out whether anything is due.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.processes.models import ProcessInstance
from app.tasks.models import Timer

from .models import SweepMark


def due_timer_instances(at: datetime, limit: int = 1000) -> list[int]:
    """Running instances with at least one timer due by ``at``, in order of their next attempt.

    A timer that failed waits out its backoff (``next_attempt_at``) and is then
    ordered by that time, not by its long-past due time, so a timer that
    always fails can neither hold the head of the batch nor be retried every sweep.
    """
    next_attempt = sa.func.min(sa.func.coalesce(Timer.next_attempt_at, Timer.due_at)).label("next_attempt")
    stmt = (sa.select(Timer.instance_id, next_attempt)
            .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
            .where(Timer.due_at <= at, ProcessInstance.status == "running",
                   sa.or_(Timer.next_attempt_at.is_(None), Timer.next_attempt_at <= at))
            .group_by(Timer.instance_id).order_by("next_attempt", Timer.instance_id).limit(limit))
    return [row.instance_id for row in db.session.execute(stmt)]


SWEEP = "deadlines"


def mark_swept(at: datetime, name: str = SWEEP) -> None:
    """Record that a sweep read the database as of ``at`` (for the sweep lag in ``/readyz``). Flushes."""
    updated = db.session.execute(sa.update(SweepMark).where(SweepMark.name == name).values(swept_at=at))
    if updated.rowcount:  # type: ignore[attr-defined]
        return
    try:
        with db.session.begin_nested():
            db.session.add(SweepMark(name=name, swept_at=at))
    except sa.exc.IntegrityError:  # another sweep inserted it first: its time is as good
        pass


def last_swept(name: str = SWEEP) -> datetime | None:
    return db.session.scalar(sa.select(SweepMark.swept_at).where(SweepMark.name == name))
