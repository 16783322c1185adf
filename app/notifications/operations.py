"""Create notifications (``notify``) and mark them read. Operations flush; the caller's transaction commits them
with the change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from app.audit.operations import audit
from app.common.clock import now
from app.common.sealed import reseal
from app.extensions import db
from app.org.absence import stand_ins
from app.org.models import User

from .bulk import add_held, notify_many
from .channels import CHAT, SMS, Preferences
from .models import ChannelAddress, Notification


def notify(users: Iterable[User], kind: str, title: str, *, body: str = "", case_id: int | None = None,
           task_id: int | None = None, dedupe_key: str | None = None, held: bool = False) -> int:
    """The same note to each of ``users`` (each once), through ``bulk.notify_many`` like every notification;
    with ``dedupe_key`` a repeat call for the same user creates nothing (the key gets ``:<user id>``).
    Returns how many were written. Flushes.

    Someone away is replaced by who stands in for them (``app.org.absence``, the one substitution rule).

    ``held``: a receiver of a workflow step's event: the rows join the notifications the step writes after its
    flush (``bulk.hold``), one INSERT for all of them; written now (and flushed) when no step holds any. Returns
    how many were written or held (a held row whose dedupe key exists is skipped when written)."""
    recipients = {user.id: user for user in stand_ins(users)}
    at = now()
    rows = [{"user_id": user_id, "kind": kind, "title": title[:300], "body": body, "case_id": case_id,
             "task_id": task_id, "dedupe_key": f"{dedupe_key}:{user_id}" if dedupe_key else None, "created_at": at}
            for user_id in recipients]
    if held and rows and add_held(rows, recipients, at):
        return len(rows)
    return notify_many(rows, recipients, at)


def mark_read(user: User, notification_ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of ``user``'s notifications read; returns how many changed."""
    stmt = sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_ids is not None:
        stmt = stmt.where(Notification.id.in_(list(notification_ids)))
    result = cast(sa.CursorResult[Any], db.session.execute(stmt.values(read_at=now())))  # an UPDATE's result
    return int(result.rowcount or 0)


def set_channels(user: User, preferences: Preferences, *, phone: str | None = None, chat_url: str | None = None,
                 chat_secret: str | None = None, by: User | None = None) -> None:
    """Store ``user``'s channel choice and, when given, their phone number and work-chat robot ("" removes
    one). Audited (who changed where a user's notifications go; never the number, address or secret). Flushes.

    The caller has checked the values (``channels.parse_preferences``, ``phone_problem``,
    ``chat_address_problem``)."""
    at = now()
    user.notify_channels = preferences.as_json()
    changed = []
    for channel, address, secret in ((SMS, phone, None), (CHAT, chat_url, chat_secret)):
        if address is None:
            continue
        row = db.session.get(ChannelAddress, (user.id, channel))
        if not address:
            if row is not None:
                db.session.delete(row)
                changed.append(channel)
            continue
        if row is None:
            row = ChannelAddress(user_id=user.id, channel=channel)
            db.session.add(row)
        row.address, row.updated_at = address, at
        if channel == CHAT:
            row.set_secret(secret)
        changed.append(channel)
    audit((by or user).id, "channels_change", "user", user.id,
          detail={"channels": preferences.as_json()["kinds"], "quiet": preferences.quiet,
                  "addresses": changed})
    db.session.flush()



def reseal_chat_secrets() -> int:
    """Every work-chat robot's secret sealed again under the first key (key rotation, with the webhook
    subscribers' in ``flask webhooks keys reseal``): the secrets do not change. Flushes; returns how many."""
    rows = list(db.session.scalars(sa.select(ChannelAddress).where(ChannelAddress.secret_sealed.is_not(None))
                                   .order_by(ChannelAddress.user_id, ChannelAddress.channel)))
    for row in rows:
        row.secret_sealed = reseal(cast(str, row.secret_sealed))
    db.session.flush()
    return len(rows)
