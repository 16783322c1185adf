"""Writes on tasks: claim, unclaim, reassign, and the checks a completion passes before the engine runs.

Completing a task is a workflow command (``app.workflow.commands.complete``): it advances the process.
Operations flush; the caller commits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.operations import audit, audit_statement
from app.cases.models import Case
from app.cases.timeline import record
from app.common import events
from app.common.clock import now
from app.common.dialect import is_postgresql
from app.common.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.notifications.operations import notify
from app.org.models import User
from app.org.queries import is_service_account
from app.org.roles import Role
from app.processes.models import ProcessInstance
from app.processes.queries import form_schema, lock_instance, lock_instance_for_one_read, lock_instance_row

from . import conflicts
from .claiming import claim_in_one_statement, claimed_summary
from .conflicts import Submission
from .models import Task, TaskDraft, TaskState


def get_task(task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    return task


def ensure_can_act(user: User, task: Task) -> None:
    """Only members (liaisons, unit heads) of the task's unit act on it."""
    if task.unit_id is None or user.unit_id != task.unit_id or not user.has_role(Role.LIAISON, Role.UNIT_HEAD):
        raise Forbidden("this task belongs to another unit")


def _ensure_open(task: Task, user: User | None = None) -> None:
    """409 unless the task is open; to the person who completed it, say so (a retry without a key after
    a dropped connection can then tell that its first attempt went through)."""
    if task.state == TaskState.OPEN:
        return
    if user is not None and task.state == TaskState.COMPLETED and task.completed_by_id == user.id:
        at = task.completed_at.isoformat() if task.completed_at else "an earlier request"
        raise _completed_by_you(task.id, at)
    raise Conflict(f"task {task.id} is already {task.state}")


def _completed_by_you(task_id: int, at: str) -> Conflict:
    """The 409 for a repeated completion by the one who completed it: when, beside the message (no field is
    at fault, so not among the errors)."""
    conflict = Conflict(f"task {task_id} is already completed, by you at {at}")
    conflict.body = {"completed_by_you": at}
    return conflict


def lock_task(task: Task) -> ProcessInstance:
    """Take the command's locks in the one order every task command uses: instance, then task.

    The instance row is locked first (``FOR UPDATE`` on PostgreSQL), then the task is read again, so
    what the caller checks next is what it acts on. A command that took the task row first and then
    needed the instance (every timeline row references it) deadlocked against a completion, which
    holds the instance while it rewrites the task rows (docs/architecture.md, "Lock order").
    """
    instance = lock_instance(task.instance_id)
    if instance is None:
        raise Conflict("the task's process instance no longer exists")
    db.session.refresh(task)
    return instance


def _assign_if(task: Task, expected: int | None, new: int | None) -> bool:
    """``UPDATE task SET assignee`` only while the task is open and held by ``expected``: True if it was.

    The row's own condition decides, not what this request read earlier: of two claimers exactly
    one matches, and a claim can never land on a task that closed meanwhile (SQLite too, which
    takes no row locks).
    """
    holder = Task.assignee_id.is_(None) if expected is None else Task.assignee_id == expected
    at = now() if new is not None else None
    version = db.session.scalar(
        sa.update(Task).where(Task.id == task.id, Task.state == TaskState.OPEN, Task.unit_id == task.unit_id, holder)
        .values(assignee_id=new, claimed_at=at, version=Task.version + 1).returning(Task.version)
        .execution_options(synchronize_session=False))
    if version is not None:  # the row is what we wrote, its version as the UPDATE left it: nothing to read back
        set_committed_value(task, "assignee_id", new)
        set_committed_value(task, "claimed_at", at)
        set_committed_value(task, "version", version)
        db.session.expire(task, ["assignee"])  # reloaded from the identity map when next read
        return True
    db.session.refresh(task)  # someone else's change won: read what it is, to say so
    return False


def hand_to(task: Task, holder_id: int, to_user: User) -> bool:
    """Move an open task from ``holder_id`` to ``to_user`` under the command's locks (an absence's hand-over,
    ``app.tasks.handover``): False, changing nothing, when it is no longer open or someone else holds it."""
    lock_task(task)
    if task.state != TaskState.OPEN or task.assignee_id != holder_id:
        return False
    return _assign_if(task, holder_id, to_user.id)


