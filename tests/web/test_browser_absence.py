"""Issue 16, part 1, in real Chromium: a liaison sets a week's absence with a substitute from the absence page
(their claimed tasks move to the substitute at once), and the unit head bulk reassigns rows from the inbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from axe import audit
from helpers import open_tasks, submit_report
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login

from app.common.clock import local
from app.extensions import db
from app.org.queries import user_by_username
from app.org.roles import Role
from app.tasks.models import Task

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def test_set_an_absence_then_bulk_reassign_from_the_inbox(live_server: str, browser: Any, as_user: Any,
                                                          clock: Any) -> None:
    from app.org.operations import create_user

    liaison, head = user_by_username("police_t01"), user_by_username("police_t01_head")
    assert liaison is not None and head is not None
    sub = create_user("police_t01_b", "东城镇派出所代班民警", "liandong-demo", {Role.LIAISON}, liaison.unit)
    for _ in range(2):
        submit_report(as_user("reporter_school"), "living_alone", "t01v01")
    ids = [t["id"] for t in open_tasks(as_user("police_t01"))]
    for task_id in ids:
        assert as_user("police_t01").post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
    sub_id = sub.id
    db.session.commit()
    (SHOTS / "absence").mkdir(parents=True, exist_ok=True)

    page = browser_login(browser, live_server, "police_t01")
    page.click("nav >> text=外出代理")
    page.wait_for_url("**/absence")
    start = local(clock.now()).strftime("%Y-%m-%dT%H:%M")
    end = local(clock.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=starts_at]", start)
    page.fill("input[name=ends_at]", end)
    page.select_option("select[name=substitute_id]", str(sub_id))
    page.check("input[name=on_return][value=return]")
    page.click("#absence-form button[type=submit].primary")
    page.wait_for_selector("#absence-now")
    expect(page.locator("#flash")).to_contain_text("已将 2 项已认领任务交给代理人", use_inner_text=True)
    expect(page.locator("#absence-now")).to_contain_text("正在外出", use_inner_text=True)
    expect(page.locator("#absence-now")).to_contain_text("代班民警", use_inner_text=True)
    page.screenshot(path=str(SHOTS / "absence" / "absence-set.png"), full_page=True)
    assert audit(page, "police_t01", 1400, "/absence").blocking() == []  # axe: no critical or serious finding
    page.context.close()
    db.session.expire_all()
    holders = set(db.session.scalars(sa.select(Task.assignee_id).where(Task.id.in_(ids))))
    assert holders == {sub_id}

    page = browser_login(browser, live_server, "police_t01_head")
    for task_id in ids:
        page.check(f"#task-{task_id} input[name=task_ids]")
    page.select_option("select[name=to_user_id]", str(head.id))
    page.click("#reassign-form .bulk button[type=submit]:not([formaction])")
    page.wait_for_selector("#flash p.flash.success")
    for task_id in ids:  # the rows are swapped in beside the flash: waited for, each
        expect(page.locator(f"#task-{task_id}")).to_contain_text(head.display_name, use_inner_text=True)
    page.screenshot(path=str(SHOTS / "absence" / "bulk-reassigned.png"), full_page=True)
    page.context.close()
    db.session.expire_all()
    assert set(db.session.scalars(sa.select(Task.assignee_id).where(Task.id.in_(ids)))) == {head.id}
