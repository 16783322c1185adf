"""What a request sends PostgreSQL besides its statements (issue 17 part 3): no ping per checkout, no BEGIN and
ROLLBACK around a read-only API call; a pooled connection the server ended is still replaced before use."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask

from app.common import connections
from app.extensions import db

pytestmark = pytest.mark.postgres


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """What psycopg sends the server from now on: ``query`` (every statement, the pool's pings too) and each
    transaction command by its first word (BEGIN, COMMIT, ROLLBACK)."""
    counts: Counter[str] = Counter()
    command, execute = psycopg.Connection._exec_command, psycopg.Cursor.execute

    def counted_command(self: Any, cmd: Any, *args: Any, **kw: Any) -> Any:
        counts[bytes(cmd).split()[0].decode()] += 1
        return (yield from command(self, cmd, *args, **kw))

    def counted_execute(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        counts["query"] += 1
        return execute(self, query, *args, **kw)

    monkeypatch.setattr(psycopg.Connection, "_exec_command", counted_command)
    monkeypatch.setattr(psycopg.Cursor, "execute", counted_execute)
    yield counts


def _dsn(app: Flask) -> str:
    return str(app.config["SQLALCHEMY_DATABASE_URI"]).replace("postgresql+psycopg://", "postgresql://", 1)


def _backend(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT pg_backend_pid()")))


def test_a_checkout_sends_no_ping_and_a_connection_the_server_ended_is_replaced(
        app: Flask, sent: Counter[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # the app's own engine options, on a pool of one connection
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                              pool_size=1, max_overflow=0)
    try:
        first = _backend(engine)  # connects (and SQLAlchemy's first-connect queries)
        sent.clear()
        assert _backend(engine) == first
        assert sent == {"query": 1, "BEGIN": 1, "ROLLBACK": 1}, sent  # the statement, no SELECT 1 before it

        with psycopg.connect(_dsn(app), autocommit=True) as admin:  # not from the pool of one
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            deadline = time.monotonic() + 10
            while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone() != (0,):
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.05)
        # the pooled connection is dead: discarded at checkout, the statement runs on a new one
        second = _backend(engine)
        assert second != first

        monkeypatch.setattr(connections, "PING_AFTER", 0.0)  # idle "too long": the real ping comes back
        sent.clear()
        assert _backend(engine) == second
        assert sent["query"] == 2, sent
    finally:
        engine.dispose()


def test_server_hung_up_sees_the_end_of_a_connection_without_asking_the_server(app: Flask) -> None:
    raw = psycopg.connect(_dsn(app), autocommit=True)
    try:
        pid = raw.info.backend_pid
        assert connections.server_hung_up(raw) is False
        with psycopg.connect(_dsn(app), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while not connections.server_hung_up(raw):
            assert time.monotonic() < deadline, "the server's goodbye never arrived"
            time.sleep(0.05)
    finally:
        raw.close()
    assert connections.server_hung_up(raw) is True  # closed


@pytest.mark.committing  # the app's own session, as in production (the rolled-back fixture keeps one transaction)
def test_a_list_sends_no_begin_nor_rollback_and_a_write_still_commits(as_user: Any, sent: Counter[str]) -> None:
    police = as_user("police_t01")
    police.get("/api/v1/tasks")  # the token's first use is noted (its own short transaction), once a minute
    db.session.remove()
    sent.clear()
    listed = police.get("/api/v1/tasks?per_page=5")
    assert listed.status_code == 200, listed.get_json()
    assert sent["query"] == 2, sent  # the token, the page with its capped total (tasks.queries.unit_inbox)
    assert sent["BEGIN"] == sent["ROLLBACK"] == sent["COMMIT"] == 0, sent

    sent.clear()
    saved = police.put("/api/v1/notification-channels/preferences", json={"kinds": {}})
    assert saved.status_code == 200, saved.get_json()
    assert sent["BEGIN"] == 1 and sent["COMMIT"] == 1, sent
