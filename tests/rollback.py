"""Each test rolled back, on one connection, to a dataset loaded once (issue #12).

One connection holds an outer transaction for the run. A dataset (the demo county with some of the
processes deployed) is loaded into a SAVEPOINT on it and kept while consecutive tests ask for the same
one; each test runs in a SAVEPOINT of its own inside that, rolled back when it ends. The app's
``db.session`` joins the connection with SQLAlchemy's ``join_transaction_mode="create_savepoint"``
("Joining a Session into an External Transaction"): the app's ``commit()`` releases a savepoint of the
session's own and its ``rollback()`` (error handlers, a refused idempotency key) returns to it, so the
code under test runs its real transaction boundaries and nothing it writes outlives the test. (indico's
fixtures turn ``commit`` into ``flush``; that would let an error handler's ``rollback`` undo the
test's setup too, so savepoints are used here.)

On SQLite, pysqlite's legacy transaction control would let a SAVEPOINT run outside any transaction;
SQLAlchemy's documented workaround (the driver's own BEGIN off, ours emitted) is applied to this
connection only, so the app's other connections keep the driver's default behaviour.

A dataset is built by its loaders once per run; its rows are then kept (``Snapshot``: every table's
rows as the driver returns them, copied back with one multi-row INSERT per table, or COPY on PostgreSQL)
and a later test asking for it again gets the rows copied back in a few milliseconds instead of the
loaders' seconds (parsing and deploying every shipped process, building the county).

Data that must really be committed (another thread, another process, another connection sees it) cannot
live in this transaction: such tests are marked ``committing``. For them the connection is closed, the
app's own session is used as it is in production, and every table is emptied after the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import orm

from app.extensions import db

Loader = Callable[[], Any]
"""Loads a dataset through the app's operations (inside an app context) and returns what tests get."""


@dataclass
class Snapshot:
    """A dataset as its loaders left it: the rows of every table it filled, the sequences, and what the
    loaders returned (tests get that same value whether the rows were built or copied back)."""

    tables: list[tuple[sa.Table, list[str], Any]]
    """(table, column names, rows): a list of tuples (SQLite) or COPY's text (PostgreSQL)."""
    sequences: list[tuple[str, int | None]]
    values: dict[str, Any]


class MarkCommitting(RuntimeError):
    """A test used the rolled-back connection from a second thread: it needs real commits."""


