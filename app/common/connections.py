"""A pooled PostgreSQL connection is checked before each use without a round trip to the server.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` (and, outside autocommit, the ``BEGIN`` before it) at every
checkout: one more round trip per request, on a server whose requests are a handful of statements each. On a
busy host every round trip costs a wait for a CPU twice (the backend's and ours), so the ping was one of the
largest fixed costs of an API call (bench/README.md, issue 17 part 3).

What the ping guards against still cannot get through: a connection the server ended while it sat in the pool
(``pg_terminate_backend``, a restart, ``idle_session_timeout``, an operator's kill) has the server's goodbye
waiting on its socket: PostgreSQL sends the FATAL error and closes the socket. A connection whose socket has
anything to read while it is idle in the pool is therefore discarded and replaced (raising
``DisconnectionError`` in the checkout event, SQLAlchemy's documented way). A connection idle for longer than
``PING_AFTER`` still gets the real ping: a peer that vanished without closing (a network drop) leaves nothing to
read, and only a round trip finds it. SQLite keeps ``pool_pre_ping`` (it costs no round trip there).
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.pool import Pool

PING_AFTER = 30.0
"""Seconds a connection may sit in the pool and still be trusted on its socket alone."""
_CHECKED_IN = "liandong_checked_in"


def _is_psycopg(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith("psycopg")


def server_hung_up(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection is known to be unusable without asking the server: closed, in a
    broken or unfinished state, or with something to read (the server's FATAL message or end of file)."""
    from psycopg import pq  # deferred: a psycopg connection has imported it; an app on SQLite never needs it

    if dbapi_connection.closed or dbapi_connection.pgconn.status != pq.ConnStatus.OK:
        return True
    if dbapi_connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return True
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    return bool(readable)


def _pinged(dbapi_connection: Any) -> bool:
    """The round trip ``pool_pre_ping`` makes, for a connection idle too long to trust (False: it failed)."""
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception:  # noqa: BLE001 - any failure means the connection is gone; the pool replaces it
        return False
    return True


def _on_checkout(dbapi_connection: Any, connection_record: Any, _proxy: Any) -> None:
    if not _is_psycopg(dbapi_connection):
        return
    checked_in = connection_record.info.pop(_CHECKED_IN, None)
    if server_hung_up(dbapi_connection):
        raise exc.DisconnectionError("the server closed this pooled connection")
    if checked_in is not None and time.monotonic() - checked_in > PING_AFTER and not _pinged(dbapi_connection):
        raise exc.DisconnectionError("a pooled connection idle too long did not answer")


def _on_checkin(dbapi_connection: Any, connection_record: Any) -> None:
    if dbapi_connection is not None and _is_psycopg(dbapi_connection):
        connection_record.info[_CHECKED_IN] = time.monotonic()


def check_on_checkout() -> None:
    """Listen on every pool once per process (the listeners skip connections that are not PostgreSQL's)."""
    if not event.contains(Pool, "checkout", _on_checkout):
        event.listen(Pool, "checkout", _on_checkout)
        event.listen(Pool, "checkin", _on_checkin)
