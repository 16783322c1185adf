"""Reads about a user's notifications."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import User

from .models import Notification


def unread_by_case(user: User) -> list[tuple[int | None, int]]:
    """Unread notes per case (None: about no case), so the badge can check need-to-know once per case."""
    rows = db.session.execute(sa.select(Notification.case_id, sa.func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)).group_by(Notification.case_id))
    return [(case_id, int(n)) for case_id, n in rows]


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))
