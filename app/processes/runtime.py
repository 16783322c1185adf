"""Run engine commands for the platform: one command, one saved state, fresh projections.

Every command here loads the instance (locked), asks ``app.engine`` to act,
saves the new state with ``version + 1`` and rebuilds the task and timer
projections and the case timeline, all in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from blinker import Namespace
from sqlalchemy.orm.exc import StaleDataError

from app import engine
from app.cases.models import Case
from app.cases.timeline import record
from app.common.clock import now
from app.common.errors import Conflict, DomainError
from app.extensions import db
from app.org.models import User
from app.tasks.models import Task
from app.tasks.projection import mark_completed, sync_projections

from .models import ProcessInstance, ProcessSpec
from .queries import lock_instance

_signals = Namespace()

instance_completed = _signals.signal("instance-completed")
"""Sent (sender: the ``ProcessInstance``; ``case=``, ``actor=``) when an instance reaches its end, inside
the command's transaction, after the projections are rebuilt. Receivers flush only; raising rolls the
command back. Conferences and recurring duties use it to record outcomes without polling."""

INTERESTING_STEPS = {"BusinessRuleTask", "ScriptTask", "EndEvent", "BoundaryEvent", "IntermediateCatchEvent"}


class ProcessFailed(DomainError):
    """A script or decision in the process failed; nothing was saved.

    422, not 500: the server is fine, the process content cannot go on with this step (a script's error,
    or data it left that cannot be stored as JSON); the message names the step for the designer.
    """

    status = 422


def _run(command: Any, *args: Any) -> engine.InstanceSnapshot:
    try:
        snap: engine.InstanceSnapshot = command(*args, now=now())
    except engine.ProcessScriptError as exc:
        where = f" at {exc.bpmn_id}" if exc.bpmn_id else ""
        raise ProcessFailed(f"the process failed{where}: {exc}") from exc
    return snap


def _apply(instance: ProcessInstance, case: Case, snap: engine.InstanceSnapshot,
           actor: User | None, completed: Task | None = None) -> None:
    at = now()
    instance.state = snap.state
    instance.serializer_version = snap.serializer_version
    instance.data = _jsonable(snap.data)
    instance.updated_at = at
    finished_now = snap.completed and instance.status != "completed"
    if finished_now:
        instance.status = "completed"
        instance.completed_at = at
        instance.end_event = snap.end_event
    if snap.data.get("grade"):
        case.grade = str(snap.data["grade"])
    if snap.data.get("help_tier"):
        case.help_tier = str(snap.data["help_tier"])
    for step in snap.steps:
        if step.kind in INTERESTING_STEPS:
            summary = step.name
            if step.kind == "BusinessRuleTask" and case.help_tier:
                summary = f"{step.name}: {case.help_tier}"
            record(case, "engine_step", summary, instance=instance,
                   detail={"bpmn_id": step.bpmn_id, "kind": step.kind})
    sync_projections(instance, case, snap, completed=completed)
    if snap.completed and case.status == "open" and _closes_case(instance, case):
        case.status = "closed"
        case.closed_at = at
        end_name = next((step.name for step in snap.steps if step.bpmn_id == snap.end_event and step.name), "")
        record(case, "case_closed", f"case closed ({snap.end_event})", actor=actor, instance=instance,
               detail={"end_event": snap.end_event, "end_name": end_name})
    if finished_now:
        instance_completed.send(instance, case=case, actor=actor)
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise Conflict("the case changed while you were working on it; reload and try again") from exc


def _closes_case(instance: ProcessInstance, case: Case) -> bool:
    """A protection case closes when its last running instance ends.

    A child's programme file and a region's work file stay open across their
    many short instances (recurring duties, conference actions), and a conference
    action still running keeps a protection case open until it is done.
    """
    if case.kind != "protection":
        return False
    others = db.session.scalar(sa.select(sa.exists().where(
        ProcessInstance.case_id == case.id, ProcessInstance.id != instance.id,
        ProcessInstance.status == "running")))
    return not others


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(data, default=str))


def start(case: Case, spec: ProcessSpec, data: dict[str, Any], actor: User | None) -> ProcessInstance:
    """Start ``spec`` for ``case`` with ``data`` as the start data."""
    snap = _run(engine.start_instance, spec.content_hash, lambda: spec.spec_json, data)
    at = now()
    instance = ProcessInstance(
        case_id=case.id, spec_id=spec.id, spec=spec, state=snap.state,
        serializer_version=snap.serializer_version, status="running", data={},
        started_at=at, updated_at=at,
    )
    db.session.add(instance)
    db.session.flush()
    record(case, "process_started", f"{spec.name} v{spec.version}", actor=actor, instance=instance)
    _apply(instance, case, snap, actor)
    return instance


def complete(task: Task, data: dict[str, Any], actor: User, locked: ProcessInstance | None = None) -> ProcessInstance:
    """Complete ``task`` in the engine; raises Conflict when someone else got there first.

    ``locked``: the task's instance as the caller already locked it in this transaction and read the
    task again after that (``tasks.operations.lock_task``), so neither row is selected twice.
    Lock order: the instance, then the task (docs/architecture.md).
    """
    if locked is not None and locked.id == task.instance_id:
        instance: ProcessInstance | None = locked
    else:
        instance = lock_instance(task.instance_id)
        db.session.refresh(task)
    if instance is None:
        raise Conflict("the task's process instance no longer exists")
    if task.state != "open":
        raise Conflict(f"task {task.id} is already {task.state}")
    spec = instance.spec
    try:
        snap = engine.complete_task(spec.content_hash, lambda: spec.spec_json, instance.state, task.engine_task_id, data,
                                    now=now())
    except engine.TaskNotReady as exc:
        raise Conflict(str(exc)) from exc
    except engine.ProcessScriptError as exc:
        raise ProcessFailed(f"the process failed at {exc.bpmn_id or task.bpmn_id}: {exc}") from exc
    case = db.session.get(Case, instance.case_id)
    assert case is not None
    mark_completed(task, case, actor, data)
    _apply(instance, case, snap, actor, completed=task)
    return instance


def fire_due_timers(instance_id: int) -> ProcessInstance | None:
    """Ask the engine to fire whatever timers are due on one instance (idempotent)."""
    instance = lock_instance(instance_id)
    if instance is None or instance.status != "running":
        return instance
    spec = instance.spec
    snap = _run(engine.fire_timers, spec.content_hash, lambda: spec.spec_json, instance.state)
    case = db.session.get(Case, instance.case_id)
    assert case is not None
    _apply(instance, case, snap, None)
    return instance


def cancel(instance: ProcessInstance, actor: User | None, reason: str) -> ProcessInstance:
    """Cancel a running instance in the engine, withdraw its open tasks and say why on the timeline.

    Idempotent: an instance that is no longer running is returned unchanged.
    """
    locked = lock_instance(instance.id)
    if locked is None or locked.status != "running":
        return locked or instance
    spec = locked.spec
    snap = engine.cancel_instance(spec.content_hash, lambda: spec.spec_json, locked.state)
    case = db.session.get(Case, locked.case_id)
    assert case is not None
    from app.deadlines.escalation import stop_ladder

    at = now()
    for task in db.session.scalars(sa.select(Task).where(Task.instance_id == locked.id, Task.state == "open")):
        task.state = "cancelled"
        task.completed_at = at
        stop_ladder(task)
        record(case, "task_cancelled", f"{task.name}: {reason}", actor=actor, task=task,
               detail={"bpmn_id": task.bpmn_id, "task": task.name, "reason": reason})
    locked.state = snap.state
    locked.serializer_version = snap.serializer_version
    locked.status = "cancelled"
    locked.updated_at = at
    locked.completed_at = at
    sync_projections(locked, case, snap)
    record(case, "process_cancelled", f"{spec.name}: {reason}", actor=actor, instance=locked,
           detail={"reason": reason})
    try:
        db.session.flush()
    except StaleDataError as exc:
        raise Conflict("the case changed while you were working on it; reload and try again") from exc
    return locked
