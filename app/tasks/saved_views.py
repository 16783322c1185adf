"""Saved inbox views: a user's named filter + sort combinations ("overdue police triage", ...)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.common.clock import now
from app.common.errors import Invalid, NotFound
from app.common.types import UTCDateTime
from app.extensions import Model, db
from app.org.models import User


class SavedView(Model):
    __tablename__ = "saved_view"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    query: Mapped[str] = mapped_column(sa.String(1000))
    """The inbox query string (filters, sort, scope), without the page number."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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