def _taken_by(task: Task) -> str:
    return task.assignee.display_name if task.assignee else "?"


def claim(task: Task, user: User) -> Task:
    """Take an open task; 409 when someone else holds it or it is no longer open (exactly one claimer wins).

    Under the instance lock the conditional UPDATE decides alone (open, still in the unit that was checked, held
    by nobody): the task is read again only when it refused, to say why (issue 17 part 3: the re-read of every
    claim and the instance's state loaded with its lock were a third of a claim's statements' CPU)."""
    ensure_can_act(user, task)
    if is_postgresql():  # lock, UPDATE, audit and timeline rows in one statement (``claiming``)
        return _claim_in_one_statement(task, user)
    if not lock_instance_row(task.instance_id):
        raise Conflict("the task's process instance no longer exists")
    if not _assign_if(task, None, user.id):  # refreshed: what it is now, under the lock
        ensure_can_act(user, task)
        _ensure_open(task)
        if task.assignee_id == user.id:  # already yours (a double click, a retry): still yours, nothing written
            return task
        raise Conflict(f"task {task.id} is already claimed by {_taken_by(task)}")
    case = db.session.get(Case, task.case_id)
    assert case is not None
    record(case, "task_claimed", claimed_summary(task, user), actor=user, task=task,
           detail={"task": task.name})
    audit(user.id, "claim", "task", task.id, case_id=task.case_id)
    db.session.flush()
    return task


def _claim_in_one_statement(task: Task, user: User) -> Task:
    """``claim``'s writes as ``claiming.claim_in_one_statement`` sends them (PostgreSQL); the same answers."""
    locked, version, at = claim_in_one_statement(task, user)
    if not locked:
        raise Conflict("the task's process instance no longer exists")
    if version is None:
        db.session.refresh(task)  # under the lock the statement took: what it is now, to say why
        ensure_can_act(user, task)
        _ensure_open(task)
        if task.assignee_id == user.id:  # already yours (a double click, a retry): still yours, nothing written
            return task
        raise Conflict(f"task {task.id} is already claimed by {_taken_by(task)}")
    set_committed_value(task, "assignee_id", user.id)
    set_committed_value(task, "claimed_at", at)
    set_committed_value(task, "version", version)
    db.session.expire(task, ["assignee"])  # reloaded from the identity map when next read
    return task


def unclaim(task: Task, user: User) -> Task:
    ensure_can_act(user, task)
    lock_task(task)
    _ensure_open(task)
    if task.assignee_id is None:
        return task
    if task.assignee_id != user.id and not user.has_role(Role.UNIT_HEAD):
        raise Forbidden("only the assignee or the unit head can release this task")
    if not _assign_if(task, task.assignee_id, None):
        _ensure_open(task)
        raise Conflict(f"task {task.id} changed while you were releasing it; reload and try again")
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
    ensure_can_act(by, task)
    if not by.has_role(Role.UNIT_HEAD):
        raise Forbidden("only the unit head can reassign tasks")
    lock_task(task)
    _ensure_open(task)
    if (to_user.unit_id != task.unit_id or not to_user.active
            or not to_user.has_role(Role.LIAISON, Role.UNIT_HEAD) or is_service_account(to_user)):
        raise Forbidden(f"{to_user.display_name} is not an active member of this task's unit")
    if task.assignee_id == to_user.id:
        return task
    previous = task.assignee
    if not _assign_if(task, task.assignee_id, to_user.id):
        _ensure_open(task)
        raise Conflict(f"task {task.id} changed while you were reassigning it; reload and try again")
    case = db.session.get(Case, task.case_id)
    assert case is not None
    # The deadlines package restarts the ladder: steps still ahead address the new holder.
    events.task_reassigned.send(task, case=case, by=by, previous=previous)
    record(case, "task_reassigned", f"{task.name} reassigned to {to_user.display_name} by {by.display_name}",
           actor=by, task=task, detail={"from_user_id": previous.id if previous else None, "to_user_id": to_user.id,
                                     "task": task.name, "to": to_user.display_name})
    notify([to_user], "task_reassigned", f"{case.number}: {task.name}", case_id=case.id, task_id=task.id)
    audit(by.id, "reassign", "task", task.id, case_id=task.case_id,
          detail={"from_user_id": previous.id if previous else None, "to_user_id": to_user.id,
                                     "task": task.name, "to": to_user.display_name})
    db.session.flush()
    return task


