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
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.exc import StaleDataError

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


@dataclass(frozen=True)
class Statement:
    """An UPDATE or INSERT of a few rows built to ride in another statement's data-modifying ``WITH`` on PostgreSQL
    (an ``insert_many``'s ``along``): a workflow step's instance and task rows go out with its timeline entries and
    notifications, one round trip for all (issue 17 part 1).

    ``name``: the part's name in the ``WITH``, which also prefixes its placeholders (unique among the parts of one
    statement); ``binds``: the placeholders typed as their columns, so each value is stored as the column stores it
    (a JSON column's, a UTC datetime's); ``expect``: how many rows it must change (the optimistic check of a version
    column; another number is ``StaleDataError``), None for no check."""

    name: str
    sql: str
    binds: tuple[sa.BindParameter[Any], ...]
    params: Mapping[str, Any]
    expect: int | None = None


def update_statement(name: str, table: sa.Table, key: tuple[str, Any], values: Mapping[str, Any],
                     version: tuple[str, Any] | None = None) -> Statement:
    """``UPDATE table SET values WHERE key [AND version]``, checked for one row when a ``version`` (column, the value
    it must still hold) is given. ``values`` and the key are by column name."""
    sets = ", ".join(f'"{column}" = :{name}_{column}' for column in values)
    where = f'"{key[0]}" = :{name}__key' + (f' AND "{version[0]}" = :{name}__version' if version else "")
    binds = [sa.bindparam(f"{name}_{column}", type_=table.c[column].type) for column in values]
    binds.append(sa.bindparam(f"{name}__key", type_=table.c[key[0]].type))
    params = {f"{name}_{column}": value for column, value in values.items()}
    params[f"{name}__key"] = key[1]
    if version is not None:
        binds.append(sa.bindparam(f"{name}__version", type_=table.c[version[0]].type))
        params[f"{name}__version"] = version[1]
    return Statement(name, f"UPDATE {table.name} SET {sets} WHERE {where} RETURNING 1", tuple(binds), params,
                     1 if version is not None else None)


