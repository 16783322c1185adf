"""Fixtures: one app per test session on SQLite (default) or PostgreSQL (DATABASE_URL).

The schema is built by the Alembic migrations, exactly as ``make run`` builds it. Every test is rolled
back (tests/rollback.py): the datasets (``demo``, ``county``) are loaded once and kept while consecutive
tests use them, and a test starts from exactly that data or from empty tables. Tests that need real
commits (threads, other processes, other connections) are marked ``committing``; they get the app's own
session and every table is emptied after them. The real peers (HTTP server thread, Chromium, SMTP) are
in tests/peers.py.
"""

from __future__ import annotations

import bytecode_cache  # noqa: F401 - first: what the imports below compile is kept between runs

# isort: split
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import token_clients
from parallel import TEMPLATE, copy_template, finish_worker, isolate_worker, worker_id
from parts import forget_parts
from pydantic import SecretStr
from rollback import Loader, RollbackDatabase, app_session, counts, datasets_of, summary

from app import create_app
from app.common import sealed
from app.common.clock import FixedClock
from app.extensions import db, limiter
from app.webhooks import outbox as webhook_outbox

webhook_outbox.TTL = 3600.0  # one process changes the subscribers in tests, and forgets at each change

pytest_plugins = ["peers", "schedule", "gcfreeze", "forks", "schema_template"]

START = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
"""Tuesday 2026-03-10 09:00 in Asia/Shanghai: an ordinary working morning."""

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """A worker gets a database and a Redis database of its own (tests/parallel.py; a forked worker gets them
    when it starts, tests/forks.py). The run (the process handing out the tests, or the one process) starts
    the reports that tests write in parts afresh (tests/parts.py)."""
    isolate_worker(config)
    config.addinivalue_line("markers", "long: over 5 s each (the fuzz runs, the walks, browser flows, a year of duties): "
                            "handed to the workers first (grouped_first)")
    if worker_id() is None:
        forget_parts(ROOT / "test-output" / "a11y", ROOT / "test-output" / "fuzz")


FUZZ_MODULES = frozenset({"test_api_fuzz.py"})
"""The modules whose tests schemathesis's pytest plugin makes (``schema.parametrize()``)."""


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> None:
    """schemathesis's pytest plugin (0.25 s of imports before the first test) is loaded only by a run that
    collects a module using it, before that module's tests are made (not for every file found)."""
    plugins = collector.config.pluginmanager
    if (isinstance(collector, pytest.Module) and collector.path.name in FUZZ_MODULES
            and not plugins.has_plugin("schemathesis.pytest.plugin")):
        plugins.import_plugin("schemathesis.pytest.plugin")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``postgres`` / ``redis`` tests need the real servers: skipped ONLY when their URL is not set."""
    needs = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}
    for item in items:
        for marker, variable in needs.items():
            if item.get_closest_marker(marker) is not None and not os.environ.get(variable):
                item.add_marker(pytest.mark.skip(reason=f"needs {variable} (a real {marker})"))
    one_chromium(items)
    items[:] = grouped_first(grouped_by_dataset(items))


def one_chromium(items: list[pytest.Item]) -> None:
    """The tests that drive Chromium form one ``xdist_group``: with ``--forks`` (or xdist's ``--dist loadgroup``) one worker runs them
    all, so one worker starts Playwright's driver and Chromium (about 2.6 s of wall time and 1.7 s of CPU each
    time) and only that worker's dataset connection is closed and reopened around them (they commit for
    real). The group is handed out first (``grouped_first``)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("chromium"))


def grouped_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """Tests marked ``long`` (the fuzz runs, the accessibility walk: tens of seconds each) and those of an
    ``xdist_group`` first, so that they are handed out while both workers are busy and the short tests
    fill in around them, instead of one long test holding a worker at the end; the order is kept otherwise."""

    def first(item: pytest.Item) -> bool:
        return item.get_closest_marker("long") is not None or item.get_closest_marker("xdist_group") is not None

    return [item for item in items if first(item)] + [item for item in items if not first(item)]


