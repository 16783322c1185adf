"""The one way notifications are made: one INSERT for a batch, one for its mails, one UPDATE marking them mailed,
one for its SMS and work-chat deliveries (only when a recipient chose them: ``channels.Preferences``).

``notify_many`` writes every notification of the platform: the escalation sweep's thousands at once and
``operations.notify``'s few. A row whose ``dedupe_key`` exists already (a repeat, or a concurrent sweep
that got there first) is skipped by ``ON CONFLICT DO NOTHING``, without an error and without a mail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.common.bulk import Along, insert_many
from app.extensions import db
from app.org.models import User

from .channels import EMAIL, OUTSIDE, Preferences
from .delivery import SETTLE
from .dispatch import after_commit, deliveries_after_commit
from .email import mail_body
from .models import Delivery, EmailOutbox, Notification

NOTIFICATION_COLUMNS = ("user_id", "kind", "title", "body", "case_id", "task_id", "dedupe_key", "created_at")


def notify_many(rows: Sequence[Mapping[str, Any]], users: Mapping[int, User], at: datetime, along: Along = ()) -> int:
    """Insert notification rows (``NOTIFICATION_COLUMNS``) and the mails of ``immediate`` users. Flushes.

    ``users``: every recipient, already loaded by the caller. Returns how many
    notifications were written (rows whose dedupe key exists are skipped). ``along``: other tables' rows written
    by the same statement (``common.bulk.insert_many``), or alone when there is no notification.
    """
    if not rows:
        insert_many(Notification, (), along=along)
        return 0
    if not all(tuple(row) == NOTIFICATION_COLUMNS for row in rows):  # rows built in this order go as they are
        rows = [{c: row[c] for c in NOTIFICATION_COLUMNS} for row in rows]
    written = insert_many(Notification, rows, returning=("id", "user_id", "kind", "title", "body"),
                          skip_conflicts_on=("dedupe_key",), along=along)
    return _send(written, users, at)


HELD = "notifications.held"
"""``session.info`` key: the notifications a workflow command writes in one INSERT after its flush (``hold``)."""


@dataclass
class _Held:
    transaction: Any
    """The session transaction they belong to: a rolled-back one's are never sent."""
    rows: list[Mapping[str, Any]] = field(default_factory=list)
    users: dict[int, User] = field(default_factory=dict)
    at: datetime | None = None


def hold() -> None:
    """Open the current transaction's held notifications (kept if open): until ``write_held``, the rows given to
    ``add_held`` wait, so a workflow step's notifications (its new tasks', its receivers' ``notify(..., held=True)``)
    go out in one INSERT after the command's flush, which writes the rows they name. The command that holds them
    writes them (``workflow.saving.flush``); nothing else opens them."""
    transaction = db.session().get_transaction()
    batch = db.session.info.get(HELD)
    if batch is None or batch.transaction is not transaction:
        db.session.info[HELD] = _Held(transaction)


def add_held(rows: Sequence[Mapping[str, Any]], users: Mapping[int, User], at: datetime) -> bool:
    """Add ``rows`` (``NOTIFICATION_COLUMNS``) to the held notifications if the current transaction holds some;
    False (nothing added) if it does not."""
    batch = db.session.info.get(HELD)
    if batch is None or batch.transaction is not db.session().get_transaction():
        return False
    batch.rows.extend(rows)
    batch.users.update(users)
    batch.at = at
    return True


def write_held(along: Along = ()) -> int:
    """Write the held notifications (one INSERT for all of them, with the ``along`` rows: ``notify_many``) and close
    them; how many were written. The ``along`` rows are written whether or not any notification was held."""
    batch = db.session.info.pop(HELD, None)
    if batch is None or batch.transaction is not db.session().get_transaction() or batch.at is None:
        insert_many(Notification, (), along=along)
        return 0
    return notify_many(batch.rows, batch.users, batch.at, along=along)


def notify_from(select: sa.TextClause, params: Mapping[str, Any], users: Mapping[int, User], at: datetime) -> int:
    """Insert the notifications a SELECT yields (its columns: ``NOTIFICATION_COLUMNS``, in that order), and
    their mails, in one ``INSERT ... SELECT`` (PostgreSQL). Flushes.

    For rows the server can derive from rows already written (the escalation sweep's, from its steps
    joined to their task and case): nothing per row travels from Python. Dedupe keys as ``notify_many``.
    """
    written = [tuple(row) for row in db.session.execute(sa.text(insert_from(select.text)), dict(params))]
    return _send(written, users, at)


def insert_from(select: str) -> str:
    """``INSERT INTO notification ... {select} ON CONFLICT (dedupe_key) DO NOTHING RETURNING`` the columns
    ``send_written`` takes (PostgreSQL), for a caller that writes its notifications inside a larger statement
    (the escalation sweep's data-modifying ``WITH``); ``select`` yields ``NOTIFICATION_COLUMNS`` in order."""
    return (f"INSERT INTO notification ({', '.join(NOTIFICATION_COLUMNS)}) {select} "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, user_id, kind, title, body")


def send_written(written: Sequence[tuple[Any, ...]], users: Mapping[int, User], at: datetime) -> int:
    """The mails and outside deliveries of notifications an ``insert_from`` statement wrote (its returned
    rows: id, user_id, kind, title, body); how many notifications. Flushes."""
    return _send(written, users, at)


def _send(written: Sequence[tuple[Any, ...]], users: Mapping[int, User], at: datetime) -> int:
    """The mails of the written notifications whose users want them at once, and their deliveries on the
    other channels the users chose for the kind; how many notifications."""
    mails, mailed = [], []
    deliveries: list[dict[str, Any]] = []
    for note_id, user_id, kind, title, body in written:
        user = users.get(user_id)
        if user is None:
            continue
        channels = Preferences.of(user).channels_for(kind) if user.notify_channels else (EMAIL,)
        deliveries.extend({"notification_id": note_id, "user_id": user_id, "channel": channel, "kind": kind,
                           "state": "queued", "attempts": 0, "created_at": at, "next_attempt_at": at + SETTLE}
                          for channel in OUTSIDE if channel in channels)
        if EMAIL not in channels or not user.email or (user.email_frequency or "immediate") != "immediate":
            continue
        mails.append({"to_address": user.email, "subject": f"[联动] {title}"[:300],
                      "body": mail_body([(title, body)]), "dedupe_key": f"notification:{note_id}",
                      "created_at": at, "attempts": 0})
        mailed.append(note_id)
    if mails:
        outbox_ids = [row[0] for row in insert_many(EmailOutbox, mails, returning=("id",))]
        after_commit(db.session(), outbox_ids)
        db.session.execute(sa.update(Notification).where(Notification.id.in_(mailed)).values(emailed_at=at))
    if deliveries:
        deliveries_after_commit(db.session(), [row[0] for row in insert_many(Delivery, deliveries, returning=("id",))])
    return len(written)
