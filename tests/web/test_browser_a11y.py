"""Issue 14, part 6: axe-core in real Chromium on every page each kind of user reaches, at 390 px (a phone:
touch, scale 3) and at 1366 px, with zero critical or serious findings; a failure names the user, width,
page, rule and element. The pages hold the stored script payloads of ``xss_scenario`` (long names, markup
as text), the duty tasks of a child in the programme, so every kind of task form is checked, and the rows of
the working week's pages (tests/working_week.py: a finding, shared views, a work-chat channel, a webhook
subscriber's deliveries, service accounts).

The walk is one test per kind of user, width and up to 8 of the user's pages (xdist spreads them over its
workers), each on the same world (the ``a11y_walk`` dataset, tests/walks.py: built once per worker,
copied back for each test).
Every test adds its pages to test-output/a11y/summary.txt (per page and in total, by impact) and
findings.json, and saves a screenshot of each page that fails under test-output/screenshots/a11y/<width>/
(of every page with ``A11Y_SCREENSHOTS=every``)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from axe import MENU_OPEN, PageFindings, audit, write_report
from deadline_helpers import open_case
from walks import A11Y_USERS, ANONYMOUS, check_parts, pages_of, walk_tests
from webhelpers import SHOTS

from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.browser]

OUT = SHOTS.parent / "a11y"
WIDTHS = {
    390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3},
    1366: {"viewport": {"width": 1366, "height": 900}},
}


EVERY_SHOT = os.environ.get("A11Y_SCREENSHOTS") == "every"
"""A page is photographed when it fails (a blocking finding or a control without a label); with
``A11Y_SCREENSHOTS=every`` every page is, for a person looking over the layouts. A full-page PNG of a
390 px phone page at scale 3 was a third of the walk's time, and nothing reads them."""


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => !['hidden', 'submit', 'button', 'reset'].includes(el.type))
  .filter(el => !el.closest('template, .djs-container, .dmn-decision-table-container, .dmn-literal-expression-container'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 160))"""
"""Form controls with no label at all: stricter than axe, which accepts a placeholder or a title as a name."""


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


PARTS = {"coordinator": 3, "police_t01": 2}
"""How many tests of at most ``walks.PAGES_PER_TEST`` pages a user's pages take (1 unless named): a check
below fails when a user's pages outgrow it."""
WALKS = walk_tests(A11Y_USERS, PARTS)


@pytest.mark.dataset("a11y_walk")
def test_the_walk_has_pages_for_every_kind_of_user_and_at_least_64_in_all(demo: dict[str, Any]) -> None:
    """The tests below are parametrized by user and part: the world they walk must give each of them
    pages, none to a user they would not walk, and no more pages than a user's parts hold. 64 pages since
    the working week's (issue 16: findings, shared views, channels, webhooks, service accounts) joined
    the 52."""
    visits = demo["visits"]
    check_parts(visits, A11Y_USERS, PARTS)
    assert sum(len(pages) for pages in visits.values()) >= 64, visits


@pytest.mark.long
@pytest.mark.dataset("a11y_walk")
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize(("user", "part"), WALKS, ids=[f"{user}-{part}" for user, part in WALKS])
@pytest.mark.timeout(600)  # up to 9 page views with axe: under a minute even on a busy 2-core box
def test_every_page_has_no_critical_or_serious_accessibility_finding(user: str, part: int, width: int,
                                                                    live_server: str, browser: Any,
                                                                    demo: dict[str, Any], clock: Any) -> None:
    clock.at = demo["clock"]
    pages = pages_of(demo["visits"], user, part)
    login = None if user == ANONYMOUS else user
    findings: list[PageFindings] = []
    unlabelled: list[str] = []
    shots = OUT.parent / "screenshots" / "a11y" / str(width)
    shots.mkdir(parents=True, exist_ok=True)
    tab = _context(browser, live_server, login, width)
    for n, path in enumerate(pages):
        tab.goto(f"{live_server}{path}")
        tab.wait_for_load_state("networkidle")
        findings.append(audit(tab, user, width, path))
        missing = [f"{user} {path}: {html}" for html in tab.evaluate(UNLABELLED)]
        unlabelled.extend(missing)
        if EVERY_SHOT or missing or findings[-1].blocking():
            tab.screenshot(path=str(shots / f"{_name(login, path)}.png"), full_page=True)
        if n == 0 and part == 0 and tab.locator(".menu-toggle").is_visible():  # the phone's menu, opened
            tab.click(".menu-toggle")
            findings.append(audit(tab, user, width, path + MENU_OPEN))
    tab.context.close()

    summary = write_report(findings, OUT, part=f"{width:04d}-{user}-{part}")
    assert summary["pages"] == len(pages), summary
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
