"""Reads about a user's notifications."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.org.models import User

from .models import Notification


def unread_count(user: User) -> int:
    return int(db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0)


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))
