"""The case timeline: one entry per thing any department did, in order."""

from __future__ import annotations

from typing import Any, Protocol

from app.common.clock import now
from app.extensions import db
from app.org.models import Unit, User

from .models import Case, TimelineEntry


class StepRef(Protocol):
    """What an entry keeps of a task (``app.tasks.models.Task``, a layer above): its ids and unit."""

    @property
    def id(self) -> int: ...
    @property
    def unit_id(self) -> int | None: ...
    @property
    def instance_id(self) -> int: ...


class InstanceRef(Protocol):
    """What an entry keeps of a process instance (``app.processes.models.ProcessInstance``)."""

    @property
    def id(self) -> int: ...


def record(case: Case, kind: str, summary: str, *, actor: User | None = None, unit: Unit | None = None,
           task: StepRef | None = None, instance: InstanceRef | None = None,
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
