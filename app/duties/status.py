"""Whether a duty cycle is fulfilled, and its outcome: one rule for the scheduler and the receivers."""

from __future__ import annotations

from collections.abc import Sequence
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


Fulfilment = tuple[datetime, dict[str, Any]]

CHUNK = 1000
"""Cycles read together by ``fulfilled_many`` (one IN list each)."""


def fulfilled_many(cycles: Sequence[DutyCycle]) -> tuple[dict[int, Fulfilment], dict[int, str]]:
    """``fulfilled`` for many cycles in two or three statements, not two per cycle (a Monday's sweep settles
    every enrolled child's weekly contact): the fulfilled ones by cycle id, and every instance's status by
    instance id."""
    instance_ids = sorted({c.instance_id for c in cycles if c.instance_id is not None})
    steps = sorted({step for c in cycles if c.instance_id is not None
                    and (step := DUTIES[c.duty].done_step) is not None})
    done_steps: dict[tuple[int, str], Fulfilment] = {}
    ended: dict[int, Fulfilment] = {}
    statuses: dict[int, str] = {}
    for chunk in (instance_ids[i:i + CHUNK] for i in range(0, len(instance_ids), CHUNK)):
        if steps:
            for instance_id, bpmn_id, at, data in db.session.execute(
                    sa.select(Task.instance_id, Task.bpmn_id, Task.completed_at, Task.data)
                    .where(Task.instance_id.in_(chunk), Task.bpmn_id.in_(steps), Task.state == TaskState.COMPLETED,
                           Task.completed_at.is_not(None))
                    .order_by(Task.completed_at, Task.id)):
                done_steps.setdefault((instance_id, bpmn_id), (at, data or {}))
        for instance_id, status, at in db.session.execute(
                sa.select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.completed_at)
                .where(ProcessInstance.id.in_(chunk))):
            statuses[instance_id] = status
            if status == "completed" and at is not None:
                ended[instance_id] = (at, {})
        completed = [i for i in chunk if i in ended]
        if completed:
            for instance_id, data in db.session.execute(
                    sa.select(ProcessInstance.id, ProcessInstance.data).where(ProcessInstance.id.in_(completed))):
                ended[instance_id] = (ended[instance_id][0], data or {})
    found: dict[int, Fulfilment] = {}
    for cycle in cycles:
        if cycle.instance_id is None:
            continue
        step = DUTIES[cycle.duty].done_step
        hit = done_steps.get((cycle.instance_id, step)) if step is not None else None
        hit = hit or ended.get(cycle.instance_id)
        if hit is not None:
            found[cycle.id] = hit
    return found, statuses


_LOOK_UP: Any = object()
"""``settle``'s default: read whether the cycle is fulfilled now."""


def settle(cycle: DutyCycle, found: Fulfilment | None = _LOOK_UP) -> bool:
    """Mark an open or missed cycle done (by its due time) or late, with its outcome; True if it changed.
    ``found``: what ``fulfilled_many`` read for it, when the caller settles many cycles at once."""
    if cycle.status not in (CycleStatus.OPEN, CycleStatus.MISSED):
        return False
    if found is _LOOK_UP:
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
