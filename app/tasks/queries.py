"""Reads about tasks: inbox filters and the open tasks of a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db

from .models import Task, TaskState


@dataclass
class TaskFilter:
    unit_id: int | None = None
    assignee_id: int | None = None
    state: str | None = None
    overdue: bool | None = None
    due_within_hours: float | None = None
    case_id: int | None = None
    bpmn_id: str | None = None


def task_query(f: TaskFilter, at: datetime) -> sa.Select[Task]:
    stmt = sa.select(Task)
    if f.unit_id is not None:
        stmt = stmt.where(Task.unit_id == f.unit_id)
    if f.assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == f.assignee_id)
    if f.state:
        stmt = stmt.where(Task.state == f.state)
    if f.case_id is not None:
        stmt = stmt.where(Task.case_id == f.case_id)
    if f.bpmn_id:
        stmt = stmt.where(Task.bpmn_id == f.bpmn_id)
    if f.overdue is True:
        stmt = stmt.where(Task.state == TaskState.OPEN, Task.due_at <= at)
    elif f.overdue is False:
        stmt = stmt.where(sa.or_(Task.due_at.is_(None), Task.due_at > at, Task.state != TaskState.OPEN))
    if f.due_within_hours is not None:
        stmt = stmt.where(Task.state == TaskState.OPEN, Task.due_at > at,
                          Task.due_at <= at + timedelta(hours=f.due_within_hours))
    return stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.id)


def open_tasks_of_case(case_id: int) -> list[Task]:
    return list(db.session.scalars(sa.select(Task).where(
        Task.case_id == case_id, Task.state == TaskState.OPEN).order_by(Task.id)))
