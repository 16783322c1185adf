"""Fixtures: one app per test session on SQLite (default) or PostgreSQL (DATABASE_URL).

The schema is built by the Alembic migrations, exactly as ``make run`` builds it;
every test starts from empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.common.clock import FixedClock
from app.extensions import db

pytest_plugins = ["webhelpers", "deadline_helpers"]
"""Page-test fixtures (``page``: a signed-in browser session) live in tests/webhelpers.py; the deadline,
worker and dashboard fixtures (``county``, ``api``, ``smtp``) in tests/deadline_helpers.py."""

START = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
"""Tuesday 2026-03-10 09:00 in Asia/Shanghai: an ordinary working morning."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``postgres`` / ``redis`` tests need the real servers: skipped ONLY when their URL is not set."""
    needs = {"postgres": "DATABASE_URL", "redis": "REDIS_URL"}
    for item in items:
        for marker, variable in needs.items():
            if item.get_closest_marker(marker) is not None and not os.environ.get(variable):
                item.add_marker(pytest.mark.skip(reason=f"needs {variable} (a real {marker})"))


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'liandong.db'}"


@pytest.fixture(scope="session")
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(scope="session")
def app(database_url: str, clock: FixedClock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({
        "database_url": database_url, "instance_dir": instance, "secret_key": "test-secret",
        "testing": True, "redis_url": None, "inline_loop": False, "extra": {"clock": clock},
    })
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    yield app
    with app.app_context():  # close pooled connections now, not when the garbage collector finds them
        db.session.remove()
        db.engine.dispose()
    with app.app_context():
        db.engine.dispose()  # close pooled connections (server threads' too) before pytest's final GC


@pytest.fixture(autouse=True)
def _clean(app: Flask, clock: FixedClock) -> Iterator[None]:
    clock.at = START
    yield
    with app.app_context():
        db.session.rollback()
        tables = [t for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                db.session.execute(table.delete())
        db.session.commit()
        db.session.remove()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def demo(ctx: Flask) -> dict[str, Any]:
    """The demo county with the shipped processes deployed."""
    from app.cli import deploy_shipped
    from app.org.demo import load_demo

    logins = load_demo()
    deploy_shipped("tests")
    db.session.commit()
    return {login.username: login for login in logins}


class ApiClient:
    """Calls the REST API as a named demo user with a real bearer token."""

    def __init__(self, client: FlaskClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers, **kw)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def as_user(client: FlaskClient, demo: dict[str, Any]) -> Any:
    tokens: dict[str, str] = {}

    def make(username: str) -> ApiClient:
        if username not in tokens:
            from app.org.operations import issue_token
            from app.org.queries import user_by_username

            user = user_by_username(username)
            assert user is not None, username
            tokens[username] = issue_token(user, ttl_days=365)  # tests move the clock by months
            db.session.commit()
        return ApiClient(client, tokens[username])

    return make


ROOT = Path(__file__).resolve().parent.parent
