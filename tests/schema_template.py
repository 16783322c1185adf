"""The migrated schema, built once and kept while the migrations stay the same (issue 12 part 6).

Every worker used to run the 34 Alembic migrations into its own database as its session began: 0.57 s of CPU
each on SQLite (most of it SQLite's batch "move and copy" of altered tables), with both workers waiting for
it. With ``--forks N`` a worker's database now starts as a copy of a template (SQLite: the file;
PostgreSQL: ``CREATE DATABASE ... TEMPLATE``) and the ``app`` fixture does not migrate.

The template is kept between runs, as tests/bytecode_cache.py keeps compiled modules: its name is a digest of
everything an ``upgrade()`` of an empty database runs (every file under ``migrations/``, the ``app`` modules
those import, Alembic's and SQLAlchemy's versions), so a changed migration makes a new one. When the run
finds none for its digest it forks a builder as its session starts, before it imports the test modules:
the builder migrates while the run collects on the other core, and the run waits for it before it forks the
workers. The schema is the migrations' either way (the builder runs the same ``upgrade()`` the ``app``
fixture runs in a plain run, ``pytest`` with no ``--forks``); tests/test_boundaries.py checks the migrations
against the models. A builder that fails leaves no template: the run says so and its workers migrate.
Where: ``test-output/schema/<digest>.db`` for SQLite; ``<database>_schema_<digest>`` beside a PostgreSQL
``DATABASE_URL``'s database (the one of an older digest is dropped when a new one is built). Each builder migrates
under a name of its own and renames it when done, so two runs at once never share a half-built one; a worker whose
template another run dropped meanwhile migrates its own database (``parallel.copy_template``).
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import sys
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa
from parallel import TEMPLATE, admin_engine, create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
SQLITE_TEMPLATES = ROOT / "test-output" / "schema"

_BUILDER = pytest.StashKey[tuple[int, str, Path]]()


def pytest_configure(config: pytest.Config) -> None:
    """A template named by the environment is only ever the one this run chose (a forked worker inherits
    it after the fork)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.pop(TEMPLATE, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The run (``--forks`` of 2 or more, not a worker): the kept template, or a builder started before
    collecting."""
    config = session.config
    if (config.getoption("forks", 0) < 2 or config.option.collectonly or os.environ.get("PYTEST_XDIST_WORKER")
            or getattr(config.option, "numprocesses", None) or not hasattr(os, "fork")):
        return
    url = template_url(os.environ.get("DATABASE_URL"), digest())
    if exists(url):
        os.environ[TEMPLATE] = url
        return
    base = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]  # noqa: SLF001
    log = base / "schema-template.log"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _build(url, base, log)  # never returns
    config.stash[_BUILDER] = (pid, url, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The run has collected: wait for the builder; the workers forked next find the template's URL."""
    builder = session.config.stash.get(_BUILDER, None)
    if builder is None:
        return
    del session.config.stash[_BUILDER]
    pid, url, log = builder
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        os.environ[TEMPLATE] = url
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"schema template not built (exit {code}, see {log}): each worker migrates its own database")


def digest() -> str:
    """What an ``upgrade()`` of an empty database runs, as 16 hex digits."""
    import alembic

    sha = hashlib.sha256(f"alembic {alembic.__version__} sqlalchemy {sa.__version__}\n".encode())
    files = sorted(path for path in MIGRATIONS.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    imported: set[Path] = set()
    for path in files:
        sha.update(f"{path.relative_to(ROOT)}\n".encode())
        sha.update(path.read_bytes())
        if path.suffix == ".py":
            imported |= _app_modules(path)
    for path in sorted(imported):
        sha.update(f"{path.relative_to(ROOT)}\n".encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def _app_modules(path: Path) -> set[Path]:
    """The ``app`` modules a migration imports (their code runs in a data migration)."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            if name == "app" or name.startswith("app."):
                module = ROOT.joinpath(*name.split("."))
                found |= {candidate for candidate in (module.with_suffix(".py"), module / "__init__.py")
                          if candidate.is_file()}
    return found


def template_url(database_url: str | None, key: str) -> str:
    """``<database>_schema_<key>`` beside a PostgreSQL database; a SQLite file under test-output otherwise."""
    if database_url:
        parsed = sa.engine.make_url(database_url)
        if parsed.drivername.startswith("postgresql"):
            name = f"{parsed.database}_schema_{key}"
            return parsed.set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{SQLITE_TEMPLATES / f'{key}.db'}"


def exists(url: str) -> bool:
    parsed = sa.engine.make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return Path(parsed.database or "").is_file()
    engine = admin_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": parsed.database}).first()
    finally:
        engine.dispose()
    return found is not None


def _build(url: str, base: Path, log: Path) -> None:
    """The builder's whole life: migrate a new template for ``url``, exit (0 when it is there)."""
    status = 1
    try:
        with open(log, "wb", buffering=0) as out:  # noqa: PTH123 - the fds, not a Python file, are what count
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115, PTH123 - pytest's capture replaced them
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115, PTH123
        build(url, base / "schema-template-instance")
        status = 0
    except BaseException:  # noqa: BLE001 - whatever it was, the run hears of it through the exit status
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)  # not the run's atexit handlers, nor its pytest hooks


def build(url: str, instance: Path) -> None:
    """Migrate a database under a temporary name, then give it ``url``'s name (a run never finds half a
    template); on PostgreSQL, drop the templates of other digests."""
    parsed = sa.engine.make_url(url)
    name = parsed.database or ""
    sqlite = parsed.drivername.startswith("sqlite")
    own = f"{name}.{os.getpid()}.building" if sqlite else f"{name}_b{os.getpid()}"  # two runs never share one
    building = parsed.set(database=own).render_as_string(hide_password=False)
    if sqlite:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    else:
        create_database(building)
    migrate(building, instance)
    if sqlite:
        os.replace(own, name)  # the same content whichever run's lands last
        for suffix in ("-wal", "-shm"):
            Path(f"{own}{suffix}").unlink(missing_ok=True)
        return
    engine = admin_engine(url)
    try:
        with engine.connect() as conn:
            stem = name.rsplit("_schema_", 1)[0]
            others = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                                  {"pattern": f"{stem}\\_schema\\_%"}).scalars().all()
            if name in others:  # another run built it meanwhile
                older = [own]
            else:
                conn.execute(sa.text(f'ALTER DATABASE "{own}" RENAME TO "{name}"'))
                # other digests' templates; not another run's template still being built (``_b<pid>``)
                older = [other for other in others
                         if other != name and re.fullmatch(rf"{re.escape(stem)}_schema_[0-9a-f]{{16}}", other)]
    finally:
        engine.dispose()
    for other in older:  # a run still copying from an older one migrates instead (parallel.copy_template)
        drop_database(parsed.set(database=other).render_as_string(hide_password=False))


def migrate(url: str, instance: Path) -> None:
    """Alembic's ``upgrade()`` into the (new, empty) database at ``url``; no connection to it left open."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    instance.mkdir(parents=True, exist_ok=True)
    app = create_app({"database_url": url, "instance_dir": instance, "secret_key": "schema-template",
                      "testing": True, "redis_url": None, "inline_loop": False})
    with app.app_context():
        upgrade()
        if url.startswith("sqlite"):
            with db.engine.connect() as conn:  # everything in the one file that is copied
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.session.remove()
        db.engine.dispose()
