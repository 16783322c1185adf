"""Issue 15 part 5 in real Chromium: a teacher's report says when they learned of the situation; the
coordinator's dashboard counts it as late and opens exactly it; the coordinator records a finding, which the
education bureau (the school's supervising unit) finds in its list and answers."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login

from app.cases.models import Report, ReportingFinding
from app.common.clock import local
from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def test_a_late_report_becomes_a_finding_the_education_bureau_answers(live_server: str, browser: Any,
                                                                      clock: Any) -> None:
    (SHOTS / "findings").mkdir(parents=True, exist_ok=True)
    teacher = browser_login(browser, live_server, "reporter_school")
    teacher.goto(f"{live_server}/reports/new")
    assert teacher.input_value("input[name=learned_at]") == local(clock.now()).strftime("%Y-%m-%dT%H:%M")
    teacher.select_option("select[name=situation]", "living_alone")
    teacher.select_option("select[name=reporter_type]", "school")
    teacher.fill("input[name=learned_at]", local(clock.now() - timedelta(hours=50)).strftime("%Y-%m-%dT%H:%M"))
    teacher.fill("input[name=name]", "钱小多")
    teacher.check("input[name=sex][value=male]")
    teacher.select_option("select[name=village]", "t01v01")
    teacher.click("button[type=submit].primary")
    teacher.wait_for_url("**/cases/*")
    assert "迟报" not in teacher.content()  # the reporter sees the number and status, not the flag
    teacher.context.close()
    db.session.expire_all()
    report = db.session.query(Report).one()
    assert report.late and report.learned_at == clock.now().replace(second=0, microsecond=0) - timedelta(hours=50)

    desk = browser_login(browser, live_server, "coordinator")
    desk.goto(f"{live_server}/dashboard/")
    late = desk.locator("a.count.late-reports")
    assert late.locator("strong").inner_text() == "1"
    late.click()
    desk.wait_for_url("**/reports/late?**")
    rows = desk.locator("#late-reports tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(report.case.number, use_inner_text=True)
    rows.first.get_by_role("link", name="记录认定").click()
    desk.wait_for_url("**/findings/new?**")
    assert desk.input_value("input[name=knew_since]") == local(report.learned_at).strftime("%Y-%m-%dT%H:%M")
    desk.fill("input[name=person]", "班主任 王老师")
    desk.fill("textarea[name=facts]", "周一得知孩子独自在家，周三才报告。")
    desk.screenshot(path=str(SHOTS / "findings" / "record.png"))
    desk.click("button[type=submit].primary")
    desk.wait_for_url(re.compile(r".*/findings/\d+$"))  # a glob's "*" matched the form's own /findings/new?...
    expect(desk.locator("#finding")).to_contain_text("教育局", use_inner_text=True)
    desk.context.close()

    bureau = browser_login(browser, live_server, "education_c01")
    bureau.goto(f"{live_server}/findings")
    bureau.locator("#findings tbody tr a").first.click()
    bureau.wait_for_url(re.compile(r".*/findings/\d+$"))
    assert "钱小多" not in bureau.content()  # the conduct, not the child
    bureau.fill("textarea[name=response]", "已约谈学校负责人并通报批评。")
    bureau.click("#answer-form button[type=submit]")
    bureau.wait_for_selector(".flash.success")
    expect(bureau.locator("#finding-answer")).to_contain_text("已约谈学校负责人", use_inner_text=True)
    bureau.screenshot(path=str(SHOTS / "findings" / "answered.png"))
    bureau.context.close()
    db.session.expire_all()
    assert db.session.query(ReportingFinding).one().response == "已约谈学校负责人并通报批评。"
