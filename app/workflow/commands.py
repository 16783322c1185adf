"""The workflow commands: start an instance, complete a task, fire due timers, cancel an instance.

This is the one place that advances a process. Each command takes its locks in the one order
(the instance, then its task rows: docs/architecture.md, "Lock order"), asks ``app.engine`` to act,
saves the new state with ``version + 1`` and rebuilds the projections (``saving.save``), all in the
caller's transaction: operations flush, the page, API view, CLI command or job commits. What other
packages do about a step (close the case, settle a duty cycle) they do on the events in
``app.common.events``; this package imports no feature module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from app import engine
from app.cases.models import Case
from app.cases.timeline import record
from app.common import idempotency
from app.common.clock import now
from app.common.errors import Conflict, DomainError, NotFound
from app.deadlines.escalation import stop_ladder
from app.extensions import db
from app.org.models import User
from app.processes.models import ProcessInstance, ProcessSpec
from app.processes.queries import current_spec, form_schema, lock_instance
from app.tasks.attachments import own_attachments
from app.tasks.conflicts import Submission
from app.tasks.forms import validate_form_data
from app.tasks.models import Task, TaskState
from app.tasks.operations import lock_for_completion

from .projection import sync_projections
from .saving import flush, jsonable, save


class ProcessFailed(DomainError):
    """A script or decision in the process failed; nothing was saved.

    422, not 500: the server is fine, the process content cannot go on with this step (a script's error,
    or data it left that cannot be stored as JSON); the message names the step for the designer.
    """

    status = 422


def _run(command: Callable[..., engine.InstanceSnapshot], *args: Any, at_step: str | None = None) -> engine.InstanceSnapshot:
    try:
        return command(*args, now=now())
    except engine.ProcessScriptError as exc:
        where = exc.bpmn_id or at_step
        raise ProcessFailed(f"the process failed{f' at {where}' if where else ''}: {exc}") from exc


def _case_of(instance: ProcessInstance) -> Case:
    case = db.session.get(Case, instance.case_id)
    assert case is not None
    return case


def start(case: Case, spec: ProcessSpec, data: dict[str, Any], actor: User | None) -> ProcessInstance:
    """Start ``spec`` for ``case`` with ``data`` as the start data."""
    snap = _run(engine.start_instance, spec.content_hash, lambda: spec.spec_json, data)
    at = now()
    # Inserted as ``save`` leaves it (state, data, time): saving it sets nothing new, so no UPDATE follows the INSERT.
    instance = ProcessInstance(
        case_id=case.id, spec_id=spec.id, spec=spec, state=snap.state,
        serializer_version=snap.serializer_version, status="running", data=jsonable(snap.data),
        started_at=at, updated_at=at,
    )
    db.session.add(instance)
    db.session.flush()
    record(case, "process_started", f"{spec.name} v{spec.version}", actor=actor, instance=instance)
    save(instance, case, snap, actor, open_tasks=[], at=at)  # a new instance has no task rows to read
    flush()
    return instance


def start_current(case: Case, process_key: str, data: dict[str, Any], actor: User | None) -> ProcessInstance:
    """Start the version of ``process_key`` new cases start on (the case's county's own, if it has one);
    409 when none is deployed."""
    spec = current_spec(process_key, case.region_id)
    if spec is None:
        raise Conflict(f"process {process_key!r} is not deployed; run `flask processes deploy`")
    return start(case, spec, data, actor)


def complete(task: Task, user: User, data: Any, sent: Submission | None = None) -> Task:
    """Validate ``data`` against the task's form and complete the task in the engine.

    Refuses (and changes nothing) when the task is another unit's (403), no longer open or claimed by
    someone else (409), the data is invalid (422) or a script of the process fails on it (422). ``sent``:
    the task version the form was rendered from (moved since: 409 with both versions) and the files
    uploaded for it (this user's, on this task: else 422), which the completion's timeline entry names.
    """
    # The command's lock (its audit row sent with it): the instance, then (one statement) the task read again with the
    # other open tasks.
    lock = lock_for_completion(task, user, sent, data)
    instance = lock.instance
    clean: dict[str, Any] = validate_form_data(form_schema(instance.spec, task.form), data)
    files = own_attachments(task, user, sent.attachment_ids) if sent is not None else []
    spec = instance.spec
    try:
        snap = _run(engine.complete_task, spec.content_hash, lambda: spec.spec_json, instance.state,
                    task.engine_task_id, clean, at_step=task.bpmn_id)
    except engine.TaskNotReady as exc:
        raise Conflict(str(exc)) from exc
    save(instance, lock.case, snap, user, completed=task, data=clean, open_tasks=lock.open_tasks, files=files,
         others_running=lock.others_running)
    flush()  # the step's one flush: every row above goes out together, then the new tasks' notifications
    return task


def complete_once(task: Task, user: User, data: Any, key: str | None,
                  sent: Submission | None = None) -> tuple[Task, bool]:
    """``complete`` under an idempotency key: (task, True) the first time, (task, False) for a retry.

    A client whose completion committed but whose answer was lost sends the same key again and gets
    the completed task back instead of "already completed". The key is taken before the instance
    lock (docs/architecture.md, "Lock order"); a retry arriving while the first is still running
    waits for it on the key's unique index, then replays it.
    """
    if key:
        request = {"task": task.id, "data": data, **(sent.fingerprint() if sent is not None else {})}
        first = idempotency.take("task_complete", key, user.id, request)
        if first is not None:  # read again: this request may have loaded the task before the first committed
            replay = db.session.get(Task, first, populate_existing=True)
            if replay is None:
                raise NotFound(f"task {first} not found")
            return replay, False
    complete(task, user, data, sent)
    if key:
        idempotency.settle("task_complete", key, task.id)
    return task, True


def fire_due_timers(instance_id: int) -> ProcessInstance | None:
    """Ask the engine to fire whatever timers are due on one instance (idempotent)."""
    instance = lock_instance(instance_id)
    if instance is None or instance.status != "running":
        return instance
    spec = instance.spec
    snap = _run(engine.fire_timers, spec.content_hash, lambda: spec.spec_json, instance.state)
    save(instance, _case_of(instance), snap, None)
    flush()
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
    case = _case_of(locked)
    at = now()
    for task in db.session.scalars(sa.select(Task).where(Task.instance_id == locked.id, Task.state == TaskState.OPEN)
                                    .order_by(Task.id)):
        task.state = TaskState.CANCELLED
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
    flush()
    return locked
