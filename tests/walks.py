"""The page walks' worlds as datasets (tests/conftest.py LOADERS): every stored payload of ``xss_scenario``,
and for the accessibility walk a child in the care programme with this week's duty tasks, built once per
xdist worker and copied back for each test that walks a part of it (tests/rollback.py ``Snapshot``).

Built once, the walks can be split into one test per kind of user and width that xdist spreads over its
workers, instead of one test of minutes that holds a worker while the other finishes everything else.
The loaders do exactly what the walks did at their start, in the same order and at the same clock, so
every test finds the ids, pages and times the single walk found; the value they return says which pages
each user reaches and where the clock stood at the end (a copied-back dataset does not move the clock).
Both worlds end with the working week's pages (issue 16, tests/working_week.py), made after the rest so
the pages above stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from helpers import token_clients
from webhelpers import PageClient
from working_week import Visits, add_working_week
from xss_scenario import build, pages_to_check

from app.cases.models import Case
from app.common.clock import FixedClock
from app.extensions import db, limiter
from app.org.queries import user_by_username
from app.tasks.models import Task

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
ANONYMOUS = "anonymous"
"""The key of the pages nobody signs in for (the login page)."""

A11Y_USERS = (ANONYMOUS, "police_t01", "coordinator", "admin", "reporter_school", "designer", "police_t01_head",
              "director_t01v01", "city_supervisor", "education_c01")
"""Every kind of user the accessibility walk signs in as (its tests are parametrized by these; a test
checks that the walk's world has pages for exactly these users). This week's duty tasks all fall to the
village committee (``director_t01v01``); were one to go to another of ``DUTY_WORKERS``, that check fails.
The education bureau (``education_c01``) is the unit a school's finding goes to: it alone sees the answer
form."""

PAGES_PER_TEST = 8
"""A user's pages are walked in tests of at most this many (one sign-in each), so none runs for minutes."""


def walk_tests(users: tuple[str, ...], parts: dict[str, int]) -> list[tuple[str, int]]:
    """(user, part) of every test of a walk; ``parts`` names the users whose pages take more than one test."""
    return [(user, part) for user in users for part in range(parts.get(user, 1))]


def pages_of(visits: Visits, user: str, part: int) -> list[str]:
    """The pages the ``part``-th test of ``user`` walks."""
    return list(visits[user])[PAGES_PER_TEST * part:PAGES_PER_TEST * (part + 1)]


def check_parts(visits: Visits, users: tuple[str, ...], parts: dict[str, int]) -> None:
    """The world gives pages to exactly the users a walk's tests are parametrized by, and each user's pages
    fill the tests ``parts`` gives them: none left unwalked, no test without a page."""
    assert sorted(visits) == sorted(users)
    for user in users:
        tests = parts.get(user, 1)
        pages = len(visits[user])
        assert PAGES_PER_TEST * (tests - 1) < pages <= PAGES_PER_TEST * tests, (user, list(visits[user]))

DUTY_WORKERS = ("director_t01v01", "supervisor_t01", "township_t01", "civil_affairs_c01", "education_c01",
                "police_c01")


def _clock() -> FixedClock:
    clock = current_app.extensions["liandong.clock"]
    assert isinstance(clock, FixedClock)
    return clock


def _clients() -> tuple[Any, Any]:
    """``page`` and ``as_user`` as the fixtures give them, for a loader (inside the app context)."""
    limiter.reset()
    client = current_app.test_client()
    return (lambda username: PageClient(current_app._get_current_object(), username)), token_clients(lambda: client)  # type: ignore[attr-defined]


def _duty_pages() -> Visits:
    """A child in the care programme: the weekly contact, home visit and assessment forms of this week."""
    from duties.duty_helpers import enrolled

    from app.duties.scheduler import start_due_duties

    enrolment = enrolled("留守丙")
    db.session.commit()
    start_due_duties(MONDAY)
    db.session.commit()
    tasks = db.session.scalars(sa.select(Task).where(Task.case_id == enrolment.case_id, Task.state == "open")
                               .order_by(Task.id)).all()
    pages: Visits = {}
    for task in tasks:
        worker = next(u for u in DUTY_WORKERS
                      if (user := user_by_username(u)) is not None and user.unit_id == task.unit_id)
        pages.setdefault(worker, {})[f"/tasks/{task.id}"] = ()
    assert len(tasks) >= 2, [t.bpmn_id for t in tasks]
    pages.setdefault("director_t01v01", {}).update({f"/cases/{enrolment.case_id}": (), "/inbox": ()})
    return pages


def _every_page(world: Any, page: Any, as_user: Any) -> Visits:
    visits: Visits = {
        str(user): pages for user, pages in pages_to_check(world, page, as_user).items()}
    visits[ANONYMOUS] = {"/login": ()}
    visits["police_t01"].update({"/reports/new": (), "/notifications": (), "/absence": ()})
    visits["police_t01_head"] = {"/inbox": (), "/absence": ()}
    case = db.session.get(Case, world.case_id)
    assert case is not None
    visits["coordinator"].update({"/dashboard/counties": (), "/audit?action=view": (), "/notifications": (),
                                  "/dashboard/tasks?due=soon": (), "/search?q=%E6%9D%8E": (), "/roster": (),
                                  f"/children/{case.child_id}/record": ()})
    visits["director_t01v01"] = {"/offline": (), "/outbox": ()}
    visits["reporter_school"]["/reports/mine"] = ()
    visits["city_supervisor"] = {"/dashboard/counties": ()}
    visits["admin"].update({"/admin/users/new": (), "/audit": ()})
    visits["designer"]["/designer/processes/four_in_one/versions/2/migration"] = ()
    return visits


def load_a11y_walk() -> dict[str, Any]:
    """On the demo county (loaded first, tests/conftest.py): a duty child's tasks of this week, every
    ``xss_scenario`` payload and the working week's rows. ``{"visits": user -> page -> labels, "clock": the
    time the walk runs at}``."""
    db.session.commit()
    clock = _clock()
    clock.at = MONDAY
    duty_pages = _duty_pages()
    page, as_user = _clients()
    world = build(page, as_user)
    visits = _every_page(world, page, as_user)
    week = add_working_week(page, as_user)
    for user, pages in (*duty_pages.items(), *week.items()):
        visits.setdefault(user, {}).update(pages)
    db.session.commit()
    return {"visits": visits, "clock": clock.at}


MOBILE_USERS = ("police_t01", "coordinator", "admin", "reporter_school", "designer", "director_t01v01",
                "education_c01")
"""Every kind of user the phone walk signs in as (tests/web/test_browser_mobile.py)."""


def load_mobile_walk() -> dict[str, Any]:
    """On the demo county (loaded first): every ``xss_scenario`` payload and the working week's rows, at the
    suite's clock.
    ``{"visits": user -> page -> labels, "case_id", "next_task", "clock"}``."""
    db.session.commit()
    page, as_user = _clients()
    world = build(page, as_user)
    visits = {str(user): pages for user, pages in pages_to_check(world, page, as_user).items()}
    visits["police_t01"].update({"/reports/new": (), "/notifications": ()})
    visits["admin"]["/admin/users/new"] = ()
    visits["director_t01v01"] = {f"/cases/{world.case_id}": (), "/inbox": (), "/reports/new": ()}
    for user, pages in add_working_week(page, as_user).items():
        visits.setdefault(user, {}).update(pages)
    db.session.commit()
    return {"visits": visits, "case_id": world.case_id, "next_task": world.next_task, "clock": _clock().at}
