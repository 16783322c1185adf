"""Notifications by the thousand: one INSERT for a batch, one for its mails, one UPDATE marking them mailed.

The ORM path (``Notification`` objects, then ``email.queue_emails``) costs a
round of statements per row; the escalation sweep writes thousands of
notifications at once, so it uses these set-based writes instead. The rows and
mails are the same as the ORM path writes (same dedupe keys, same mail body).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.common.bulk import insert_many
from app.extensions import db
from app.org.models import User

from .dispatch import after_commit
from .email import mail_body
from .models import EmailOutbox, Notification

NOTIFICATION_COLUMNS = ("user_id", "kind", "title", "body", "case_id", "task_id", "dedupe_key", "created_at")


def notify_many(rows: Sequence[Mapping[str, Any]], users: Mapping[int, User], at: datetime) -> int:
    """Insert notification rows (``NOTIFICATION_COLUMNS``) and the mails of ``immediate`` users. Flushes.

    ``users``: every recipient, already loaded by the caller. Returns how many
    notifications were written. The caller makes sure none of them exists yet
    (the sweep writes them only for escalation rows it has just inserted).
    """
    if not rows:
        return 0
    written = insert_many(Notification, [{c: row[c] for c in NOTIFICATION_COLUMNS} for row in rows],
                          returning=("id", "user_id", "title", "body"))
    mails, mailed = [], []
    for note_id, user_id, title, body in written:
        user = users.get(user_id)
        if user is None or not user.email or (user.email_frequency or "immediate") != "immediate":
            continue
        mails.append({"to_address": user.email, "subject": f"[联动] {title}"[:300],
                      "body": mail_body([(title, body)]), "dedupe_key": f"notification:{note_id}",
                      "created_at": at, "attempts": 0})
        mailed.append(note_id)
    if mails:
        outbox_ids = [row[0] for row in insert_many(EmailOutbox, mails, returning=("id",))]
        after_commit(db.session(), outbox_ids)
        db.session.execute(sa.update(Notification).where(Notification.id.in_(mailed)).values(emailed_at=at))
    return len(written)