class RollbackDatabase:
    """The run's outer transaction, the dataset savepoint in it, and the current test's savepoint."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        with app.app_context():
            self.engine = db.engine
        self.app_session = db.session  # the app's own scoped session, put back for committing tests
        self.conn: sa.Connection | None = None
        self.outer: sa.Transaction | None = None
        self.bound: orm.scoped_session[Any] | None = None
        self.loaded: tuple[str, ...] | None = None
        self.values: dict[str, Any] = {}
        self.dataset: sa.NestedTransaction | None = None
        self.test: sa.NestedTransaction | None = None
        self.sequences: list[tuple[str, int | None]] = []  # as the dataset left them
        self.empty_sequences: list[tuple[str, int | None]] = []  # as the empty tables had them
        self.owner = 0
        self.snapshots: dict[tuple[str, ...], Snapshot] = {}
        self.loads = self.copies = self.rolled_back = self.committed = 0  # reported at the end of the run

    # -- per test ---------------------------------------------------------------------------------

    def begin_test(self, names: tuple[str, ...], loaders: dict[str, Loader]) -> None:
        """Start a rolled-back test on the datasets ``names`` (loaded now unless they already are)."""
        if self.conn is None:
            self._open()
        if self.loaded != names:
            self._load(names, loaders)
        assert self.conn is not None and self.bound is not None
        self.test = self.conn.begin_nested()
        db.session = self.bound
        self.rolled_back += 1

    def end_test(self) -> None:
        """Roll the test back to the dataset; a test that broke the transaction closes the connection."""
        db.session = self.app_session
        self._close_sessions()
        test, self.test = self.test, None
        if test is None:
            return
        if not test.is_active:
            self.close()
            raise RuntimeError("the test ended the outer transaction (a raw COMMIT or ROLLBACK?)")
        test.rollback()
        self._restore_sequences(self.sequences)

    def value(self, name: str) -> Any:
        return self.values[name]

    # -- connection and datasets --------------------------------------------------------------------

    def _open(self) -> None:
        conn = self.engine.connect()
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            raw = conn.connection.dbapi_connection
            self._sqlite_level = raw.isolation_level  # type: ignore[union-attr]
            raw.isolation_level = None  # type: ignore[union-attr]
        self.outer = conn.begin()
        if sqlite:
            conn.exec_driver_sql("BEGIN")
        self.owner = threading.get_ident()
        sa.event.listen(conn, "before_cursor_execute", self._same_thread)
        self.conn = conn
        factory = self.app_session.session_factory
        joined = type("JoinedSession", (factory.class_,), {"get_bind": _connection_bind})
        options = {**factory.kw, "bind": conn, "join_transaction_mode": "create_savepoint"}
        self.bound = orm.scoped_session(orm.sessionmaker(class_=joined, **options),
                                        scopefunc=self.app_session.registry.scopefunc)
        self.loaded = ()
        self.dataset = conn.begin_nested()
        self.sequences = self.empty_sequences = self._read_sequences()

    def _load(self, names: tuple[str, ...], loaders: dict[str, Loader]) -> None:
        assert self.conn is not None and self.dataset is not None and self.bound is not None
        self.dataset.rollback()
        self.loaded, self.values = None, {}
        self._restore_sequences(self.empty_sequences)
        self.dataset = self.conn.begin_nested()
        snapshot = self.snapshots.get(names)
        if snapshot is not None:
            self._copy_back(snapshot)
            self.values = dict(snapshot.values)
            self.copies += 1
        elif names:
            db.session = self.bound
            try:
                with self.app.app_context():
                    for name in names:
                        self.values[name] = loaders[name]()
                    db.session.commit()
            finally:
                db.session = self.app_session
                self._close_sessions()
            self.loads += 1
        self.loaded = names
        self.sequences = self._read_sequences()
        if snapshot is None and names:
            self.snapshots[names] = self._snapshot()

    # -- datasets kept as rows ------------------------------------------------------------------------

    def _snapshot(self) -> Snapshot:
        assert self.conn is not None
        return take_snapshot(self.conn, self.sequences, self.values)

    def _copy_back(self, snapshot: Snapshot) -> None:
        assert self.conn is not None
        copy_rows(self.conn, snapshot)
        self._restore_sequences(snapshot.sequences)

    def committed_dataset(self, name: str, loader: Loader, first: bool) -> Any:
        """A dataset for a committing test, committed. The test's first one (the tables are empty) is
        copied from this run's snapshot of it, or loaded and then kept as one; a second one goes on top
        of the first through its loader."""
        snapshot = self.snapshots.get((name,)) if first else None
        if snapshot is None:
            value = loader()
            db.session.commit()
            if first:
                with self.engine.connect() as conn:
                    self.snapshots[(name,)] = take_snapshot(conn, read_sequences(conn), {name: value})
            self.loads += 1
            return value
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # before the first INSERT, where pysqlite begins its transaction: takes effect
                conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
            copy_rows(conn, snapshot)
            restore_sequences(conn, snapshot.sequences)
            conn.commit()
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys = ON")
        self.copies += 1
        return snapshot.values[name]

    def close(self) -> None:
        """Roll back everything and give the connection up (before a committing test, at the end)."""
        db.session = self.app_session
        self._close_sessions()
        conn, self.conn = self.conn, None
        self.loaded, self.values, self.dataset, self.test, self.bound = None, {}, None, None, None
        if conn is None:
            return
        sa.event.remove(conn, "before_cursor_execute", self._same_thread)
        if not conn.invalidated:
            conn.rollback()  # the outer transaction, its savepoints with it
            if conn.dialect.name == "sqlite":  # the pooled connection goes back as the driver made it
                conn.connection.dbapi_connection.isolation_level = self._sqlite_level  # type: ignore[union-attr]
        conn.close()

    def _close_sessions(self) -> None:
        """Close the sessions of every app context the test left (their open savepoints roll back)."""
        if self.bound is None:
            return
        registry: Any = self.bound.registry
        for session in list(registry.registry.values()):
            session.close()
        registry.registry.clear()

    def _same_thread(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() != self.owner:
            raise MarkCommitting(
                "a second thread used the test's rolled-back connection: mark the test "
                "@pytest.mark.committing (it needs real commits and connections of its own)")

    # -- PostgreSQL sequences are not transactional: put them back as the dataset left them ---------

    def _read_sequences(self) -> list[tuple[str, int | None]]:
        assert self.conn is not None
        return read_sequences(self.conn)

    def _restore_sequences(self, sequences: list[tuple[str, int | None]]) -> None:
        if self.conn is not None:
            restore_sequences(self.conn, sequences)


def read_sequences(conn: sa.Connection) -> list[tuple[str, int | None]]:
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(sa.text(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value "
        "FROM pg_sequences WHERE schemaname = current_schema()"))
    return [(str(name), None if last is None else int(last)) for name, last in rows]


def restore_sequences(conn: sa.Connection, sequences: list[tuple[str, int | None]]) -> None:
    if not sequences:
        return
    calls: list[str] = []
    params: dict[str, Any] = {}
    for i, (name, last) in enumerate(sequences):
        calls.append(f"setval(CAST(:n{i} AS regclass), :v{i}, :c{i})")
        params |= {f"n{i}": name, f"v{i}": last or 1, f"c{i}": last is not None}
    conn.execute(sa.text("SELECT " + ", ".join(calls)), params)


def take_snapshot(conn: sa.Connection, sequences: list[tuple[str, int | None]], values: dict[str, Any]) -> Snapshot:
    """Every table's rows as ``conn`` sees them now (COPY's text on PostgreSQL, the driver's tuples on
    SQLite: both go back exactly as they came out, with no type conversion in between)."""
    tables: list[tuple[sa.Table, list[str], Any]] = []
    postgres = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.dbapi_connection
    for table in _tables():
        columns = [c.name for c in table.columns]
        if postgres:
            data = bytearray()
            with raw.cursor() as cursor, cursor.copy(f"COPY {_quoted(table)} TO STDOUT") as copy:
                for block in copy:
                    data += block
            if data:
                tables.append((table, columns, bytes(data)))
        else:
            rows = conn.exec_driver_sql(f"SELECT {_names(columns)} FROM {_quoted(table)}").all()
            if rows:
                tables.append((table, columns, [tuple(row) for row in rows]))
    return Snapshot(tables, list(sequences), dict(values))


def copy_rows(conn: sa.Connection, snapshot: Snapshot) -> None:
    """The snapshot's rows into the (empty) tables, parents first, in ``conn``'s transaction."""
    raw: Any = conn.connection.dbapi_connection
    postgres = conn.dialect.name == "postgresql"
    # Rows that point at rows of their own table or at a later table (a case and its first report) are
    # consistent only once all are in: the foreign keys are checked after the copy, not row by row.
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica" if postgres
                         else "PRAGMA defer_foreign_keys = ON")
    for table, columns, rows in snapshot.tables:
        if postgres:
            with raw.cursor() as cursor, cursor.copy(f"COPY {_quoted(table)} FROM STDIN") as copy:
                copy.write(rows)
        else:
            marks = ", ".join("?" * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {_quoted(table)} ({_names(columns)}) VALUES ({marks})", rows)
    conn.exec_driver_sql("SET LOCAL session_replication_role = origin" if postgres
                         else "PRAGMA defer_foreign_keys = OFF")


def _tables() -> list[sa.Table]:
    """Every table, parents before children (the order rows can be inserted in)."""
    return list(db.metadata.sorted_tables)


def _quoted(table: sa.Table) -> str:
    return f'"{table.name}"'


def _names(columns: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in columns)


def _connection_bind(self: orm.Session, mapper: Any = None, clause: Any = None, bind: Any = None,
                     **kw: Any) -> Any:
    """Flask-SQLAlchemy's ``get_bind`` picks the engine by bind key; here every statement goes to the
    test's connection (the app has one database)."""
    return bind if bind is not None else self.bind


