"""The issue's scenario in real Chromium (Debian's ``chromium``, driven by Playwright; no browser download).

A school reports a child living alone; 东城镇派出所's liaison finds the task, claims it and
completes it with a form that first fails validation; the rest of the police steps and the
assessment inputs are walked through the service layer; the township liaison then sees the
assessment task; a liaison of another township's police station is refused the case. Screenshots
of the inbox, task and case pages go to test-output/screenshots/.

When chromium is missing this FAILS (CI installs it); it never skips.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flows.scenarios import SCENARIOS
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login

from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.browser, pytest.mark.long]  # long: handed out first (conftest)


def _login(browser: Any, base: str, username: str) -> Any:
    """Signed in without the offline worker: this flow is not about offline use (tests/web/test_browser_offline.py
    is), and installing it was over a third of the requests the flow's server answered."""
    return browser_login(browser, base, username, service_workers="block")

def _walk_service_steps(case_id: int, until: str) -> None:
    """Complete the open steps after triage through the service layer, as their units would."""
    import sqlalchemy as sa
    from helpers import unit_user

    from app.org.queries import user_by_username
    from app.tasks.models import Task
    from app.workflow import commands as operations

    steps = {s.bpmn_id: s for s in SCENARIOS["living_alone_parents_reached_good_caring"].steps}
    db.session.expire_all()
    while True:
        open_tasks = db.session.scalars(sa.select(Task).where(Task.case_id == case_id, Task.state == "open")).all()
        todo = [t for t in open_tasks if t.bpmn_id != until]
        if not todo:
            return
        for task in todo:
            user = user_by_username(unit_user(steps[task.bpmn_id].lane, "t01v01"))
            operations.complete(task, user, steps[task.bpmn_id].data)
        db.session.commit()


def test_report_claim_complete_next_unit_and_refusal(live_server: str, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)

    # 1. A teacher reports a child living alone; the page shows the new case number.
    reporter = _login(browser, live_server, "reporter_school")
    reporter.click("text=新报告")
    reporter.select_option("select[name=situation]", "living_alone")
    reporter.select_option("select[name=reporter_type]", "school")
    reporter.fill("input[name=reporter_name]", "王老师")
    reporter.fill("textarea[name=description]", "孩子连续三天独自在家，父母在外务工。")
    reporter.fill("input[name=name]", "李小明")
    reporter.check("input[name=sex][value=male]")
    reporter.fill("input[name=birth_date]", "2015-06-01")
    reporter.select_option("select[name=village]", "t01v01")
    reporter.check("input[name=tags][value=left_behind]")
    reporter.click("text=添加监护人")
    reporter.fill("input[name=guardians-0-name]", "李大山")
    reporter.fill("input[name=guardians-0-phone]", "13800000001")
    reporter.click("button[type=submit].primary")
    # the case page, loaded: a click waits only for the navigation to commit, and content() reads what is parsed
    reporter.wait_for_url(re.compile(r".*/cases/\d+$"))
    flash = reporter.locator(".flash.success").inner_text()
    number = re.search(r"LD\d{10}", flash)
    assert number, flash
    case_id = int(reporter.url.rsplit("/", 1)[1])
    assert "办理中" in reporter.content()

    # 2. The police liaison finds the task in the unit queue and claims it (htmx swaps the row).
    police = _login(browser, live_server, "police_t01")
    row = police.locator("tr", has_text=number.group(0))
    expect(row.locator("text=受理研判并出警")).to_have_count(1)
    expect(row).to_contain_text("李*明", use_inner_text=True)  # liaisons see masked names in lists
    row.locator("button", has_text="认领").click()
    police.locator("tr", has_text=number.group(0)).locator("text=东城镇公安派出所联络员").wait_for()
    police.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)

    # 3. The form first fails validation: the error sits beside the field and the input is kept.
    police.locator("tr", has_text=number.group(0)).locator("a.step").click()
    police.wait_for_selector("#task-form")
    police.select_option("select[name=situation]", "living_alone")
    police.check("input[name=urgency][value=urgent]")
    police.fill("input[name=dispatched_at]", "2026-03-10T09:20")
    police.fill("input[name=officers]", "王警官、李警官")
    police.click("#task-form button[type=submit]")
    error_field = police.locator('.field.has-error[data-field="police_station"]')
    assert error_field.locator(".field-error").inner_text() == "必填。"
    assert police.input_value("input[name=officers]") == "王警官、李警官"
    assert police.input_value("input[name=dispatched_at]") == "2026-03-10T09:20"
    police.screenshot(path=str(SHOTS / "task-validation.png"), full_page=True)
    police.fill("input[name=police_station]", "东城派出所")
    police.click("#task-form button[type=submit]")
    police.wait_for_url(re.compile(r".*/inbox$"))
    expect(police.locator(".flash.success")).to_contain_text("已完成", use_inner_text=True)

    # 4. The next police steps and the assessment inputs are done; the township sees its task.
    _walk_service_steps(case_id, until="township_assessment")
    township = _login(browser, live_server, "township_t01")
    expect(township.locator("tr", has_text=number.group(0)).locator("text=综合评估定级")).to_have_count(1)
    township.locator("tr", has_text=number.group(0)).locator("a.step").click()
    township.wait_for_url(re.compile(r".*/tasks/\d+$"))
    township.wait_for_selector("#task-form")
    assert "此前步骤" in township.content() and "受理研判并出警" in township.content()
    township.screenshot(path=str(SHOTS / "task.png"), full_page=True)

    # 5. The case workspace: one file, the BPMN diagram with done/current markers, the timeline.
    police.goto(f"{live_server}/cases/{case_id}")
    police.wait_for_selector('.bpmn-canvas[data-rendered="1"]')
    assert police.locator(".djs-element.ld-done").count() >= 3
    assert police.locator(".djs-element.ld-current").count() == 1
    assert "办理时间线" in police.content()
    police.screenshot(path=str(SHOTS / "case.png"), full_page=True)

    # 6. A liaison of an unrelated unit guessing the URL is refused.
    other = _login(browser, live_server, "police_t02")
    response = other.goto(f"{live_server}/cases/{case_id}")
    assert response is not None and response.status == 403
    assert "无权" in other.content()
