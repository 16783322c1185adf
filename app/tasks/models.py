"""Projections of the engine: one row per human task and per waiting timer.

Rebuilt in the same transaction as every state save, so inboxes, dashboards and
sweeps query these rows and never deserialize a workflow.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cases.models import Case, TimelineEntry
from app.common.clock import is_past_due
from app.common.types import JSONType, UTCDateTime
from app.extensions import Model
from app.org.models import Unit, User


class TaskState(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Task(Model):
    __tablename__ = "task"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "engine_task_id"),
        sa.Index("ix_task_open_due", "state", "due_at"),
        # The sweep's batch (due, oldest first, ties by id, LIMIT, SKIP LOCKED) read in index order: no
        # sort of every due task per batch when thousands share one due time (duty cycles started in bulk).
        sa.Index("ix_task_open_next_escalation", "state", "next_escalation_at", "id"),
        # Only the rows that have a value: an open task's completion time and an unclaimed task's assignee are
        # NULL, and a B-tree keeps NULLs, so the sweep's UPDATE of a million-row table (never HOT: it moves
        # next_escalation_at) inserted an entry into each for every open task it touched. Every query that
        # uses them names a value (``= :id``, ``>= :start``), which implies NOT NULL even in a generic plan.
        sa.Index("ix_task_completed_at", "completed_at", postgresql_where=sa.text("completed_at IS NOT NULL"),
                 sqlite_where=sa.text("completed_at IS NOT NULL")),
        sa.Index("ix_task_assignee_id", "assignee_id", postgresql_where=sa.text("assignee_id IS NOT NULL"),
                 sqlite_where=sa.text("assignee_id IS NOT NULL")),
        # A unit's inbox page in its default order (due soonest, undated last: PostgreSQL's ascending
        # B-tree puts NULLs last) read straight off the index; the step filter's skip scan.
        sa.Index("ix_task_unit_open_due", "unit_id", "state", "due_at", "id"),
        sa.Index("ix_task_unit_open_step", "unit_id", "state", "bpmn_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))
    """Looked up through ``uq_task_instance_id_engine_task_id``, which starts with it (no index of its own)."""
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    engine_task_id: Mapped[str] = mapped_column(sa.String(36))
    bpmn_id: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    lane: Mapped[str | None] = mapped_column(sa.String(40))
    department_kind: Mapped[str | None] = mapped_column(sa.String(40))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    """None when no unit of the kind exists up the region tree: shown to coordinators as unrouted."""
    state: Mapped[str] = mapped_column(sa.String(16), default=TaskState.OPEN)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    form: Mapped[str | None] = mapped_column(sa.String(200))
    instructions: Mapped[str] = mapped_column(sa.Text, default="")
    deadline: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    escalation: Mapped[str | None] = mapped_column(sa.String(500))
    """The step's own ladder (BPMN ``escalation`` property) when it has one; else its process/department's."""
    escalation_level: Mapped[int] = mapped_column(default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """When the next step of the task's escalation ladder is due; NULL when the ladder is done or stopped."""
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    """The form data submitted when the task was completed."""
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    """Bumped by every change a worker filling the form must not miss (``WATCHED``: claim, release,
    reassignment, completion, withdrawal, a migration's rewrite). A submission names the version its form
    was rendered from; any other version is a conflict (``app.tasks.conflicts``), never an overwrite.
    Deadline and escalation bookkeeping do not bump it: a reminder going out changes nothing the worker typed."""

    unit: Mapped[Unit | None] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    timeline: Mapped[list[TimelineEntry]] = relationship(
        primaryjoin="Task.id == foreign(TimelineEntry.task_id)", lazy="raise", cascade="", passive_deletes="all")
    """Never loaded nor written through. It tells the unit of work to insert a new task before the timeline entries
    that name it: a step's one flush writes both (``workflow.projection`` gives new tasks their ids first)."""
    case: Mapped[Case] = relationship(viewonly=True)
    """Read-only: the API's answer shows the case number (a list loads it with the rows, ``joinedload``)."""

    def is_overdue(self, at: datetime) -> bool:
        return self.state == TaskState.OPEN and is_past_due(self.due_at, at)