def empty_tables(app: Flask) -> None:
    """After a committing test: every table emptied (identities restarted on PostgreSQL)."""
    with app.app_context():
        db.session.rollback()
        tables = list(reversed(db.metadata.sorted_tables))
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()


@contextmanager
def app_session(database: RollbackDatabase) -> Iterator[None]:
    """The app's own session and connections for a committing test (the rolled-back one closed)."""
    database.close()
    database.committed += 1
    try:
        yield
    finally:
        empty_tables(database.app)


def counts(database: RollbackDatabase) -> dict[str, int]:
    """What the run's end reports (an xdist worker sends it to the controller, which adds them up)."""
    return {"rolled_back": database.rolled_back, "committed": database.committed, "loads": database.loads,
            "copies": database.copies}


def summary(totals: dict[str, int], workers: int = 0) -> str:
    where = f" in {workers} workers" if workers else ""
    return (f"database{where}: {totals['rolled_back']} tests rolled back, {totals['committed']} committing, "
            f"{totals['loads']} dataset loads, {totals['copies']} copied back")


def datasets_of(fixturenames: Sequence[str], marked: str | None) -> tuple[str, ...]:
    """The datasets a test's fixtures ask for, in the order they are set up."""
    names: list[str] = []
    for name in fixturenames:
        if name == "demo":
            names.append(marked or "demo")
        elif name == "county":
            names.append("county")
    return tuple(names)
