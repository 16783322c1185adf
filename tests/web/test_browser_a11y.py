"""Issue 14, part 6: axe-core in real Chromium on every page each kind of user reaches, at 390 px (a phone:
touch, scale 3) and at 1366 px, with zero critical or serious findings; a failure names the user, width,
page, rule and element. The pages hold the stored script payloads of ``xss_scenario`` (long names, markup
as text) and the duty tasks of a child in the programme, so every kind of task form is checked.

Every run writes test-output/a11y/summary.txt (per page and in total, by impact) and findings.json, and
screenshots of every page at both widths under test-output/screenshots/a11y/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from axe import MENU_OPEN, PageFindings, audit, write_report
from deadline_helpers import open_case
from duties.duty_helpers import enrolled
from webhelpers import SHOTS
from xss_scenario import build, pages_to_check

from app.cases.models import Case
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks.models import Task

pytestmark = [pytest.mark.committing, pytest.mark.browser]

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
OUT = SHOTS.parent / "a11y"
WIDTHS = {
    390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3},
    1366: {"viewport": {"width": 1366, "height": 900}},
}


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset'].includes(el.type))
  .filter(el => !el.closest('template, .djs-container, .dmn-decision-table-container, .dmn-literal-expression-container'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 160))"""
"""Form controls with no label at all: stricter than axe, which accepts a placeholder or a title as a name."""


def _duty_pages() -> dict[str, dict[str, tuple[str, ...]]]:
    """A child in the care programme: the weekly contact, home visit and assessment forms of this week."""
    enrolment = enrolled("留守丙")
    db.session.commit()
    start_due_duties(MONDAY)
    db.session.commit()
    tasks = db.session.scalars(sa.select(Task).where(Task.case_id == enrolment.case_id, Task.state == "open")
                               .order_by(Task.id)).all()
    pages: dict[str, dict[str, tuple[str, ...]]] = {}
    for task in tasks:
        worker = next(u for u in ("director_t01v01", "supervisor_t01", "township_t01", "civil_affairs_c01",
                                  "education_c01", "police_c01")
                      if (user := user_by_username(u)) is not None and user.unit_id == task.unit_id)
        pages.setdefault(worker, {})[f"/tasks/{task.id}"] = ()
    assert len(tasks) >= 2, [t.bpmn_id for t in tasks]
    pages.setdefault("director_t01v01", {}).update({f"/cases/{enrolment.case_id}": (), "/inbox": ()})
    return pages


def _every_page(world: Any, page: Any, as_user: Any) -> dict[str | None, dict[str, tuple[str, ...]]]:
    visits = pages_to_check(world, page, as_user)
    visits[None] = {"/login": ()}
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


def _context(browser: Any, base: str, user: str | None, width: int) -> Any:
    db.session.commit()  # the server thread's sign-in must not wait for the test's read lock (SQLite)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **WIDTHS[width])
    context.set_default_timeout(20_000)
    tab = context.new_page()
    if user is not None:  # a regional supervisor lands on the counties, not an inbox: wait for leaving /login
        tab.goto(f"{base}/login")
        tab.fill("input[name=username]", user)
        tab.fill("input[name=password]", "liandong-demo")
        tab.click("button[type=submit].primary")
        tab.wait_for_url(lambda url: "/login" not in url)
    return tab


def _name(user: str | None, path: str) -> str:
    return f"{user or 'anonymous'}-" + (re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_") or "home")


@pytest.mark.timeout(1200)  # ~100 page views with axe and a full-page screenshot each: 4-8 minutes on a busy 2-core box
def test_every_page_has_no_critical_or_serious_accessibility_finding(live_server: str, browser: Any, page: Any,
                                                                    as_user: Any, clock: Any) -> None:
    clock.at = MONDAY
    duty_pages = _duty_pages()
    world = build(page, as_user)
    visits = _every_page(world, page, as_user)
    for user, pages in duty_pages.items():
        visits.setdefault(user, {}).update(pages)
    db.session.commit()

    findings: list[PageFindings] = []
    unlabelled: list[str] = []
    for width in WIDTHS:
        shots = OUT.parent / "screenshots" / "a11y" / str(width)
        shots.mkdir(parents=True, exist_ok=True)
        for user, pages in visits.items():
            tab = _context(browser, live_server, user, width)
            for n, path in enumerate(pages):
                tab.goto(f"{live_server}{path}")
                tab.wait_for_load_state("networkidle")
                findings.append(audit(tab, user or "anonymous", width, path))
                unlabelled.extend(f"{user} {path}: {html}" for html in tab.evaluate(UNLABELLED))
                tab.screenshot(path=str(shots / f"{_name(user, path)}.png"), full_page=True)
                if n == 0 and tab.locator(".menu-toggle").is_visible():  # the phone's menu, opened
                    tab.click(".menu-toggle")
                    findings.append(audit(tab, user or "anonymous", width, path + MENU_OPEN))
            tab.context.close()

    summary = write_report(findings, OUT)
    assert summary["pages"] >= 40, summary
    blocking = [line for f in findings for line in f.blocking()]
    assert blocking == [], "\n".join(blocking)
    assert unlabelled == [], "\n".join(unlabelled)


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(live_server: str, browser: Any) -> None:
    for width in WIDTHS:
        tab = _context(browser, live_server, "police_t01", width)
        tab.goto(f"{live_server}/inbox")
        tab.keyboard.press("Tab")
        skip = tab.locator(".skip-link")
        assert tab.evaluate("document.activeElement.className") == "skip-link"
        box = skip.bounding_box()
        assert box is not None and box["y"] >= 0 and skip.inner_text() == "跳到主要内容", box
        tab.keyboard.press("Enter")
        assert tab.evaluate("document.activeElement.id") == "content"
        assert tab.url.endswith("#content")
        tab.context.close()


def test_the_coordinator_reaches_overdue_tasks_from_the_menu_on_a_phone(live_server: str, browser: Any,
                                                                       clock: Any) -> None:
    """Menu, dashboard, the overdue count, the task list with due times in words and as a date and time."""
    late = [open_case("four_in_one", v) for v in ("t01v01", "t02v01")]
    clock.advance(days=2)
    db.session.commit()
    tab = _context(browser, live_server, "coordinator", 390)
    tab.click(".menu-toggle")
    tab.click("#site-menu nav a:text-is('看板')")
    tab.wait_for_url(f"{live_server}/dashboard/")
    count = tab.locator(".headline a.count.overdue")
    assert count.locator("strong").inner_text() == "2" and count.bounding_box()["height"] >= 44
    count.click()
    tab.wait_for_url(f"{live_server}/dashboard/tasks")
    rows = tab.locator("table.pivot tbody tr")
    assert rows.count() == 2
    due = rows.first.locator(".due")
    assert due.locator(".rel-due").is_visible() and re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}",
                                                                  due.locator(".abs-due").inner_text())
    numbers = {c.number for c in late}
    assert set(tab.locator("table.pivot tbody tr td:first-child").all_inner_texts()) == numbers
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    tab.screenshot(path=str(OUT.parent / "screenshots" / "a11y" / "dashboard-tasks-phone.png"), full_page=True)
    tab.context.close()