WATCHED = ("state", "assignee_id", "unit_id", "form", "bpmn_id", "engine_task_id", "data")
"""The task columns whose change bumps ``Task.version`` (the conditional claim UPDATE bumps it itself)."""


@sa.event.listens_for(Task, "before_update")
def _bump_version(_mapper: Any, _connection: Any, task: Task) -> None:
    """Every ORM write of a watched column bumps the version in the same UPDATE (no extra statement),
    so no command that changes a task can forget to."""
    state = sa.inspect(task)
    if any(state.attrs[name].history.has_changes() for name in WATCHED):
        task.version = (task.version or 1) + 1


class Timer(Model):
    """A waiting BPMN timer; the worker asks the engine to fire it once ``due_at`` passes."""

    __tablename__ = "timer"
    __table_args__ = (sa.UniqueConstraint("instance_id", "engine_task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    engine_task_id: Mapped[str] = mapped_column(sa.String(36))
    bpmn_id: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    """Failed attempts to fire this timer; reset when it fires or the instance moves on."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    """After a failure, the sweep leaves the timer alone until then (backoff), so it cannot starve others."""
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class TimerIncident(Model):
    """A timer of a running instance that cannot be trusted to fire: its due time cannot be computed,
    or firing it keeps failing. Shown to designers and admins on the instance and the designer's
    pages with the reason; resolved (``resolved_at``) when the timer fires or the instance moves on.
    One open incident per (instance, timer, kind)."""

    __tablename__ = "timer_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(20))
    """``no_due_time`` (the expression gives no time) or ``fire_failed`` (firing keeps failing)."""
    reason: Mapped[str] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


MAX_NAME = 200
"""An attachment's original file name, at most."""


class Attachment(Model):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("task.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    original_name: Mapped[str] = mapped_column(sa.String(MAX_NAME))
    stored_name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    content_type: Mapped[str] = mapped_column(sa.String(120))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    uploaded_by: Mapped[User] = relationship()
    task: Mapped[Task] = relationship()
    """The step it was attached to: who may read the file follows that step (``CaseAccess.attachment``)."""


class Comment(Model):
    __tablename__ = "task_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("task.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case_file.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship()


class Sharing(StrEnum):
    """Who besides its owner sees a saved view (and its count); only the owner changes or deletes it."""

    PRIVATE = "private"
    UNIT = "unit"
    """The liaisons and head of the unit the owner was in when sharing (``SavedView.unit_id``)."""
    COORDINATORS = "coordinators"
    """The county coordinators of the owner's county (``SavedView.county_id``)."""


class SavedView(Model):
    """A named inbox filter; its owner may share it with their unit or their county's coordinators."""

    __tablename__ = "saved_view"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    query: Mapped[str] = mapped_column(sa.String(1000))
    """The inbox query string (filters, sort, scope), without the page number."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shared_with: Mapped[str] = mapped_column(sa.String(16), default=Sharing.PRIVATE, server_default="private")
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    """Set while shared with a unit: the owner's unit then."""
    county_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"), index=True)
    """Set while shared with coordinators: the owner's county then."""
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship()


class TaskDraft(Model):
    """What a worker has typed into an open task's form and not yet sent: one row per (user, task).

    It holds a child's data like the task itself, so only the task's workers read or write it
    (``app.tasks.drafts``); it is deleted when the task completes."""

    __tablename__ = "task_draft"
    __table_args__ = (sa.UniqueConstraint("user_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("task.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    """Form field name -> typed value (a string, or a list of strings for multi-value fields)."""
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the browser captured the typing (its clock, bounded by the server's): the newer draft wins."""


class TaskHandover(Model):
    """A task moved because its holder was away (``app.tasks.handover``): to the substitute when the absence
    began (``away``), back to the holder when it ended (``back``), or left with the substitute at the end as
    the holder chose (``kept``). Shown on the task's page and in ``GET /api/v1/tasks/<id>``."""

    __tablename__ = "task_handover"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(sa.ForeignKey("task.id"), index=True)
    absence_id: Mapped[int] = mapped_column(sa.ForeignKey("absence.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    from_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    to_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id])
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id])
