"""Drafts of a task's form: what a worker typed and has not sent yet, kept on the server.

Village child directors fill forms on phones where the signal drops; the page keeps a copy on the device
(``static/js/drafts.js``) and, when online, here, so the work survives a lost phone tab or a second
device. A draft holds a child's data: only the task's workers (its unit's liaisons and head, while the
task is open) read or write theirs, one draft per user and task; it is deleted when the task completes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.common.clock import now
from app.common.errors import Invalid
from app.extensions import db
from app.org.models import User
from app.processes.queries import lock_instance

from .models import Task, TaskDraft
from .operations import DRAFTED, _ensure_open, ensure_can_act

MAX_DRAFT_BYTES = 64 * 1024
"""A request body above this is refused with 413 before it is parsed (the largest form is a few KB)."""
MAX_FIELDS = 300
MAX_NAME = 200
MAX_VALUE = 20_000
MAX_VALUES = 100


def _check_fields(fields: Any) -> dict[str, Any]:
    """Field name -> a string or a list of strings, within bounds; anything else is 422."""
    if not isinstance(fields, dict):
        raise Invalid("fields must be an object", {"fields": ["an object of field name to value"]})
    if len(fields) > MAX_FIELDS:
        raise Invalid("too many fields", {"fields": [f"at most {MAX_FIELDS} fields"]})
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            raise Invalid("bad field name", {"fields": [f"names of 1 to {MAX_NAME} characters"]})
        if isinstance(value, str):
            ok = len(value) <= MAX_VALUE
        elif isinstance(value, list):
            ok = len(value) <= MAX_VALUES and all(isinstance(v, str) and len(v) <= MAX_VALUE for v in value)
        else:
            ok = False
        if not ok:
            raise Invalid("bad field value", {name: [f"a text of at most {MAX_VALUE} characters, or a list of them"]})
        clean[name] = value
    return clean


def _check_saved_at(raw: Any) -> datetime:
    """The browser's time of typing; never later than now (a wrong phone clock must not win forever)."""
    at = now()
    if raw is None:
        return at
    if not isinstance(raw, str) or len(raw) > 40:
        raise Invalid("bad saved_at", {"saved_at": ["an ISO 8601 date-time"]})
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid("bad saved_at", {"saved_at": ["an ISO 8601 date-time"]}) from exc
    if when.tzinfo is None:
        raise Invalid("bad saved_at", {"saved_at": ["a date-time with its offset"]})
    return min(when, at)


def draft_of(task: Task, user: User) -> TaskDraft | None:
    """403 for anyone but the task's workers (another unit; a coordinator reads the task, not drafts)."""
    ensure_can_act(user, task)
    return db.session.scalar(sa.select(TaskDraft).where(TaskDraft.task_id == task.id, TaskDraft.user_id == user.id))


def save_draft(task: Task, user: User, body: Any) -> TaskDraft:
    """Store the draft unless the server already holds a newer one (another tab or device); flushes.
    409 once the task is completed or cancelled: the sent form is the record then."""
    ensure_can_act(user, task)
    # The instance locked first, as every command on a task does (docs/architecture.md, "Lock order"): a
    # completion in flight holds it from its read of the drafts to its commit, so this draft then meets a
    # completed task (409) instead of appearing after the completion saw none.
    lock_instance(task.instance_id)
    db.session.refresh(task, attribute_names=["state", "completed_by_id", "completed_at"])
    _ensure_open(task)
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object", {"_schema": ["a JSON object with fields and saved_at"]})
    fields = _check_fields(body.get("fields"))
    saved_at = _check_saved_at(body.get("saved_at"))
    draft = draft_of(task, user)
    if draft is None:
        draft = TaskDraft(task_id=task.id, user_id=user.id, fields=fields, saved_at=saved_at)
        db.session.add(draft)
    elif saved_at >= draft.saved_at:
        draft.fields, draft.saved_at = fields, saved_at
    db.session.flush()
    return draft


def discard_draft(task: Task, user: User) -> None:
    ensure_can_act(user, task)
    db.session.execute(sa.delete(TaskDraft).where(TaskDraft.task_id == task.id, TaskDraft.user_id == user.id))


def clear_on_completion(task: Task, **_: Any) -> None:
    """``task_completed`` receiver: the sent form is the record now; every worker's draft of it goes.

    Skipped only when the completion's read under the lock saw no draft (the task row was locked then, and
    ``save_draft`` locks it too, so none can appear in between); any other path deletes."""
    if db.session.info.get(DRAFTED, {}).get(task.id) is False:
        return
    db.session.execute(sa.delete(TaskDraft).where(TaskDraft.task_id == task.id))