DRAFTED = "tasks.drafted"
"""``session.info`` key: task id -> whether it had drafts when a completion read it under the lock."""


@dataclass(frozen=True)
class CompletionLock:
    """What a completion read under its lock: the instance, its case, and its open tasks (the projection
    rebuild compares those with the engine's ready tasks, so it need not read them again)."""

    instance: ProcessInstance
    case: Case
    open_tasks: list[Task]
    others_running: bool
    """Whether another instance of the case is running (the closing step's ``last_of_case``, read with the rest)."""


@functools.cache
def _completion_read(with_instance: bool) -> sa.Select[*tuple[Any, ...]]:
    """Built once (constructing it cost more than running it): the task, the instance's other open tasks, the case,
    whether each has drafts, whether another instance of the case is running (the closing step asked it in one more
    statement), and with ``with_instance`` the instance on the task's row."""
    task_id: sa.BindParameter[int] = sa.bindparam("task_id")
    drafted = sa.exists().where(TaskDraft.task_id == Task.id).label("drafted")
    other = aliased(ProcessInstance)
    others = sa.exists().where(other.case_id == Task.case_id, other.id != Task.instance_id,
                               other.status == "running").label("others_running")
    stmt = (sa.select(Task, Case, drafted, others).join(Case, Case.id == Task.case_id)
            .where(Task.instance_id == sa.bindparam("instance_id"), sa.or_(Task.state == TaskState.OPEN, Task.id == task_id))
            .order_by(Task.id))
    if with_instance:
        stmt = stmt.add_columns(ProcessInstance).outerjoin(
            ProcessInstance, sa.and_(ProcessInstance.id == Task.instance_id, Task.id == task_id))
    return stmt.execution_options(populate_existing=True)


def lock_for_completion(task: Task, user: User, sent: Submission | None = None, data: Any = None) -> CompletionLock:
    """Lock a task for its completion and check that ``user`` may complete it now.

    403 when the task is another unit's;
    409 when it is no longer open or someone else holds it (a unit head may complete a task a member
    holds); with ``sent`` naming the task version the form was rendered from, also when the task moved
    since, and then the 409 carries both sides (``conflicts.StaleSubmission``). The locks are the
    command's, taken once. The completion's audit row goes out with the lock (one statement fewer): a refused
    completion's caller rolls back, as it must for any command, and the row with it.
    """
    ensure_can_act(user, task)
    audited = audit_statement(user.id, "complete", "task", task.id, case_id=task.case_id)
    locked = lock_instance_for_one_read(task.instance_id, audited)
    if locked is None or locked is False:
        raise Conflict("the task's process instance no longer exists")
    # One statement after the lock: this task read again, the instance's other open tasks and the case (on
    # SQLite, whose lock is a no-op write, the instance too, on this task's row only: its state is large).
    # Whether the task has drafts rides along, so a completion without one deletes none (one statement less).
    rows = db.session.execute(_completion_read(locked is True),
                              {"instance_id": task.instance_id, "task_id": task.id}).all()
    mine = next((row for row in rows if row.Task is task), None)
    if mine is None:
        raise Conflict(f"task {task.id} no longer exists")
    case = mine.Case
    instance = mine.ProcessInstance if locked is True else locked
    if not isinstance(instance, ProcessInstance):  # SQLite: the lock's write was the audit row, the read tells
        raise Conflict("the task's process instance no longer exists")
    db.session.info.setdefault(DRAFTED, {}).update({row.Task.id: bool(row.drafted) for row in rows})
    # The first check saw the task as read before the lock; it may have been handed to another unit while this
    # request waited. Checked again on the row read under the lock, before a 409 could show that unit's values.
    ensure_can_act(user, task)
    if sent is not None and sent.version is not None and conflicts.kind_of(task, user, sent.version) is not None:
        conflicts.check(task, user, sent, form_schema(instance.spec, task.form) if task.form else None, data)
    _ensure_open(task, user)
    if task.assignee_id is not None and task.assignee_id != user.id and not user.has_role(Role.UNIT_HEAD):
        raise Conflict(f"task {task.id} is claimed by someone else")
    return CompletionLock(instance, case, [row.Task for row in rows if row.Task.state == TaskState.OPEN],
                          bool(mine.others_running))
