"""Writes on tasks: claim, unclaim, complete. Operations flush; the caller commits."""

from __future__ import annotations

from typing import Any

from app.cases.audit import audit
from app.cases.models import Case
from app.cases.timeline import record
from app.common.clock import now
from app.common.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.org.models import User
from app.org.roles import Role
from app.processes import runtime
from app.processes.queries import form_schema, lock_instance

from .forms import validate_form_data
from .models import Task, TaskState


def get_task(task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def ensure_can_act(user: User, task: Task) -> None:
    """Only members (liaisons, unit heads) of the task's unit act on it."""
    if task.unit_id is None or user.unit_id != task.unit_id or not user.has_role(Role.LIAISON, Role.UNIT_HEAD):
        raise Forbidden("this task belongs to another unit")


def _ensure_open(task: Task) -> None:
    if task.state != TaskState.OPEN:
        raise Conflict(f"task {task.id} is already {task.state}")


def claim(task: Task, user: User) -> Task:
    ensure_can_act(user, task)
    _ensure_open(task)
    if task.assignee_id == user.id:
        return task
    if task.assignee_id is not None:
        raise Conflict(f"task {task.id} is already claimed by {task.assignee.display_name if task.assignee else '?'}")
    task.assignee_id = user.id
    task.claimed_at = now()
    case = db.session.get(Case, task.case_id)
    assert case is not None
    record(case, "task_claimed", f"{task.name} claimed by {user.display_name}", actor=user, task=task,
           detail={"task": task.name})
    audit(user.id, "claim", "task", task.id, case_id=task.case_id)
    db.session.flush()
    return task


def unclaim(task: Task, user: User) -> Task:
    ensure_can_act(user, task)
    _ensure_open(task)
    if task.assignee_id is None:
        return task
    if task.assignee_id != user.id and not user.has_role(Role.UNIT_HEAD):
        raise Forbidden("only the assignee or the unit head can release this task")
    task.assignee_id = None
    task.claimed_at = None
    case = db.session.get(Case, task.case_id)
    assert case is not None
    record(case, "task_unclaimed", f"{task.name} released by {user.display_name}", actor=user, task=task,
           detail={"task": task.name})
    audit(user.id, "unclaim", "task", task.id, case_id=task.case_id)
    db.session.flush()
    return task


def reassign(task: Task, to_user: User, by: User) -> Task:
    """A unit head hands an open task to an active member of the task's unit (claimed or not).

    The new assignee is notified (``task_reassigned``); the case timeline and the audit log
    record who moved it from whom.
    """
    from app.notifications.operations import notify

    ensure_can_act(by, task)
    if not by.has_role(Role.UNIT_HEAD):
        raise Forbidden("only the unit head can reassign tasks")
    _ensure_open(task)
    if (to_user.unit_id != task.unit_id or not to_user.active
            or not to_user.has_role(Role.LIAISON, Role.UNIT_HEAD)):
        raise Forbidden(f"{to_user.display_name} is not an active member of this task's unit")
    if task.assignee_id == to_user.id:
        return task
    previous = task.assignee
    task.assignee_id = to_user.id
    task.claimed_at = now()
    from .escalation import restart_ladder

    restart_ladder(task)  # steps still ahead now address the new holder (docs/deadlines-and-escalation.md)
    case = db.session.get(Case, task.case_id)
    assert case is not None
    record(case, "task_reassigned", f"{task.name} reassigned to {to_user.display_name} by {by.display_name}",
           actor=by, task=task, detail={"from_user_id": previous.id if previous else None, "to_user_id": to_user.id,
                                     "task": task.name, "to": to_user.display_name})
    notify([to_user], "task_reassigned", f"{case.number}: {task.name}", case_id=case.id, task_id=task.id)
    audit(by.id, "reassign", "task", task.id, case_id=task.case_id,
          detail={"from_user_id": previous.id if previous else None, "to_user_id": to_user.id,
                                     "task": task.name, "to": to_user.display_name})
    db.session.flush()
    return task


def complete(task: Task, user: User, data: Any) -> Task:
    """Validate ``data`` against the task's form and complete the task in the engine.

    Refuses (and changes nothing) when the task is another unit's (403), no
    longer open or claimed by someone else (409), or the data is invalid (422).
    """
    ensure_can_act(user, task)
    _ensure_open(task)
    if task.assignee_id is not None and task.assignee_id != user.id and not user.has_role(Role.UNIT_HEAD):
        raise Conflict(f"task {task.id} is claimed by someone else")
    instance = lock_instance(task.instance_id)  # the command's lock, taken once and handed to runtime
    if instance is None:
        raise Conflict("the task's process instance no longer exists")
    clean: dict[str, Any] = validate_form_data(form_schema(instance.spec, task.form), data)
    runtime.complete(task, clean, user, locked=instance)
    audit(user.id, "complete", "task", task.id, case_id=task.case_id)
    return task
