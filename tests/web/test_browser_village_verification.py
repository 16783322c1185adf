"""Issue 15 part 6 in real Chromium: the village child director files the quarterly verification from the task
page; the township's child supervisor finds the notice at once and opens the village's work file from it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from webhelpers import SHOTS, browser_login

from app.duties.models import DutyCycle
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.tasks.models import Task

pytestmark = [pytest.mark.committing, pytest.mark.browser]

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def test_the_director_files_the_verification_and_the_township_is_told(live_server: str, browser: Any,
                                                                      clock: Any) -> None:
    from duties.duty_helpers import enrolled

    (SHOTS / "village-verification").mkdir(parents=True, exist_ok=True)
    clock.at = MONDAY
    enrolled("核实小红")
    db.session.commit()
    start_due_duties(MONDAY)
    db.session.commit()
    cycle = db.session.scalars(sa.select(DutyCycle).where(DutyCycle.duty == "village_verification")).one()
    task = db.session.scalars(sa.select(Task).where(Task.instance_id == cycle.instance_id)).one()

    director = browser_login(browser, live_server, "director_t01v01")
    director.goto(f"{live_server}/tasks/{task.id}")
    director.wait_for_selector("#task-form")
    director.fill("input[name=verified_on]", "2026-03-20")
    director.fill("input[name=children_verified]", "1")
    director.fill("textarea[name=guardianship_changes]", "母亲已返乡照料。")
    director.screenshot(path=str(SHOTS / "village-verification" / "form.png"), full_page=True)
    director.click("#task-form button[type=submit]")
    director.wait_for_url(re.compile(r".*/inbox$"))
    director.context.close()

    supervisor = browser_login(browser, live_server, "supervisor_t01")
    supervisor.goto(f"{live_server}/notifications")
    note = supervisor.locator("a", has_text="本乡镇的村已报送季度核实").first
    expect(note).to_be_visible()
    note.click()
    supervisor.wait_for_url(f"**/cases/{cycle.case_id}")
    assert "村季度核实并报乡镇" in supervisor.content() and "已报乡镇" in supervisor.content()  # filed, on the timeline
    supervisor.screenshot(path=str(SHOTS / "village-verification" / "work-file.png"), full_page=True)
    supervisor.context.close()
    db.session.expire_all()
    assert db.session.get(DutyCycle, cycle.id).status == "done"
