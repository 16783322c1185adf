"""In real Chromium: the designer opens the main process in the modeler, changes a deadline on the side
panel, deploys; a new case gets the new deadline while a case opened earlier keeps the old one.

The app runs in a thread on a free port against the test database; the browser is the system's
Chromium driven by Playwright (``/usr/bin/chromium-headless-shell``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from helpers import open_tasks, submit_report
from webhelpers import browser_login

# Like every browser test, this FAILS when Debian's Chromium is missing (tests/webhelpers.py CHROMIUM); it never skips.
pytestmark = [pytest.mark.committing, pytest.mark.dataset("four_in_one"), pytest.mark.browser, pytest.mark.long]


def _designer(browser: Any, live_server: str) -> Any:
    """The designer signed in, on the inbox (tests/webhelpers.py browser_login); the designer's pages are not
    about offline use: no offline worker installed."""
    page = browser_login(browser, live_server, "designer", service_workers="block", viewport=(1600, 1000))
    page.set_default_timeout(20_000)
    return page


def _due(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["due_at"])  # county time with its offset: compared as an instant


def test_designer_changes_a_deadline_in_the_modeler_and_only_new_cases_get_it(
        live_server: str, as_user: Any, browser: Any) -> None:
    reporter, police = as_user("reporter_school"), as_user("police_t01")
    earlier = submit_report(reporter, "living_alone", "t01v01")["case_id"]
    page = _designer(browser, live_server)

    page.goto(f"{live_server}/designer/")
    page.click("button[data-edit=four_in_one]")
    page.wait_for_url("**/designer/drafts/*")
    page.wait_for_selector('#canvas[data-rendered="1"]')

    page.locator('#canvas .djs-element[data-element-id="police_triage"]').click()
    page.wait_for_selector('#panel[data-element-id="police_triage"]')
    assert page.input_value("#prop-deadline") == "PT1H"
    page.fill("#prop-deadline", "PT2H")
    page.click("#apply-props")
    page.click("#save")
    # a selector, not wait_for_function: Playwright evaluates a string predicate with eval, which the CSP forbids
    page.wait_for_selector("#save-state:not([data-valid='unknown'])")
    assert page.get_attribute("#save-state", "data-valid") == "true", page.inner_text("#messages")
    page.fill("#deploy-note", "县里要求：出警研判两小时内完成")
    page.click("#deploy")
    page.wait_for_url("**/designer/processes/four_in_one")
    row = page.locator('#versions tr[data-version="2"]')
    assert "县里要求" in row.inner_text()

    # the browser round trip changed exactly the one property, nothing else in the diagram
    diff = police.get("/api/v1/processes/four_in_one/diff?from=1&to=2").get_json()
    assert diff["elements"]["added"] == [] and diff["elements"]["removed"] == []
    assert [(c["id"], [x["property"] for x in c["changes"]]) for c in diff["elements"]["changed"]] == [
        ("police_triage", ["property deadline"])]

    later = submit_report(reporter, "living_alone", "t01v01")["case_id"]
    tasks = {t["case_id"]: t for t in open_tasks(police, step="police_triage")}
    assert _due(tasks[earlier]) == START + timedelta(hours=1)
    assert _due(tasks[later]) == START + timedelta(hours=2)


def test_foreign_export_opens_in_the_modeler_with_its_reasons_and_dmn_opens_in_dmn_js(
        live_server: str, browser: Any) -> None:
    page = _designer(browser, live_server)
    page.goto(f"{live_server}/designer/")
    page.click("button[data-edit=four_in_one]")
    page.wait_for_url("**/designer/drafts/*")
    page.wait_for_selector('#canvas[data-rendered="1"]')
    page.click('#file-tabs button[data-file="help_tier.dmn"]')
    page.wait_for_selector("#dmn-canvas .dmn-definitions, #dmn-canvas .tjs-container, #dmn-canvas .djs-container")
    assert "help_tier" in page.inner_html("#dmn-canvas") or "评估结果" in page.inner_text("#dmn-canvas")

    page.goto(f"{live_server}/designer/")
    foreign = Path(__file__).resolve().parent.parent / "data" / "foreign" / "camunda7_leave.bpmn"
    page.set_input_files("input[name=files]", str(foreign))
    page.click("form[action$='/designer/drafts/new'] button[type=submit]")
    page.wait_for_url("**/designer/drafts/*")
    page.wait_for_selector('#canvas[data-rendered="1"]')
    assert page.locator('#canvas .djs-element[data-element-id="Activity_review"]').count() == 1
    problems = page.inner_text("#messages")
    assert "camunda:formKey" in problems and "JUEL" in problems
    page.click('#messages li[data-element-id="Activity_review"] >> nth=0')
    page.wait_for_selector('#panel[data-element-id="Activity_review"]')
