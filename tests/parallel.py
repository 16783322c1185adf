"""Workers, each with a database and a Redis database of its own (issue #12, part 6).

``make test`` runs the suite in ``PYTEST_WORKERS`` processes (default 2: the machine and CI have 2 cores),
forked from the run once it has collected (tests/forks.py) or, with ``-n N``, started by pytest-xdist. Either
way a worker is named ``gw0``, ``gw1``, ... in ``PYTEST_XDIST_WORKER``, and each is a full pytest session: its own app, its own rolled-back connection and datasets
(tests/rollback.py), and, before anything reads them, its own servers' databases:

- SQLite: the worker's own file (pytest's temporary directory is per worker already);
- PostgreSQL: ``<database>_gw0``, ``<database>_gw1``, ... on the server ``DATABASE_URL`` names, created
  when the worker starts and dropped when it ends (a database left by a killed run is dropped first);
- Redis: the database number of ``REDIS_URL`` plus the worker's number (``/1`` gives gw0 db 1, gw1 db 2),
  because the Redis tests flush theirs.

Every test, fixture and subprocess reads ``DATABASE_URL`` / ``REDIS_URL`` from the environment, so the
worker rewrites those two variables and nothing else has to know it runs in parallel. ``PYTEST_WORKERS=0``
runs one process, as plain ``pytest`` does: that is how to reproduce a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil

import pytest
import sqlalchemy as sa

TEMPLATE = "LIANDONG_TEST_SCHEMA"
"""The environment variable naming the run's migrated schema template to its forked workers, set only once it
is built (tests/schema_template.py)."""

REDIS_DATABASES = 16
"""Redis's default ``databases`` setting: a worker's number must stay below it."""


def worker_id() -> str | None:
    """``gw0``, ``gw1``, ... in a worker; None in a plain run and in the process that hands out the tests."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def worker_number(worker: str) -> int:
    match = re.fullmatch(r"gw(\d+)", worker)
    if match is None:
        raise pytest.UsageError(f"unexpected xdist worker id {worker!r}")
    return int(match.group(1))


def database_of(url: str, worker: str) -> str:
    """The worker's PostgreSQL database beside the one ``url`` names (SQLite URLs are per run anyway)."""
    parsed = sa.engine.make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return url
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def redis_of(url: str, worker: str) -> str:
    """The worker's Redis database: ``REDIS_URL``'s number plus the worker's."""
    match = re.fullmatch(r"(?P<server>rediss?://[^/?#]*)(?:/(?P<db>\d*))?(?P<rest>[?#].*)?", url)
    if match is None:
        raise pytest.UsageError(f"REDIS_URL {url!r}: expected redis://host:port/<db>")
    number = int(match.group("db") or 0) + worker_number(worker)
    if number >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"REDIS_URL's database plus worker {worker} is {number}; Redis has {REDIS_DATABASES} "
            "(use a lower database number or fewer workers: PYTEST_WORKERS / -n)")
    return f"{match.group('server')}/{number}{match.group('rest') or ''}"


def admin_engine(url: str) -> sa.Engine:
    """A connection to the server's maintenance database, outside any transaction (CREATE DATABASE)."""
    server = sa.engine.make_url(url).set(drivername="postgresql+psycopg", database="postgres")
    return sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_database(url: str, template: str | None = None) -> None:
    """``url``'s database made afresh: empty, or a copy of ``template``'s (which nobody may be connected to)."""
    name = sa.engine.make_url(url).database
    copy = f' TEMPLATE "{sa.engine.make_url(template).database}"' if template else ""
    engine = admin_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{copy}'))
    engine.dispose()


def drop_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    engine = admin_engine(url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


OWN_DATABASE = pytest.StashKey[str]()


def finish_worker(config: pytest.Config) -> None:
    """The worker's session is over (its app's connections closed with the session fixtures): drop its
    PostgreSQL database now, while the run still waits for the worker (it may end it right after)."""
    own = config.stash.get(OWN_DATABASE, None)
    if own is not None:
        drop_database(own)
        del config.stash[OWN_DATABASE]


def isolate_worker(config: pytest.Config) -> None:
    """In a worker: point ``DATABASE_URL`` and ``REDIS_URL`` at the worker's own databases (the
    PostgreSQL one created now, dropped by ``finish_worker``)."""
    worker = worker_id()
    if worker is None:
        return
    url = os.environ.get("DATABASE_URL")
    if url:
        own = database_of(url, worker)
        if own != url:
            create_database(own)
            config.stash[OWN_DATABASE] = own
        os.environ["DATABASE_URL"] = own
    redis = os.environ.get("REDIS_URL")
    if redis:
        os.environ["REDIS_URL"] = redis_of(redis, worker)


def copy_template(template: str, database_url: str) -> bool:
    """The worker's database as a copy of the migrated template (its own database is replaced). False when the
    template could not be copied (another run dropped it meanwhile): the database is then there and empty."""
    try:
        if template.startswith("postgresql"):
            create_database(database_url, template)
            return True
        source = sa.engine.make_url(template).database
        target = sa.engine.make_url(database_url).database
        assert source and target, (template, database_url)
        shutil.copyfile(source, target)
        return True
    except (OSError, sa.exc.DBAPIError):
        if database_url.startswith("postgresql"):
            create_database(database_url)
        else:  # nothing half-copied for the migrations to trip on
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sa.engine.make_url(database_url).database or "")
        return False
