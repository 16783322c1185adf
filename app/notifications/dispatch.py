"""Hand new outbox rows to the ``notify`` queue once the transaction that wrote them commits.

Enqueueing before the commit could send a mail about a change that is then
rolled back; enqueueing after it can fail (Redis down), which loses nothing:
the sweep re-enqueues unsent rows older than a minute. Without Redis nothing
is enqueued here; the in-process loop sends the outbox on its next tick.

The request that committed is still waiting for its answer, so Redis gets
``ENQUEUE_TIMEOUT`` seconds (not the 30 s a hung Redis used to cost every
such request), and after a failure requests stop trying for ``PAUSE``
seconds: during an outage they answer at full speed and the database-driven
sweep sends their mail.

The queue itself is the workers' (``workers.outbox.hand_over``, above every package): ``create_app``
hands that function to ``init_app``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .models import EmailOutbox

log = logging.getLogger(__name__)
_KEY = "liandong.outbox_ids"
_DELIVERIES = "liandong.delivery_ids"

HandOver = Callable[[Any, list[int], list[int]], None]
"""``hand_over(redis_client, outbox_ids, delivery_ids)``: one send job per row on the ``notify`` queue; raises
if Redis fails."""
Connect = Callable[[str], Any]
"""``connect(redis_url)``: a client that gives up after ``ENQUEUE_TIMEOUT`` seconds."""
_hand_over: tuple[Connect, HandOver] | None = None
PAUSE = 15.0
"""Seconds after a failed hand-over during which requests leave their outbox rows to the sweep."""


class _Breaker:
    """One client per Redis URL with a short timeout, and a pause after a failure (per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, Any] = {}
        self.paused_until: dict[str, float] = {}

    def client(self, url: str, connect: Connect) -> Any:
        with self.lock:
            if url not in self.clients:
                self.clients[url] = connect(url)
            return self.clients[url]

    def open(self, url: str) -> bool:
        return time.monotonic() < self.paused_until.get(url, 0.0)

    def trip(self, url: str) -> None:
        self.paused_until[url] = time.monotonic() + PAUSE

    def reset(self, url: str) -> None:
        self.paused_until.pop(url, None)


breaker = _Breaker()


def _collect(session: Session, flush_context: Any) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, EmailOutbox) and obj.id is not None]
    if ids:
        session.info.setdefault(_KEY, []).extend(ids)


def after_commit(session: Session, outbox_ids: list[int]) -> None:
    """Hand these outbox rows over when ``session`` commits (rows written with a bulk INSERT, not the ORM)."""
    if outbox_ids:
        session.info.setdefault(_KEY, []).extend(outbox_ids)


def deliveries_after_commit(session: Session, delivery_ids: list[int]) -> None:
    """Hand these SMS / work-chat deliveries over when ``session`` commits (written with a bulk INSERT)."""
    if delivery_ids:
        session.info.setdefault(_DELIVERIES, []).extend(delivery_ids)


def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_DELIVERIES, None)


def _dispatch(session: Session) -> None:
    ids = session.info.pop(_KEY, None) or []
    deliveries = session.info.pop(_DELIVERIES, None) or []
    url = current_app.config["LIANDONG"].redis_url if has_app_context() else None
    if not (ids or deliveries) or not url or _hand_over is None:
        return
    if breaker.open(url):
        log.info("Redis failed recently: %d outbox row(s) left to the sweep", len(ids) + len(deliveries))
        return
    connect, hand_over = _hand_over
    try:
        hand_over(breaker.client(url, connect), ids, deliveries)
    except Exception as exc:  # Redis unreachable or hung: the sweep catches up from the database
        breaker.trip(url)
        log.warning("could not enqueue %d outbox row(s), the sweep will: %s", len(ids) + len(deliveries),
                    type(exc).__name__)
    else:
        breaker.reset(url)


def init_app(connect: Connect, hand_over: HandOver) -> None:
    """Listen on every session once per process (listeners are global, the check is per app)."""
    global _hand_over
    _hand_over = (connect, hand_over)
    if getattr(Session, "_liandong_outbox_dispatch", False):
        return
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "after_commit", _dispatch)
    event.listen(Session, "after_soft_rollback", lambda session, previous: _forget(session))
    Session._liandong_outbox_dispatch = True  # type: ignore[attr-defined]
