"""Comments on a task: short notes between the people working a case (they join the case timeline)."""

from __future__ import annotations

import sqlalchemy as sa

from app.audit.operations import audit
from app.cases.models import Case
from app.cases.timeline import record
from app.common.clock import now
from app.common.errors import Invalid
from app.extensions import db
from app.org.models import User

from .models import Comment, Task
from .operations import ensure_can_act

MAX_COMMENT = 4000


def add_comment(task: Task, user: User, body: str) -> Comment:
    """Members of the task's unit comment on it (open or done); audited and on the timeline. Flushes."""
    ensure_can_act(user, task)
    body = body.strip()
    if not body:
        raise Invalid("empty comment", {"body": ["required"]})
    if len(body) > MAX_COMMENT:
        raise Invalid("comment too long", {"body": [f"at most {MAX_COMMENT} characters"]})
    comment = Comment(task_id=task.id, case_id=task.case_id, author_id=user.id, body=body, created_at=now())
    db.session.add(comment)
    db.session.flush()
    case = db.session.get(Case, task.case_id)
    assert case is not None
    record(case, "task_comment", f"{task.name}: {body[:200]}", actor=user, task=task,
           detail={"comment_id": comment.id})
    audit(user.id, "comment", "task", task.id, case_id=task.case_id, detail={"comment_id": comment.id})
    return comment


def comments_of(task_id: int) -> list[Comment]:
    return list(db.session.scalars(sa.select(Comment).where(Comment.task_id == task_id)
                                   .order_by(Comment.created_at, Comment.id)))
