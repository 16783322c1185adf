"""The rolled-back test database itself (tests/rollback.py): what a test writes is gone at the next one,
the dataset stays loaded, the app's own rollback only undoes its own work, and a second thread is told
to mark its test ``committing``.

These drive a RollbackDatabase of their own, so they are ``committing`` themselves: the run's shared one
is closed meanwhile, and the last assertion checks that nothing reached the database for real.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import LOADERS
from flask import Flask
from helpers import ApiClient, report_payload
from rollback import MarkCommitting, RollbackDatabase

from app.cases.models import Case
from app.extensions import db
from app.org.models import Region, User

pytestmark = pytest.mark.committing


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_what_a_test_commits_is_gone_at_the_next_and_the_dataset_stays(app: Flask) -> None:
    from app.org.operations import create_region, issue_token
    from app.org.queries import region_by_code, user_by_username

    rolled = RollbackDatabase(app)
    try:
        rolled.begin_test(("demo",), LOADERS)
        with app.app_context():
            users = _count(User)
            reporter = user_by_username("reporter_school")
            assert users > 10 and reporter is not None
            token = issue_token(reporter, ttl_days=1)
            db.session.commit()
        created = ApiClient(app.test_client(), token).post("/api/v1/reports", json=report_payload())
        assert created.status_code == 201, created.get_json()  # the view committed in a request's own session
        with app.app_context():
            create_region("zz01", "一个乡", "township", region_by_code("c01"))
            db.session.commit()
            create_region("zz02", "另一个乡", "township", region_by_code("c01"))
            db.session.flush()
            db.session.rollback()  # as an error handler does: only back to this session's last commit
            assert region_by_code("zz01") is not None and region_by_code("zz02") is None
            assert _count(Case) == 1
        rolled.end_test()

        rolled.begin_test(("demo",), LOADERS)
        with app.app_context():
            assert _count(Case) == 0 and region_by_code("zz01") is None
            assert _count(User) == users  # the county is still there, not loaded again
        assert rolled.loads == 1
        rolled.end_test()

        rolled.begin_test((), LOADERS)  # a test that asks for no dataset starts from empty tables
        with app.app_context():
            assert _count(User) == 0 and _count(Region) == 0
        rolled.end_test()
    finally:
        rolled.close()
    with app.app_context():  # nothing reached the database for real
        assert _count(User) == 0
        db.session.remove()


def test_a_second_thread_on_the_rolled_back_connection_is_told_to_mark_its_test(app: Flask) -> None:
    rolled = RollbackDatabase(app)
    seen: list[BaseException] = []

    def other_thread() -> None:
        try:
            with app.app_context():
                db.session.execute(sa.text("SELECT 1"))
        except MarkCommitting as exc:
            seen.append(exc)

    try:
        rolled.begin_test((), LOADERS)
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(10)
        with app.app_context():
            assert db.session.execute(sa.text("SELECT 1")).scalar_one() == 1  # this thread still works
        rolled.end_test()
    finally:
        rolled.close()
    assert seen and "committing" in str(seen[0])
