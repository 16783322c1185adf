"""Write thousands of rows in one statement: ``INSERT ... SELECT * FROM unnest(arrays)`` and
``UPDATE ... FROM unnest(arrays)`` on PostgreSQL.

SQLAlchemy's "insertmanyvalues" (an executemany turned into multi-row VALUES) sends
one parameter per cell; psycopg then parses a query of ten thousand placeholders
in Python on every page, which cost the escalation sweep about a second per
thousand rows. Here each column travels as one array parameter, so the statement
is short, parsed once and the server does the unrolling. SQLite (the embedded
pilot, small) keeps the plain executemany. Used by the batched sweep; rows are
plain dicts with the same keys, values already in their stored form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def _arrays(table: Any, rows: Sequence[Mapping[str, Any]], dialect: Any) -> tuple[list[str], dict[str, Any]]:
    """One ``CAST(:pN AS type[])`` per column of ``rows`` and the lists to bind to them."""
    params: dict[str, Any] = {}
    arrays = []
    for n, name in enumerate(rows[0]):
        column = table.c[name]
        values = [row[name] for row in rows]
        if isinstance(column.type.dialect_impl(dialect), (sa.JSON, postgresql.JSONB)):
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        params[f"p{n}"] = values
        arrays.append(f"CAST(:p{n} AS {column.type.compile(dialect=dialect)}[])")
    return arrays, params


def update_many(model: type[Any], key: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Set each row's other columns where ``key`` equals its ``key`` (every row with the same keys)."""
    if not rows:
        return
    table = model.__table__
    conn = db.session.connection()
    columns = [c for c in rows[0] if c != key]
    if conn.dialect.name != "postgresql":
        stmt = (sa.update(table).where(table.c[key] == sa.bindparam(f"_{key}"))
                .values({c: sa.bindparam(f"_{c}") for c in columns}))
        conn.execute(stmt, [{f"_{c}": row[c] for c in row} for row in rows])
        return
    arrays, params = _arrays(table, rows, conn.dialect)
    names = list(rows[0])
    sets = ", ".join(f'"{c}" = u."{c}"' for c in columns)
    conn.execute(sa.text(
        f'UPDATE {table.name} SET {sets} FROM unnest({", ".join(arrays)}) AS u({", ".join(names)}) '
        f'WHERE {table.name}."{key}" = u."{key}"'), params)


def insert_many(model: type[Any], rows: Sequence[Mapping[str, Any]], returning: Sequence[str] = (),
                skip_conflicts_on: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """Insert ``rows`` into ``model``'s table (every row with the same keys); the ``returning`` columns of the rows written.

    ``skip_conflicts_on``: ON CONFLICT (these columns) DO NOTHING, so rows already there are not returned.
    Flushes nothing: the ORM session's pending changes are the caller's.
    """
    if not rows:
        return []
    table = model.__table__
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        stmt = sqlite.insert(table)
        if skip_conflicts_on:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        if returning:
            return [tuple(r) for r in conn.execute(stmt.returning(*[table.c[c] for c in returning]), list(rows))]
        conn.execute(stmt, list(rows))
        return []
    columns = list(rows[0])
    arrays, params = _arrays(table, rows, conn.dialect)
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO {table.name} ({names}) SELECT * FROM unnest({", ".join(arrays)})'
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    conn.execute(sa.text(sql), params)
    return []
