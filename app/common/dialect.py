"""The one place PostgreSQL and SQLite differ in what the app asks of the database.

The embedded default (SQLite) and production (PostgreSQL) run the same code; where the two databases
need different SQL, the difference lives here and nowhere else (``grep dialect.name`` finds only this
file). What each helper does on SQLite is chosen so that the guarantees in docs/architecture.md
("Lock order", "Reports and completions: nothing doubled") hold on both:

- ``insert_ignore``: ``INSERT ... ON CONFLICT (...) DO NOTHING`` (both databases have it; each needs its
  own dialect's ``insert``). With ``RETURNING`` it tells which rows this statement wrote, which makes
  the scheduler, the escalation sweep and idempotency keys safe to run twice.
- ``for_update``: a row lock on PostgreSQL (``FOR UPDATE``, ``FOR NO KEY UPDATE`` with ``key_share``,
  ``SKIP LOCKED``). SQLite has no row locks, only one writer lock for the file: the select is unchanged,
  and where the command must read as the writer (a claim or completion reading task rows after locking
  the instance), ``sqlite_write`` -- a no-op ``UPDATE`` of the row -- runs first and takes the writer
  lock.
- ``among``: ``column IN (ids)`` as ``column = ANY(:ids)`` on PostgreSQL, one array parameter for any number
  of ids (an ``IN`` list of a thousand is a thousand placeholders that SQLAlchemy renders, psycopg converts and
  the server plans on every call); SQLite keeps ``IN``.
- ``local_date``: the county-local calendar date of a UTC timestamp column, in SQL.
- ``reads_outside_transaction``: a request that writes nothing sends its reads on PostgreSQL in autocommit, without
  the ``BEGIN`` and ``ROLLBACK`` round trips around them; each statement then sees the data committed when it
  starts, which READ COMMITTED (PostgreSQL's default) gives each statement inside a transaction too. SQLite keeps
  its transaction (it costs no round trip there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import g
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db

S = TypeVar("S", bound=sa.Select[*tuple[Any, ...]])


def is_postgresql() -> bool:
    """Whether the session's database is PostgreSQL (else SQLite, the embedded default)."""
    return bool(db.session.get_bind().dialect.name == "postgresql")


def insert_ignore(table: Any, rows: dict[str, Any] | Sequence[dict[str, Any]], index_elements: Iterable[str]) -> Any:
    """``INSERT INTO table ... ON CONFLICT (index_elements) DO NOTHING`` for the session's database.

    Returns the statement: add ``.returning(...)`` to learn which rows were written (none on a conflict).
    """
    insert = pg_insert if is_postgresql() else sqlite_insert
    return insert(table).values(rows).on_conflict_do_nothing(index_elements=list(index_elements))


def for_update(stmt: S, *, of: Any = None, key_share: bool = False, skip_locked: bool = False,
               sqlite_write: sa.Update | None = None) -> S:
    """``stmt`` taking row locks on PostgreSQL; on SQLite unchanged, after ``sqlite_write`` if given (module
    docstring). ``key_share=True`` is ``FOR NO KEY UPDATE``: rows that only reference the locked one are
    not blocked (docs/architecture.md, "Lock order")."""
    if is_postgresql():
        return stmt.with_for_update(of=of, key_share=key_share, skip_locked=skip_locked)
    if sqlite_write is not None:
        db.session.execute(sqlite_write.execution_options(synchronize_session=False))
    return stmt


def among(column: Any, ids: Iterable[int]) -> Any:
    """``column IN (ids)`` for integer ids; on PostgreSQL ``column = ANY(:ids)``, one parameter (module docstring)."""
    if is_postgresql():
        return column == sa.any_(sa.literal(sorted(ids), ARRAY(sa.Integer)))
    return column.in_(sorted(ids))


def local_date(column: Any, zone: ZoneInfo) -> Any:
    """The calendar date in ``zone`` of a UTC timestamp column, in SQL.

    SQLite has no time zones: it shifts by the zone's offset now, which is exact for zones without
    daylight saving time (China's).
    """
    if is_postgresql():
        return sa.func.date(sa.func.timezone(zone.key, column))
    offset = int((datetime.now(zone).utcoffset() or timedelta(0)).total_seconds() // 60)
    return sa.func.date(column, f"{offset:+d} minutes")


def reads_outside_transaction() -> None:
    """Before a request's first statement, when it will only read: autocommit on PostgreSQL (module docstring).

    Only on the app's own engine with nothing begun yet: a session joined to an outer connection (the test
    fixture's) or one that already ran a statement keeps its transaction. The pool sets the connection back to
    transactions when the session returns it."""
    session = db.session()
    bind = session.get_bind()
    if isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        g.liandong_reads_outside_transaction = True


def end_reads_outside_transaction(_error: BaseException | None = None) -> None:
    """``teardown_request``: give the autocommit connection back to the pool (which sets it back to
    transactions) at the end of its request, even where the app context, and with it the session, outlives the
    request (tests): a later request's writes must run in a transaction again. Nothing is sent to the server."""
    if g.pop("liandong_reads_outside_transaction", False):
        db.session().rollback()
