"""Shared team views (issue 16, part 2) in real Chromium: a liaison filters the queue, saves the view shared
with the unit; the unit head sees it beside their own with its count and no delete control, and opening it
filters their queue the same way."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import open_case
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login

from app.extensions import db
from app.tasks.models import SavedView

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def test_a_view_shared_with_the_unit_shows_with_its_count(live_server: str, browser: Any) -> None:
    for village in ("t01v01", "t01v02", "t02v01"):
        open_case(village=village)
    (SHOTS / "shared-views").mkdir(parents=True, exist_ok=True)

    liaison = browser_login(browser, live_server, "police_t01")
    liaison.select_option("#filters select[name=township]", "t01")
    liaison.wait_for_url("**township=t01**")  # htmx swapped the table and pushed the filter
    liaison.fill("#view-name", "东城镇待办")
    liaison.select_option("#view-sharing", "unit")
    liaison.click(".saved-views button[type=submit]")
    liaison.wait_for_selector(".saved-view:has-text('东城镇待办')")
    db.session.expire_all()
    view = db.session.scalar(sa.select(SavedView).where(SavedView.name == "东城镇待办"))
    assert view is not None and (view.query, view.shared_with) == ("township=t01", "unit")
    mine = liaison.locator(f"#saved-view-{view.id}")
    assert "已共享给本单位" in mine.inner_text() and mine.locator("form button").count() == 1
    liaison.context.close()

    head = browser_login(browser, live_server, "police_t01_head")
    shared = head.locator(f"#saved-view-{view.id}")
    text = shared.inner_text()
    assert "东城镇待办" in text and "共享" in text
    assert shared.locator(".view-count").inner_text().startswith("2")  # the two first steps in the unit's township
    assert shared.locator("form").count() == 0  # the owner alone deletes it
    head.screenshot(path=str(SHOTS / "shared-views" / "head-inbox.png"))
    shared.locator("a").click()
    head.wait_for_url("**township=t01**")
    expect(head.locator("#inbox-table tbody tr")).to_have_count(2)  # htmx swaps the table: waited for
    head.context.close()