def insert_statement(name: str, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> Statement:
    """``INSERT INTO table (columns) VALUES (...), ...``: a few rows (every row with the same keys, by column name),
    each value typed as its column (for thousands, ``insert_many``'s JSON document)."""
    columns = list(rows[0])
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join("(" + ", ".join(f":{name}_{n}_{column}" for column in columns) + ")" for n in range(len(rows)))
    binds = tuple(sa.bindparam(f"{name}_{n}_{column}", type_=table.c[column].type)
                  for n in range(len(rows)) for column in columns)
    params = {f"{name}_{n}_{column}": row[column] for n, row in enumerate(rows) for column in columns}
    return Statement(name, f"INSERT INTO {table.name} ({names}) VALUES {values}", binds, params)


def execute(statement: Statement) -> None:
    """Send one ``Statement`` on its own (SQLite, or a caller that cannot wait for an INSERT to carry it)."""
    conn = db.session.connection()
    sql = statement.sql
    if statement.expect is None and sql.endswith(" RETURNING 1"):
        sql = sql[:-len(" RETURNING 1")]
    result = conn.execute(sa.text(sql).bindparams(*statement.binds), dict(statement.params))
    if statement.expect is not None:
        _check(statement, len(result.all()))


def _check(statement: Statement, changed: int) -> None:
    if changed != statement.expect:
        table = statement.sql.split()[1]
        raise StaleDataError(f"UPDATE statement on table '{table}' expected to update {statement.expect} row(s); "
                             f"{changed} were matched.")


Along = Sequence[tuple[type[Any], Sequence[Mapping[str, Any]]] | Statement]
"""What goes out with an ``insert_many`` (its ``along``): other tables' rows, ``(model, rows)``, and ``Statement``s."""


def insert_many(model: type[Any], rows: Sequence[Mapping[str, Any]], returning: Sequence[str] = (),
                skip_conflicts_on: Sequence[str] = (), along: Along = ()) -> list[tuple[Any, ...]]:
    """Insert ``rows`` into ``model``'s table (every row with the same keys); the ``returning`` columns of the rows written.

    ``skip_conflicts_on``: ON CONFLICT (these columns) DO NOTHING, so rows already there are not returned.
    ``along``: other tables' rows and ``Statement``s written by the same statement on PostgreSQL, each a part of a
    data-modifying ``WITH`` (one round trip for all: a workflow step's instance and task rows and its timeline entries
    ride on its notification INSERT); no part can read another's rows, a conflict or error in any part fails the
    whole, and a ``Statement`` that changed other than its ``expected`` rows is ``StaleDataError`` (the caller's
    transaction must roll back: the other parts were written). With such a check the returned rows come back through
    JSON (numbers and strings as they are; a datetime would be its text). SQLite (no round trips to save) sends them
    first, one statement each. Flushes nothing: the ORM session's pending changes are the caller's.
    """
    statements = [part for part in along if isinstance(part, Statement)]
    tables = [part for part in along if not isinstance(part, Statement) and part[1]]
    conn = db.session.connection()
    if conn.dialect.name != "postgresql" or not (rows or statements):
        for statement in statements:
            execute(statement)
        for other, other_rows in tables:
            insert_many(other, other_rows)
        return _insert_sqlite(model, rows, returning, skip_conflicts_on) if rows else []  # (PostgreSQL: no rows)
    table = model.__table__
    params: dict[str, Any] = {}
    binds: list[sa.BindParameter[Any]] = []
    ctes = []
    for statement in statements:
        ctes.append(f"{statement.name} AS ({statement.sql})")
        params.update(statement.params)
        binds.extend(statement.binds)
    for n, (other, other_rows) in enumerate(tables):
        params[f"along_{n}"] = rows_json(other_rows)
        ctes.append(f"along_{n} AS ({_insert_select(other.__table__, list(other_rows[0]), conn.dialect, f'along_{n}')})")
    main = ""
    if rows:
        params["rows"] = rows_json(rows)
        main = _insert_select(table, list(rows[0]), conn.dialect, "rows")
        if skip_conflicts_on:
            main += f" ON CONFLICT ({', '.join(skip_conflicts_on)}) DO NOTHING"
        if returning:
            main += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    checked = [statement for statement in statements if statement.expect is not None]
    if not checked and main:  # the INSERT is the statement, its RETURNING the answer
        result = conn.execute(sa.text(f"WITH {', '.join(ctes)} {main}" if ctes else main).bindparams(*binds), params)
        return [tuple(r) for r in result] if returning else []
    # one row: each checked part's count of changed rows, then the INSERT's returned rows as a JSON array
    answers = [f"(SELECT count(*) FROM {statement.name})" for statement in checked]
    if main:
        ctes.append(f"main AS ({main})")
        if returning:
            answers.append(f"(SELECT json_agg(json_build_array({', '.join(returning)})) FROM main)")
    row = conn.execute(sa.text(f"WITH {', '.join(ctes)} SELECT {', '.join(answers) or '1'}").bindparams(*binds),
                       params).one()
    for statement, changed in zip(checked, row, strict=False):
        _check(statement, changed)
    return [tuple(r) for r in (row[len(checked)] or [])] if main and returning else []


def _insert_sqlite(model: type[Any], rows: Sequence[Mapping[str, Any]], returning: Sequence[str],
                   skip_conflicts_on: Sequence[str]) -> list[tuple[Any, ...]]:
    table = model.__table__
    conn = db.session.connection()
    stmt = sqlite.insert(table)
    if skip_conflicts_on:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    if returning:
        return [tuple(r) for r in conn.execute(stmt.returning(*[table.c[c] for c in returning]), list(rows))]
    conn.execute(stmt, list(rows))
    return []


def _insert_select(table: Any, columns: Sequence[str], dialect: Any, param: str) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {recordset(table, columns, dialect, param)}"
