"""Hand new outbox rows to the ``notify`` queue once the transaction that wrote them commits.

Enqueueing before the commit could send a mail about a change that is then
rolled back; enqueueing after it can fail (Redis down), which loses nothing:
the sweep re-enqueues unsent rows older than a minute. Without Redis nothing
is enqueued here; the in-process loop sends the outbox on its next tick.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .models import EmailOutbox

log = logging.getLogger(__name__)
_KEY = "liandong.outbox_ids"


def _collect(session: Session, flush_context: Any) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, EmailOutbox) and obj.id is not None]
    if ids:
        session.info.setdefault(_KEY, []).extend(ids)


def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)


def _dispatch(session: Session) -> None:
    ids = session.info.pop(_KEY, None)
    if not ids or not has_app_context() or not current_app.config["LIANDONG"].redis_url:
        return
    from workers import jobs
    from workers.queues import NOTIFY, enqueue

    try:
        for outbox_id in ids:
            enqueue(jobs.send_email, outbox_id, queue=NOTIFY)
    except Exception as exc:  # Redis unreachable: the sweep catches up from the database
        log.warning("could not enqueue %d outbox row(s), the sweep will: %s", len(ids), exc)


def init_app() -> None:
    """Listen on every session once per process (listeners are global, the check is per app)."""
    if getattr(Session, "_liandong_outbox_dispatch", False):
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "after_commit", _dispatch)
    event.listen(Session, "after_soft_rollback", lambda session, previous: _forget(session))
    Session._liandong_outbox_dispatch = True  # type: ignore[attr-defined]
