"""Dump and restore the database with each kind's own tools, while the app may be running.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot page by page, also
in WAL mode with writers active; restoring runs it the other way, into the live file, under SQLite's own write
lock, so a process that still has the file open sees the restored content (it never writes into an unlinked
file, as it would after a file replace). PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot) and
``pg_restore --clean --if-exists --single-transaction`` (all or nothing). The password goes to the tools in
``PGPASSWORD``, never on a command line other users can read in ``ps``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what was (not) changed."""


KINDS = ("sqlite", "postgresql")


def kind_of(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    if name not in KINDS:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def dump_file_name(kind: str) -> str:
    return "database.sqlite3" if kind == "sqlite" else "database.pgdump"


def sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and an environment carrying it."""
    url = make_url(database_url)
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH (apt-get install postgresql-client)")
    return found


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupError(f"{what} failed (exit {done.returncode}): {detail}")


def dump(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to ``target``."""
    if kind_of(database_url) == "sqlite":
        source = sqlite3.connect(sqlite_path(database_url))
        copy = sqlite3.connect(target)
        try:
            source.execute("PRAGMA busy_timeout=30000")
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    uri, env = _libpq(database_url)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(target),
          "--dbname", uri], env, "pg_dump")


def restore(database_url: str, source: Path) -> None:
    """Replace the database's content with the dump at ``source`` (all or nothing)."""
    if kind_of(database_url) == "sqlite":
        path = sqlite_path(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        dumped = sqlite3.connect(source)
        live = sqlite3.connect(path)
        try:
            live.execute("PRAGMA busy_timeout=30000")
            dumped.backup(live)
        finally:
            live.close()
            dumped.close()
        return
    uri, env = _libpq(database_url)
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", "--dbname", uri, str(source)], env, "pg_restore")


def revision_in(engine: sa.Engine) -> str | None:
    """The Alembic revision the database is at (None: never migrated)."""
    if not sa.inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def revision_at(database_url: str) -> str | None:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        return revision_in(engine)
    finally:
        engine.dispose()


def tables_with_rows(engine: sa.Engine) -> list[str]:
    """Tables holding at least one row (``alembic_version`` aside): a database worth refusing to overwrite."""
    quote = engine.dialect.identifier_preparer.quote
    names = [n for n in sa.inspect(engine).get_table_names() if n != "alembic_version"]
    with engine.connect() as conn:
        return [n for n in names if conn.execute(sa.text(f"SELECT 1 FROM {quote(n)} LIMIT 1")).first()]
