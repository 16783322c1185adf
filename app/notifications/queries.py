"""Reads about a user's notifications, their channels and deliveries."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.common.labels import label
from app.extensions import db
from app.org.jurisdiction import jurisdiction, users_managed
from app.org.models import User

from .channels import CHAT, KINDS, SMS, Preferences, is_secure, offered
from .models import ChannelAddress, Delivery, Notification


def unread_by_case(user: User) -> list[tuple[int | None, int]]:
    """Unread notes per case (None: about no case), so the badge can check need-to-know once per case."""
    rows = db.session.execute(sa.select(Notification.case_id, sa.func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)).group_by(Notification.case_id))
    return [(case_id, int(n)) for case_id, n in rows]


def recent(user: User, limit: int = 50) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def addresses(user: User) -> dict[str, ChannelAddress]:
    """The user's phone number and work-chat robot rows by channel."""
    return {row.channel: row for row in db.session.scalars(
        sa.select(ChannelAddress).where(ChannelAddress.user_id == user.id))}


def deliveries(user: User, *, everyone: bool = False, state: str | None = None,
               channel: str | None = None) -> sa.Select[Any]:
    """Deliveries newest first: ``user``'s own, or (``everyone``, for admins) those of every user the admin
    manages (``org.jurisdiction``: a county's administrator sees no other county's people's). Rows carry no
    title or body: the list shows the kind, the channel and what happened, never what a message said."""
    stmt = sa.select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc())
    if not everyone:
        stmt = stmt.where(Delivery.user_id == user.id)
    elif not jurisdiction(user).everything:
        stmt = stmt.where(Delivery.user_id.in_(sa.select(User.id).where(users_managed(user))))
    if state:
        stmt = stmt.where(Delivery.state == state)
    if channel:
        stmt = stmt.where(Delivery.channel == channel)
    return stmt


def channel_settings(user: User) -> dict[str, Any]:
    """What the preferences page and API show a user about their own channels (the robot's key-bearing path
    and its secret never)."""
    preferences = Preferences.of(user)
    rows = addresses(user)
    phone, chat = rows.get(SMS), rows.get(CHAT)
    return {**preferences.as_json(), "offered": list(offered()),
            "known_kinds": [{"kind": kind, "label": label("notification", kind)} for kind in KINDS],
            "phone": phone.address if phone else None,
            "chat_url": _host_only(chat.address) if chat else None,
            "chat_secret_set": bool(chat and chat.secret_sealed),
            "chat_secure": bool(chat and is_secure(CHAT, chat.address))}


def _host_only(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…"
