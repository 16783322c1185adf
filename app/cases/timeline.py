"""The case timeline: one entry per thing any department did, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.common.clock import now
from app.extensions import db

from .models import Case, TimelineEntry

if TYPE_CHECKING:
    from app.org.models import Unit, User
    from app.processes.models import ProcessInstance
    from app.tasks.models import Task


def record(case: Case, kind: str, summary: str, *, actor: User | None = None, unit: Unit | None = None,
           task: Task | None = None, instance: ProcessInstance | None = None,
           detail: dict[str, Any] | None = None) -> TimelineEntry:
    entry = TimelineEntry(
        case_id=case.id, at=now(), kind=kind, summary=summary[:500],
        actor_id=actor.id if actor else None,
        unit_id=unit.id if unit else (task.unit_id if task else None),
        task_id=task.id if task else None,
        instance_id=instance.id if instance else (task.instance_id if task else None),
        detail=detail or {},
    )
    db.session.add(entry)
    return entry
