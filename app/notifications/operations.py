"""Create notifications. Operations flush; the caller's transaction commits them with the change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from app.common.clock import now
from app.extensions import db
from app.org.models import User

from .email import queue_emails
from .models import Notification


def notify(users: Iterable[User], kind: str, title: str, *, body: str = "", case_id: int | None = None,
           task_id: int | None = None, dedupe_key: str | None = None) -> list[Notification]:
    """Notify each user once; with ``dedupe_key`` a repeat call for the same user creates nothing."""
    created = []
    recipients: dict[int, User] = {}
    at = now()
    for user in users:
        key = f"{dedupe_key}:{user.id}" if dedupe_key else None
        if key and db.session.scalar(sa.select(sa.exists().where(Notification.dedupe_key == key))):
            continue
        note = Notification(user_id=user.id, kind=kind, title=title[:300], body=body, case_id=case_id,
                            task_id=task_id, dedupe_key=key, created_at=at)
        db.session.add(note)
        created.append(note)
        recipients[user.id] = user
    db.session.flush()

    queue_emails(created, recipients)
    return created


def mark_read(user: User, notification_ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of ``user``'s notifications read; returns how many changed."""
    stmt = sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(notification_ids)))
    result = cast(sa.CursorResult[Any], db.session.execute(stmt.values(read_at=now())))  # an UPDATE's result
    return int(result.rowcount or 0)