def _needs(item: pytest.Item) -> tuple[str, ...] | None:
    """What a test runs on: None for no database, ("committing",), or the datasets it asks for."""
    names = list(getattr(item, "fixturenames", ()))
    if "_database" not in names:
        return None
    if item.get_closest_marker("committing") is not None:
        return ("committing",)
    marker = item.get_closest_marker("dataset")
    return datasets_of(names, marker.args[0] if marker else None)


def grouped_by_dataset(items: list[pytest.Item]) -> list[pytest.Item]:
    """Within each module, tests on the same dataset run one after another (the dataset is loaded once
    for them, not again after each test on another); the order of modules, and of the tests within a
    group, is kept. A module's first group continues the dataset the previous module ended with."""
    modules: dict[Any, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.parent, []).append(item)
    ordered: list[pytest.Item] = []
    last: tuple[str, ...] | None = None
    for group in modules.values():
        keys = {id(item): _needs(item) for item in group}
        first = [item for item in group if keys[id(item)] in (last, None)]
        rest = [item for item in group if keys[id(item)] not in (last, None)]
        rest.sort(key=lambda item: str(keys[id(item)]))
        ordered += first + rest
        if rest:
            last = keys[id(rest[-1])]
    return ordered


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session's database, migrated: a copy of the run's template in a forked worker
    (tests/schema_template.py), else empty here and migrated by the ``app`` fixture."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'liandong.db'}"
    template = os.environ.get(TEMPLATE)
    if template and not copy_template(template, url):
        os.environ.pop(TEMPLATE)  # the app fixture migrates
    elif not template and url.startswith("postgresql"):
        _reset_postgres(url)
    return url


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(scope="session")
def app(database_url: str, clock: FixedClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({
        "database_url": database_url, "instance_dir": instance, "secret_key": "test-secret",
        "testing": True, "redis_url": None, "inline_loop": False, "extra": {"clock": clock},
        "webhook_allowed_networks": ["127.0.0.0/8"],  # the receivers of tests/webhook_peer.py listen there
    })
    from flask_migrate import upgrade

    if not os.environ.get(TEMPLATE):
        with app.app_context():
            upgrade()
    yield app
    with app.app_context():  # close pooled connections now, not when the garbage collector finds them
        db.session.remove()
        db.engine.dispose()
    with app.app_context():
        db.engine.dispose()  # close pooled connections (server threads' too) before pytest's final GC


# -- datasets -------------------------------------------------------------------------------------------


def load_shipped() -> dict[str, Any]:
    """The demo county with every shipped process deployed; its logins by username."""
    from app.cli import deploy_shipped
    from app.org.demo import load_demo

    logins = load_demo()
    deploy_shipped("tests")
    return {login.username: login for login in logins}


def load_county_only() -> None:
    from deadline_helpers import load_county

    load_county()


def load_four_in_one() -> dict[str, Any]:
    from designer_helpers import four_in_one_demo

    return four_in_one_demo()


def load_fuzz() -> dict[str, Any]:
    from fuzz_county import load_fuzz_county

    return load_fuzz_county()


def load_a11y() -> dict[str, Any]:
    from walks import load_a11y_walk

    load_shipped()
    return load_a11y_walk()


def load_mobile() -> dict[str, Any]:
    from walks import load_mobile_walk

    load_shipped()
    return load_mobile_walk()


LOADERS: dict[str, Loader] = {"demo": load_shipped, "county": load_county_only, "four_in_one": load_four_in_one,
                              "fuzz": load_fuzz, "a11y_walk": load_a11y, "mobile_walk": load_mobile}
"""What ``demo`` (``@pytest.mark.dataset(NAME)`` picks another) and ``county`` load."""


DATABASE = pytest.StashKey[RollbackDatabase]()


@pytest.fixture(scope="session")
def database(app: Flask, pytestconfig: pytest.Config) -> Iterator[RollbackDatabase]:
    rolled = pytestconfig.stash[DATABASE] = RollbackDatabase(app)
    yield rolled
    rolled.close()


WORKER_COUNTS = pytest.StashKey[list[dict[str, int]]]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if worker_id() is None:
        return
    if DATABASE in session.config.stash:
        session.config.workeroutput["database"] = counts(session.config.stash[DATABASE])  # type: ignore[attr-defined]
    finish_worker(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The run (tests/forks.py, or xdist's controller): a worker finished; keep its counts for the summary line."""
    done = node.config.stash.setdefault(WORKER_COUNTS, [])
    if "database" in getattr(node, "workeroutput", {}):
        done.append(node.workeroutput["database"])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """How many tests were rolled back or committed, and how often a dataset was loaded."""
    if DATABASE in config.stash:
        terminalreporter.write_line(summary(counts(config.stash[DATABASE])))
    elif config.stash.get(WORKER_COUNTS, None):
        workers = config.stash[WORKER_COUNTS]
        totals = {key: sum(w[key] for w in workers) for key in workers[0]}
        terminalreporter.write_line(summary(totals, len(workers)))


def committing(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("committing") is not None


@pytest.fixture(autouse=True)
def _database(request: pytest.FixtureRequest, app: Flask, clock: FixedClock,
              database: RollbackDatabase) -> Iterator[None]:
    """Each test rolled back to its datasets; a ``committing`` test commits for real, then is emptied.
    Files a test stored beside the database (attachments) go with its rows: the next test on this
    worker, whichever it is, finds none."""
    clock.at = START
    # No dataset subscribes to webhooks but the page walks' (whose tests send no event); a test's own
    # subscribing forgets.
    webhook_outbox.forget(frozenset())
    try:
        if committing(request):
            with app_session(database):
                yield
            return
        marker = request.node.get_closest_marker("dataset")
        database.begin_test(datasets_of(request.fixturenames, marker.args[0] if marker else None), LOADERS)
        try:
            yield
        finally:
            database.end_test()
    finally:
        shutil.rmtree(Path(app.config["LIANDONG"].instance_dir) / "attachments", ignore_errors=True)


FIRST_DATASET = pytest.StashKey[bool]()


def _dataset(request: pytest.FixtureRequest, database: RollbackDatabase, name: str) -> Any:
    if not committing(request):
        return database.value(name)
    first = request.node.stash.get(FIRST_DATASET, True)
    request.node.stash[FIRST_DATASET] = False
    return database.committed_dataset(name, LOADERS[name], first)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def demo(ctx: Flask, request: pytest.FixtureRequest, database: RollbackDatabase) -> dict[str, Any]:
    """The demo county with the shipped processes deployed (``@pytest.mark.dataset`` names fewer)."""
    marker = request.node.get_closest_marker("dataset")
    return dict(_dataset(request, database, marker.args[0] if marker else "demo"))


@pytest.fixture
def county(ctx: Flask, request: pytest.FixtureRequest, database: RollbackDatabase) -> Flask:
    """The demo county with the four-in-one process and the timer test diagrams (tests/data) only."""
    _dataset(request, database, "county")
    return ctx


# -- clients --------------------------------------------------------------------------------------------


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def as_user(client: FlaskClient, demo: dict[str, Any]) -> Any:
    """``as_user("police_t01")``: the REST API as that demo user (one test client for all users)."""
    return token_clients(lambda: client)


@pytest.fixture
def api(app: Flask, county: Flask) -> Any:
    """``api("police_t01")`` on the ``county`` dataset (a test client per user)."""
    return token_clients(app.test_client)


@pytest.fixture
def page(app: Flask, demo: dict[str, Any]) -> Any:
    """``page("police_t01")`` -> a signed-in PageClient; ``page(None)`` -> anonymous."""
    from webhelpers import PageClient

    limiter.reset()

    def make(username: str | None) -> PageClient:
        return PageClient(app, username)

    return make


@pytest.fixture
def keys(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``keys("k1,k2")`` configures LIANDONG_ENCRYPTION_KEYS for the rest of the test (as a restart would)."""
    settings = app.config["LIANDONG"]

    def configure(value: str) -> None:
        monkeypatch.setattr(settings, "encryption_keys", SecretStr(value))
        app.extensions.pop(sealed.EXTENSION, None)

    yield configure
    app.extensions.pop(sealed.EXTENSION, None)
