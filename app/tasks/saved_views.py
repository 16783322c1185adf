"""Saved inbox views: a user's named filter + sort combinations ("overdue police triage", ...)."""

from __future__ import annotations

import sqlalchemy as sa

from app.common.clock import now
from app.common.errors import Invalid, NotFound
from app.extensions import db
from app.org.models import User

from .models import SavedView


def views_of(user: User) -> list[SavedView]:
    return list(db.session.scalars(sa.select(SavedView).where(SavedView.user_id == user.id)
                                   .order_by(SavedView.name)))


def save_view(user: User, name: str, query: str) -> SavedView:
    """Create or overwrite the user's view called ``name``. Flushes."""
    name = name.strip()[:80]
    if not name:
        raise Invalid("a saved view needs a name", {"name": ["required"]})
    view = db.session.scalar(sa.select(SavedView).where(SavedView.user_id == user.id, SavedView.name == name))
    if view is None:
        view = SavedView(user_id=user.id, name=name, created_at=now())
        db.session.add(view)
    view.query = query[:1000]
    db.session.flush()
    return view


def delete_view(user: User, view_id: int) -> None:
    view = db.session.get(SavedView, view_id)
    if view is None or view.user_id != user.id:
        raise NotFound("no such saved view")
    db.session.delete(view)
    db.session.flush()
