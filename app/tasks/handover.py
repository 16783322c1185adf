"""Hand-overs of an absent person's claimed tasks: to the substitute when the absence begins, back (or left
with the substitute, as the person chose) when it ends.

Run by the sweep (``workers.jobs.hand_over_absences``, from the database: nothing is lost while a worker is
down) and at once by the request that sets or ends an absence under way. Each task moved is one
``task_handover`` row, a case timeline entry, an audit row (``handover``, by whoever set the absence), a
version bump and ``task_reassigned`` (the deadlines package restarts the ladder for the new holder), and
the new holder is told. Idempotent: an absence is handed over once (``handed_over_at``) and settled once
(``settled_at``), each under its row lock; a task someone else took meanwhile is left alone.
Operations flush; the caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.audit.operations import audit
from app.cases.models import Case
from app.cases.timeline import record
from app.common import events
from app.common.clock import now
from app.common.dialect import for_update
from app.extensions import db
from app.notifications.operations import notify
from app.org.models import Absence, User
from app.org.roles import Role

from . import operations
from .models import Task, TaskHandover, TaskState

KINDS = {"away": "交由代理人办理", "back": "代理结束，交还本人", "kept": "代理结束，留给代理人"}


def _move(task: Task, absence: Absence, kind: str, from_user: User, to_user: User, at: datetime) -> bool:
    if kind != "kept" and not operations.hand_to(task, from_user.id, to_user):
        return False
    case = db.session.get(Case, task.case_id)
    assert case is not None
    db.session.add(TaskHandover(task_id=task.id, absence_id=absence.id, kind=kind, from_user_id=from_user.id,
                                to_user_id=to_user.id, at=at))
    detail = {"absence_id": absence.id, "handover": kind, "from_user_id": from_user.id, "to_user_id": to_user.id,
              "task": task.name, "to": to_user.display_name}
    record(case, "task_handed_over", f"{task.name}: {KINDS[kind]} {to_user.display_name}", task=task, detail=detail)
    audit(absence.set_by_id, "handover", "task", task.id, case_id=task.case_id, detail=detail)
    if kind != "kept":
        events.task_reassigned.send(task, case=case, by=None, previous=from_user)
        notify([to_user], "task_handed_over", f"{case.number}: {task.name}", case_id=case.id, task_id=task.id)
    return True


def _works(user: User | None) -> bool:
    return user is not None and user.active and user.has_role(Role.LIAISON, Role.UNIT_HEAD)


def _claimed_by(absence: Absence) -> list[Task]:
    return list(db.session.scalars(sa.select(Task).where(
        Task.assignee_id == absence.user_id, Task.unit_id == absence.unit_id, Task.state == TaskState.OPEN)
        .order_by(Task.id)))


def begin(absence: Absence, at: datetime) -> int:
    """Hand the person's claimed tasks to the substitute (none named: they stay, and the unit's heads get
    what is meant for the person, ``org.absence.StandIns``). How many moved."""
    absence.handed_over_at = at
    substitute = absence.substitute
    if substitute is None or not _works(substitute) or substitute.unit_id != absence.unit_id:
        return 0
    return sum(_move(task, absence, "away", absence.user, substitute, at) for task in _claimed_by(absence))


def settle(absence: Absence, at: datetime) -> int:
    """At the end: the tasks handed over and still with the substitute go back, or are left with them
    (``on_return``; back only to a person who still works tasks of the unit). How many were settled."""
    absence.settled_at = at
    if absence.handed_over_at is None or absence.substitute is None:
        return 0
    handed = list(db.session.scalars(
        sa.select(Task).join(TaskHandover, TaskHandover.task_id == Task.id)
        .where(TaskHandover.absence_id == absence.id, TaskHandover.kind == "away",
               Task.state == TaskState.OPEN, Task.assignee_id == absence.substitute_id)
        .order_by(Task.id)))
    person, substitute = absence.user, absence.substitute
    back = absence.on_return == "return" and _works(person) and person.unit_id == absence.unit_id
    if back:
        return sum(_move(task, absence, "back", substitute, person, at) for task in handed)
    return sum(_move(task, absence, "kept", person, substitute, at) for task in handed)


def _locked(stmt: sa.Select[Any]) -> list[Absence]:
    return list(db.session.scalars(for_update(stmt.order_by(Absence.id), of=Absence, skip_locked=True)))


def due_absence_ids(at: datetime) -> list[int]:
    """Absences whose start or end hand-over is due (the sweep's read; no locks)."""
    return list(db.session.scalars(sa.select(Absence.id).where(Absence.settled_at.is_(None), sa.or_(
        Absence.ends_at <= at, sa.and_(Absence.handed_over_at.is_(None), Absence.starts_at <= at)))
        .order_by(Absence.id)))


def run_due(at: datetime | None = None, absence_ids: list[int] | None = None) -> tuple[int, int]:
    """Every hand-over due by ``at`` (of these absences): begins first, then ends. (tasks handed over, tasks
    settled). An absence whose whole period passed unseen (the sweep was down) is settled with nothing moved.
    Flushes."""
    at = at or now()
    scope = [Absence.id.in_(absence_ids)] if absence_ids is not None else []
    moved = settled = 0
    for absence in _locked(sa.select(Absence).where(
            *scope, Absence.handed_over_at.is_(None), Absence.settled_at.is_(None), Absence.cancelled_at.is_(None),
            Absence.starts_at <= at, Absence.ends_at > at)):
        moved += begin(absence, at)
    for absence in _locked(sa.select(Absence).where(*scope, Absence.settled_at.is_(None), Absence.ends_at <= at)):
        settled += settle(absence, at)
    db.session.flush()
    return moved, settled


def handovers_out(task_id: int) -> list[dict[str, Any]]:
    """The task's hand-overs for its page and the API, oldest first."""
    rows = db.session.scalars(sa.select(TaskHandover).where(TaskHandover.task_id == task_id)
                              .order_by(TaskHandover.at, TaskHandover.id))
    return [{"at": r.at, "kind": r.kind, "label": KINDS[r.kind], "absence_id": r.absence_id,
             "from": r.from_user.display_name, "to": r.to_user.display_name} for r in rows]
