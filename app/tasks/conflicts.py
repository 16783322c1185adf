"""Stale submissions: a form sent from the version of a task it was rendered from, refused when the task moved.

An offline phone may send a completion hours after its form was rendered. Meanwhile a colleague may have
completed the step, the unit head may have handed it to someone else, or it may have been claimed,
released or withdrawn. The submission names the task's ``version`` it saw; under the completion's lock a
different version, a closed task or a task now held by someone else is a ``StaleSubmission`` (409) whose
body carries both sides: what was sent and what the task holds now (who, when, and the values it was
completed with). Nothing is written: the worker decides on the phone (keep the text as a comment, or
discard it). This is what keeps two offline edits from silently overwriting each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext

from app.common.clock import local
from app.common.errors import Conflict
from app.org.models import User
from app.org.roles import Role

from .form_render import readable
from .models import Task, TaskState

KINDS = ("completed", "withdrawn", "reassigned", "changed")
"""Why a submission is stale, most decisive first."""


@dataclass(frozen=True)
class Submission:
    """What a form carried besides its values: the task version it was rendered from and the files
    (uploaded first, each under its own idempotency key) that belong to it."""

    version: int | None = None
    attachment_ids: tuple[int, ...] = field(default_factory=tuple)

    def fingerprint(self) -> dict[str, Any]:
        """The parts of the request an idempotency key is bound to (nothing when the form named none)."""
        out: dict[str, Any] = {}
        if self.version is not None:
            out["task_version"] = self.version
        if self.attachment_ids:
            out["attachment_ids"] = sorted(self.attachment_ids)
        return out


class StaleSubmission(Conflict):
    """409 with ``body["conflict"]``: both versions side by side (API JSON, the page's conflict view)."""

    def __init__(self, message: str, conflict: dict[str, Any]):
        super().__init__(message)
        self.body = {"conflict": conflict}


def kind_of(task: Task, user: User, sent_version: int) -> str | None:
    """Why a submission from ``sent_version`` cannot be applied to ``task`` as it is now; None when it can."""
    if task.state == TaskState.COMPLETED:
        return "completed"
    if task.state != TaskState.OPEN:
        return "withdrawn"
    held_by_other = task.assignee_id is not None and task.assignee_id != user.id
    if held_by_other and not user.has_role(Role.UNIT_HEAD):
        return "reassigned"
    if task.version != sent_version:
        return "reassigned" if held_by_other else "changed"
    return None


def check(task: Task, user: User, sent: Submission, schema: dict[str, Any] | None, data: Any) -> None:
    """Raise ``StaleSubmission`` unless the locked ``task`` is still the version ``sent`` was made from."""
    if sent.version is None:
        return
    kind = kind_of(task, user, sent.version)
    if kind is None:
        return
    raise StaleSubmission(_message(kind, task), conflict_body(kind, task, sent, schema, data))


def _message(kind: str, task: Task) -> str:
    who = task.completed_by.display_name if task.completed_by else "?"
    return {
        "completed": f"task {task.id} was completed meanwhile by {who}; nothing was changed",
        "withdrawn": f"task {task.id} was withdrawn meanwhile; nothing was changed",
        "reassigned": f"task {task.id} is now held by someone else; nothing was changed",
        "changed": f"task {task.id} changed since this form was opened; nothing was changed",
    }[kind]


def _person(user: User | None) -> dict[str, Any] | None:
    return {"id": user.id, "name": user.display_name} if user is not None else None


def conflict_body(kind: str, task: Task, sent: Submission, schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Both sides of a stale submission. Only for a user who may act on the task (a member of its unit),
    who may read what the step was completed with."""
    sent_data = data if isinstance(data, dict) else {}
    current_data = task.data if task.state == TaskState.COMPLETED else None
    mine = dict(readable(schema, sent_data))
    theirs = dict(readable(schema, current_data)) if current_data else {}
    labels = list(dict.fromkeys([*mine, *theirs]))
    return {
        "kind": kind,
        "task_id": task.id,
        "case_id": task.case_id,
        "step": task.name,
        "sent": {"task_version": sent.version, "data": sent_data, "attachment_ids": list(sent.attachment_ids)},
        "current": {
            "task_version": task.version,
            "state": task.state,
            "assignee": _person(task.assignee),
            "completed_by": _person(task.completed_by),
            "completed_at": task.completed_at.isoformat() if task.completed_at else None,
            "completed_at_local": local(task.completed_at).strftime("%Y-%m-%d %H:%M") if task.completed_at else None,
            "data": current_data,
        },
        "fields": [{"label": label, "sent": mine.get(label, ""), "current": theirs.get(label, "")} for label in labels],
        "explanation": explanation(kind, task),
    }


def explanation(kind: str, task: Task) -> str:
    """One sentence for the worker, in their language."""
    if kind == "completed":
        return gettext("%(who)s completed this step at %(when)s. Your values were not applied.",
                       who=task.completed_by.display_name if task.completed_by else "?",
                       when=local(task.completed_at).strftime("%Y-%m-%d %H:%M") if task.completed_at else "?")
    if kind == "withdrawn":
        return gettext("This step was withdrawn (the case moved on). Your values were not applied.")
    if kind == "reassigned":
        return gettext("This step is now held by %(who)s. Your values were not applied.",
                       who=task.assignee.display_name if task.assignee else "?")
    return gettext("This step changed after you opened the form (claimed, released or reassigned). "
                   "Your values were not applied; open the step again to check it.")
