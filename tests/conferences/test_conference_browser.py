"""A case conference in real Chromium (Debian's ``chromium``, driven by Playwright; no browser download).

A county coordinator opens a reported case, schedules a conference in the rescue centre's name inviting
the education bureau and the township, records the minutes with one decision for the education bureau,
and sees the action in the conference's actions table; the education bureau finds the task in its queue
and the case in its conference team view.
Screenshots of the conference page go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login, open_case

pytestmark = [pytest.mark.committing, pytest.mark.browser, pytest.mark.long]  # long: handed out first (conftest)


def test_coordinator_schedules_and_records_a_decision_that_becomes_an_action(
        live_server: str, browser: Any, as_user: Any) -> None:
    from app.org.queries import user_by_username

    SHOTS.mkdir(parents=True, exist_ok=True)
    case_id = open_case(as_user)["case_id"]
    rescue = user_by_username("rescue_center_c01")
    assert rescue is not None

    # 1. From the case workspace, the coordinator schedules a conference.
    page = browser_login(browser, live_server, "coordinator", service_workers="block")  # not about offline use
    page.goto(f"{live_server}/cases/{case_id}")
    page.click("#schedule-conference")
    page.wait_for_selector("#schedule-form")
    page.select_option("select[name=convening_unit_id]", str(rescue.unit_id))
    page.fill("input[name=title]", "李小明个案会商：监护和返校安排")
    page.fill("input[name=scheduled_at]", "2026-03-12T14:00")
    page.fill("input[name=place]", "县未成年人救助保护中心会议室")
    page.check("input[name=invited][value=education]")
    page.check("input[name=invited][value=township]")
    page.screenshot(path=str(SHOTS / "conference-schedule.png"), full_page=True)
    page.click("#schedule-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/conferences/\d+$"))
    expect(page.locator(".flash.success")).to_contain_text("会商已安排", use_inner_text=True)
    expect(page.locator("#agenda")).to_contain_text("案情和儿童现状通报", use_inner_text=True)
    expect(page.locator("#participants tr", has_text="教育局")).to_have_count(1)

    # 2. The minutes, with one decision for the education bureau and a deadline in working days.
    page.fill("textarea[name=minutes]", "各部门通报情况，确定帮扶措施。")
    page.fill("textarea[name='decisions-0-decision']", "学校安排班主任结对帮扶，两周内落实返校")
    page.select_option("select[name='decisions-0-department_kind']", "education")
    page.fill("input[name='decisions-0-deadline']", "5WD")
    page.click("#minutes-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/conferences/\d+#actions$"))
    row = page.locator(".actions-table tbody tr[data-status=open]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("学校安排班主任结对帮扶", use_inner_text=True)
    expect(row).to_contain_text("教育局", use_inner_text=True)
    expect(page.locator("h1")).to_contain_text("已召开", use_inner_text=True)
    page.screenshot(path=str(SHOTS / "conference.png"), full_page=True)

    # 3. The decision is a task in the education bureau's queue.
    education = browser_login(browser, live_server, "education_c01", service_workers="block")
    expect(education.locator("tr", has_text="落实会商决定")).to_have_count(1)
    education.click("text=个案会商")
    education.wait_for_url("**/conferences")
    education.click("text=会商团队视图")
    # Wait for the team view's load event: a click only waits for the navigation to commit, and a count read
    # then can see a half-parsed page (CI on PostgreSQL once counted 0 rows here).
    education.wait_for_url("**/conferences/team")
    expect(education.locator(f"tr[data-case='{case_id}']")).to_have_count(1)
    education.screenshot(path=str(SHOTS / "conference-team.png"), full_page=True)
