"""Write thousands of rows in one statement: ``INSERT ... SELECT ... FROM json_to_recordset(:rows)`` and
``UPDATE ... FROM json_to_recordset(:rows)`` on PostgreSQL.

SQLAlchemy's "insertmanyvalues" (an executemany turned into multi-row VALUES) sends one parameter per
cell, and psycopg parses a query of ten thousand placeholders in Python on every page (about a second
per thousand rows in the escalation sweep). Column arrays (``unnest``) were next: one parameter per
column, but psycopg still adapts each element of each list in Python (~1.5 s of the sweep's 18,572
steps). Here the whole batch is one JSON document, encoded by the standard library's C encoder in one
call; the server parses it and casts each field to its column's type (``json_to_recordset`` with the
column list). SQLite (the embedded pilot, small) keeps the plain executemany. Rows are plain dicts with
the same keys, values already in their stored form (datetimes aware or naive as the column expects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot go into a bulk row")


def rows_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as one JSON array of objects (what ``recordset`` reads)."""
    return json.dumps(rows, ensure_ascii=False, default=_json_default, separators=(",", ":"))


def recordset(table: Any, names: Sequence[str], dialect: Any, param: str = "rows") -> str:
    """``json_to_recordset(CAST(:rows AS json)) AS r(col type, ...)`` for these columns of ``table``."""
    columns = ", ".join(f'"{name}" {_sql_type(table.c[name], dialect)}' for name in names)
    return f"json_to_recordset(CAST(:{param} AS json)) AS r({columns})"


def _sql_type(column: Any, dialect: Any) -> str:
    impl = column.type.dialect_impl(dialect)
    if isinstance(impl, (sa.JSON, postgresql.JSONB)):
        return "jsonb"
    return str(column.type.compile(dialect=dialect))


def next_ids(model: type[Any], count: int) -> list[int]:
    """``count`` new primary keys for ``model``'s table, taken before its rows are built (rows of other
    tables that name them then need no read back, and nothing depends on the order RETURNING gives).

    PostgreSQL: from the id sequence, like any insert. SQLite: after the largest id; SQLite has one writer
    at a time, so callers take them inside a transaction that has already written.
    """
    if count <= 0:
        return []
    table = model.__table__
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        return list(conn.execute(sa.text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
            {"table": table.name, "n": count}).scalars())
    start = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one())
    return list(range(start + 1, start + 1 + count))


def copy_rows(model: type[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` with ``COPY ... FROM STDIN`` (PostgreSQL): the fastest way in for rows that need no
    conflict handling and no RETURNING (ids taken first with ``next_ids``). psycopg's C adapters encode
    each value; the large ones (a process instance's state) are not escaped into a JSON document first.
    SQLite: ``insert_many``. Flushes nothing.
    """
    if not rows:
        return
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        insert_many(model, rows)
        return
    table = model.__table__
    columns = list(rows[0])
    json_columns = {name for name in columns
                    if isinstance(table.c[name].type.dialect_impl(conn.dialect), (sa.JSON, postgresql.JSONB))}
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_json_text(row[c]) if c in json_columns else row[c] for c in columns])


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=_json_default)


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
    sets = ", ".join(f'"{c}" = r."{c}"' for c in columns)
    conn.execute(sa.text(
        f'UPDATE {table.name} SET {sets} FROM {recordset(table, list(rows[0]), conn.dialect)} '
        f'WHERE {table.name}."{key}" = r."{key}"'), {"rows": rows_json(rows)})


Along = Sequence[tuple[type[Any], Sequence[Mapping[str, Any]]]]
"""Other tables' rows, ``(model, rows)``, that go out with an ``insert_many`` (its ``along``)."""


def insert_many(model: type[Any], rows: Sequence[Mapping[str, Any]], returning: Sequence[str] = (),
                skip_conflicts_on: Sequence[str] = (), along: Along = ()) -> list[tuple[Any, ...]]:
    """Insert ``rows`` into ``model``'s table (every row with the same keys); the ``returning`` columns of the rows written.

    ``skip_conflicts_on``: ON CONFLICT (these columns) DO NOTHING, so rows already there are not returned.
    ``along``: other tables' rows written by the same statement on PostgreSQL, each an INSERT in a data-modifying
    ``WITH`` (one round trip for all: a workflow step's timeline entries ride on its notification INSERT); the
    statement cannot read them and a conflict or error in any part fails the whole. SQLite (no round trips to save)
    inserts them first, one statement each. Flushes nothing: the ORM session's pending changes are the caller's.
    """
    along = [(other, other_rows) for other, other_rows in along if other_rows]
    if not rows:
        for other, other_rows in along:
            insert_many(other, other_rows)
        return []
    table = model.__table__
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        for other, other_rows in along:
            insert_many(other, other_rows)
        stmt = sqlite.insert(table)
        if skip_conflicts_on:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        if returning:
            return [tuple(r) for r in conn.execute(stmt.returning(*[table.c[c] for c in returning]), list(rows))]
        conn.execute(stmt, list(rows))
        return []
    params = {"rows": rows_json(rows)}
    sql = _insert_select(table, list(rows[0]), conn.dialect, "rows")
    if along:
        ctes = []
        for n, (other, other_rows) in enumerate(along):
            other_table = other.__table__
            params[f"along_{n}"] = rows_json(other_rows)
            ctes.append(f"along_{n} AS ("
                        f"{_insert_select(other_table, list(other_rows[0]), conn.dialect, f'along_{n}')})")
        sql = f"WITH {', '.join(ctes)} {sql}"
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    conn.execute(sa.text(sql), params)
    return []


def _insert_select(table: Any, columns: Sequence[str], dialect: Any, param: str) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {recordset(table, columns, dialect, param)}"
