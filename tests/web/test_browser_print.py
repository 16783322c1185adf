"""Issue 15, part 7, in real Chromium with print media emulated: a printed case page carries no menus,
buttons or forms and no blank diagram canvas (the step list stands in for it); the court-ready record
prints with its watermark and without its buttons, on a desktop and on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import report_payload
from webhelpers import SHOTS, browser_login

from app.cases.models import Case
from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def _shown(page: Any, selector: str) -> list[bool]:
    return [bool(v) for v in page.eval_on_selector_all(selector, """els => els.map(el => {
        const s = getComputedStyle(el), r = el.getBoundingClientRect();
        return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0; })""")]


def test_printing_a_case_hides_the_navigation_and_lists_the_steps(live_server: str, browser: Any, as_user: Any) -> None:
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload("living_alone", "t01v01"))
    case_id = resp.get_json()["case_id"]
    child_id = db.session.get(Case, case_id).child_id  # type: ignore[union-attr]
    page = browser_login(browser, live_server, "coordinator")
    page.goto(f"{live_server}/cases/{case_id}")
    page.wait_for_load_state("networkidle")
    # on screen: the menu and the diagram, no step list
    assert _shown(page, ".topbar") == [True] and all(_shown(page, ".bpmn-canvas"))
    assert not any(_shown(page, ".print-steps"))
    page.emulate_media(media="print")
    for selector in (".topbar", "nav.tabs", ".bpmn-canvas", "#court-record", "form", "button"):
        assert not any(_shown(page, selector)), selector
    assert all(_shown(page, ".print-steps")) and "受理研判并出警" in page.inner_text(".print-steps")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "case-print.png"), full_page=True)

    # the court-ready record: on screen with its buttons, printed with the watermark and without them
    page.emulate_media(media="screen")
    page.goto(f"{live_server}/children/{child_id}/record")
    assert all(_shown(page, "#record-pdf")) and not any(_shown(page, ".watermark"))
    page.emulate_media(media="print")
    assert not any(_shown(page, "#record-pdf")) and not any(_shown(page, ".topbar"))
    assert all(_shown(page, ".watermark")) and all(_shown(page, ".record-mark"))
    assert "打印编号" in page.inner_text(".record-mark")
    assert "受理研判并出警" in page.inner_text(".court-record")
    page.screenshot(path=str(SHOTS / "record-print.png"), full_page=True)
    pdf = page.pdf(format="A4")  # what "print to PDF" in Chromium makes of it
    assert pdf.startswith(b"%PDF-")

    # a phone prints the same: nothing wider than the paper, the menu gone
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True, timezone_id="Asia/Shanghai")
    phone.add_cookies(page.context.cookies())
    small = phone.new_page()
    small.goto(f"{live_server}/children/{child_id}/record")
    assert small.evaluate("document.documentElement.scrollWidth <= innerWidth + 1")
    small.emulate_media(media="print")
    assert not any(_shown(small, ".topbar, .menu-toggle")) and all(_shown(small, ".watermark"))
    small.screenshot(path=str(SHOTS / "record-print-phone.png"), full_page=True)
    phone.close()
