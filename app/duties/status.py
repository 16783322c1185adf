"""Whether a duty cycle is fulfilled, and its outcome: one rule for the scheduler and the receivers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.processes.models import ProcessInstance
from app.tasks.models import Task, TaskState

from .catalog import DUTIES
from .models import CycleStatus, DutyCycle

OUTCOME_KEYS = {
    "assessment": "grade",
    "dropout_return": "return_outcome",
    "entrusted_care_check": "caregiver_capacity",
    "home_visit": "visit_finding",
    "weekly_contact": "contact_method",
    "annual_report": "report_submitted_on",
}


def fulfilled(cycle: DutyCycle) -> tuple[datetime, dict[str, Any]] | None:
    """(when, data) if the cycle's duty is done: its ``done_step`` completed, else its instance ended."""
    if cycle.instance_id is None:
        return None
    step = DUTIES[cycle.duty].done_step
    if step is not None:
        task = db.session.scalar(sa.select(Task).where(
            Task.instance_id == cycle.instance_id, Task.bpmn_id == step, Task.state == TaskState.COMPLETED)
            .order_by(Task.completed_at).limit(1))
        if task is not None and task.completed_at is not None:
            return task.completed_at, task.data or {}
    instance = db.session.get(ProcessInstance, cycle.instance_id)
    if instance is not None and instance.status == "completed" and instance.completed_at is not None:
        return instance.completed_at, instance.data or {}
    return None


def settle(cycle: DutyCycle) -> bool:
    """Mark an open or missed cycle done (by its due time) or late, with its outcome; True if it changed."""
    if cycle.status not in (CycleStatus.OPEN, CycleStatus.MISSED):
        return False
    found = fulfilled(cycle)
    if found is None:
        return False
    at, data = found
    on_time = cycle.missed_at is None and (cycle.due_at is None or at <= cycle.due_at)
    cycle.status = CycleStatus.DONE if on_time else CycleStatus.LATE
    cycle.completed_at = at
    if cycle.duty == "data_comparison":
        value: Any = len(data.get("differences") or [])
    else:
        value = data.get(OUTCOME_KEYS.get(cycle.duty, ""))
    cycle.outcome = None if value is None else str(value)[:60]
    return True
