"""A unit head's bulk commands from the inbox: reassign the selected rows to a member, or claim them.

All or none. Every row is checked before anything changes (the task exists, is the head's unit's, is
open, and still has the version the inbox showed), and every refusal names its row: one stale or
foreign row refuses the whole command with a 4xx and the caller's rollback leaves every row as it was.
The rows are then changed one by one through the single-task commands (``operations.reassign`` /
``claim``), in ascending id order (each locks its instance first: docs/architecture.md, "Lock order"),
so each is audited, put on its case's timeline and its version bumped exactly as a single command would.
Operations flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from app.common.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.org.models import User
from app.org.queries import is_service_account
from app.org.roles import Role

from . import operations
from .models import Task, TaskState

MAX_ROWS = 200
"""Rows one bulk command takes: more than two inbox pages of 100."""


@dataclass(frozen=True)
class Pick:
    """One selected inbox row: the task, and the version the inbox showed (None: not checked)."""

    task_id: int
    version: int | None = None


def _checked(picks: Iterable[Pick], by: User) -> list[Task]:
    """The selected tasks, ascending by id, once all of them pass; else one refusal naming every bad row."""
    if not by.has_role(Role.UNIT_HEAD) or by.unit_id is None:
        raise Forbidden("only a unit head can reassign or claim tasks in bulk")
    wanted: dict[int, int | None] = {}
    for pick in picks:
        wanted[pick.task_id] = pick.version
    if not wanted:
        raise Invalid("select at least one task", {"tasks": ["select at least one task"]})
    if len(wanted) > MAX_ROWS:
        raise Invalid(f"at most {MAX_ROWS} tasks at once", {"tasks": [f"at most {MAX_ROWS} tasks at once"]})
    found = {t.id: t for t in db.session.scalars(sa.select(Task).where(Task.id.in_(list(wanted))))}
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise NotFound(f"no such task: {', '.join(map(str, missing))}",
                       {f"tasks.{task_id}": ["no such task"] for task_id in missing})
    foreign = sorted(task_id for task_id, task in found.items() if task.unit_id != by.unit_id)
    if foreign:
        raise Forbidden(f"not your unit's: {', '.join(map(str, foreign))}",
                        {f"tasks.{task_id}": ["another unit's task"] for task_id in foreign})
    errors: dict[str, list[str]] = {}
    for task_id, task in sorted(found.items()):
        if task.state != TaskState.OPEN:
            errors[f"tasks.{task_id}"] = [f"already {task.state}"]
        elif wanted[task_id] is not None and wanted[task_id] != task.version:
            errors[f"tasks.{task_id}"] = [f"changed since you loaded it (version {wanted[task_id]}, now {task.version})"]
    if errors:
        raise Conflict(f"{len(errors)} of the selected tasks changed; reload and try again", errors)
    return [found[task_id] for task_id in sorted(found)]


def _same_version(task: Task, version: int | None) -> None:
    """Under the instance lock: the row is still what the inbox showed (a change since the check above)."""
    if version is not None and task.version != version:
        raise Conflict(f"task {task.id} changed while the command ran; reload and try again",
                       {f"tasks.{task.id}": [f"changed (version {version}, now {task.version})"]})


def reassign_many(picks: list[Pick], to_user: User, by: User) -> list[Task]:
    """Hand every selected task to ``to_user`` (an active worker of the head's unit), or none of them."""
    versions = {p.task_id: p.version for p in picks}
    tasks = _checked(picks, by)
    if (to_user.unit_id != by.unit_id or not to_user.active
            or not to_user.has_role(Role.LIAISON, Role.UNIT_HEAD) or is_service_account(to_user)):
        raise Forbidden(f"{to_user.display_name} is not an active member of your unit",
                        {"to_user_id": ["not an active member of your unit"]})
    for task in tasks:
        operations.lock_task(task)
        _same_version(task, versions[task.id])
        operations.reassign(task, to_user, by)
    return tasks


def claim_many(picks: list[Pick], by: User) -> list[Task]:
    """The head takes every selected task that nobody holds (those already theirs stay); else none of them."""
    versions = {p.task_id: p.version for p in picks}
    tasks = _checked(picks, by)
    held = {f"tasks.{t.id}": [f"claimed by {t.assignee.display_name if t.assignee else '?'}"]
            for t in tasks if t.assignee_id not in (None, by.id)}
    if held:
        raise Conflict(f"{len(held)} of the selected tasks are held by someone else", held)
    for task in tasks:
        operations.lock_task(task)
        _same_version(task, versions[task.id])
        operations.claim(task, by)
    return tasks
