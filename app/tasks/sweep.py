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

from .models import Timer


def due_timer_instances(at: datetime, limit: int = 1000) -> list[int]:
    """Running instances with at least one timer due by ``at``, most overdue first."""
    stmt = (sa.select(Timer.instance_id, sa.func.min(Timer.due_at).label("first_due"))
            .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
            .where(Timer.due_at <= at, ProcessInstance.status == "running")
            .group_by(Timer.instance_id).order_by("first_due").limit(limit))
    return [row.instance_id for row in db.session.execute(stmt)]
