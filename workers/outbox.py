"""The ``notify`` queue end of the outbox (``app.notifications.dispatch`` calls these after a commit)."""

from __future__ import annotations

from functools import partial

from redis import Redis

from .jobs import deliver_notification, deliver_webhook, send_email
from .queues import ENQUEUE_TIMEOUT, NOTIFY, enqueue, redis_connection

connect = partial(redis_connection, timeout=ENQUEUE_TIMEOUT)
"""A client for a request that hands work over: it waits ``ENQUEUE_TIMEOUT`` seconds at most."""


def hand_over(connection: Redis, outbox_ids: list[int], delivery_ids: list[int]) -> None:
    """One ``send_email`` job per outbox row and one ``deliver_notification`` job per SMS / work-chat
    delivery; the first Redis error stops it (the sweep sends the rest)."""
    for outbox_id in outbox_ids:
        enqueue(send_email, outbox_id, queue=NOTIFY, connection=connection)
    for delivery_id in delivery_ids:
        enqueue(deliver_notification, delivery_id, queue=NOTIFY, connection=connection)


def hand_over_webhooks(connection: Redis, delivery_ids: list[int]) -> None:
    """One ``deliver_webhook`` job per delivery row; the first Redis error stops it (the sweep sends the rest)."""
    for delivery_id in delivery_ids:
        enqueue(deliver_webhook, delivery_id, queue=NOTIFY, connection=connection)
