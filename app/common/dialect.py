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
- ``local_date``: the county-local calendar date of a UTC timestamp column, in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
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


def local_date(column: Any, zone: ZoneInfo) -> Any:
    """The calendar date in ``zone`` of a UTC timestamp column, in SQL.

    SQLite has no time zones: it shifts by the zone's offset now, which is exact for zones without
    daylight saving time (China's).
    """
    if is_postgresql():
        return sa.func.date(sa.func.timezone(zone.key, column))
    offset = int((datetime.now(zone).utcoffset() or timedelta(0)).total_seconds() // 60)
    return sa.func.date(column, f"{offset:+d} minutes")

