"""Issue 15 in real Chromium at phone size (390 x 844): the header's search box finds a child and the results
read as cards without sideways scrolling; the report form offers the likely matches and files into the
chosen child's open case; a reporter's "my reports" shows the stages as cards."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from helpers import submit_report
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login

from app.cases.models import Case, Report
from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.browser]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
FITS = "() => [document.documentElement.scrollWidth, innerWidth]"


def _phone(browser: Any, base: str, username: str) -> Any:
    page = browser_login(browser, base, username)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    context.add_cookies(page.context.cookies())
    page.context.close()
    context.set_default_timeout(15_000)
    return context.new_page()


def test_find_a_child_pick_a_likely_match_and_follow_the_report(live_server: str, browser: Any,
                                                                as_user: Any, tmp_path: Any) -> None:
    first = submit_report(as_user("reporter_school"), "living_alone", "t01v01", name="赵小花",
                          id_number="370000201506010011")
    db.session.commit()
    (SHOTS / "find-child").mkdir(parents=True, exist_ok=True)

    # The village's child director searches from the header on a phone.
    phone = _phone(browser, live_server, "director_t01v01")
    phone.goto(f"{live_server}/inbox")
    box = phone.locator(".header-search input[name=q]")
    expect(box).to_be_visible()
    box.fill("小花")
    box.press("Enter")
    phone.wait_for_url("**/search?**")
    card = phone.locator("#search-results tbody tr").first
    assert "赵小花" in card.inner_text() and first["case_number"] in card.inner_text()
    width, inner = phone.evaluate(FITS)
    assert width <= inner, (width, inner)
    assert phone.locator("#search-results").evaluate("t => getComputedStyle(t).display") == "block"
    phone.screenshot(path=str(SHOTS / "find-child" / "search-390.png"))
    phone.context.close()

    # The hotline desk files about a child with the same name, birth date and village, without an ID number.
    desk = _phone(browser, live_server, "hotline_12355")
    desk.goto(f"{live_server}/reports/new")
    desk.select_option("select[name=situation]", "missing")
    desk.select_option("select[name=reporter_type]", "hotline_12355")
    desk.fill("input[name=name]", "赵小花")
    desk.check("input[name=sex][value=male]")
    desk.fill("input[name=birth_date]", "2015-06-01")
    desk.select_option("select[name=village]", "t01v01")
    desk.click("button[type=submit].primary")
    desk.wait_for_selector("#likely-matches")
    choice = desk.locator("#match-choice label.match").first
    assert "赵*花" in choice.inner_text()  # the desk may not see the child: masked
    width, inner = desk.evaluate(FITS)
    assert width <= inner, (width, inner)
    desk.screenshot(path=str(SHOTS / "find-child" / "likely-match-390.png"))
    choice.locator("input[type=radio]").check()
    desk.click("button[type=submit].primary")
    desk.wait_for_url(f"**/cases/{first['case_id']}")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Report.id))) == 2
    desk.context.close()

    # The teacher follows the report: stages as cards, no name.
    teacher = _phone(browser, live_server, "reporter_school")
    teacher.goto(f"{live_server}/reports/mine")
    row = teacher.locator("#my-reports tbody tr").first
    assert first["case_number"] in row.inner_text() and "赵小花" not in teacher.content()
    width, inner = teacher.evaluate(FITS)
    assert width <= inner, (width, inner)
    teacher.screenshot(path=str(SHOTS / "find-child" / "my-reports-390.png"))
    teacher.context.close()
