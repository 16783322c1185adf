"""Issue 14, part 4, in real Chromium: nothing typed into a task form is lost. The form keeps a draft as
the user types (on the device and on the server) and restores it when the page opens again; a file is
attached without leaving the page; a validation error keeps every field; a submit with the connection
gone keeps every field, queues it on the phone and says so (sent when the signal returns); completing the step and signing out clear the drafts."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from webhelpers import SHOTS, browser_login, first_open_task, open_case

from app.extensions import db
from app.tasks.models import Attachment, TaskDraft

pytestmark = [pytest.mark.committing, pytest.mark.browser]

LOCAL_DRAFTS = "Object.keys(localStorage).filter(k => k.startsWith('ld-draft:'))"


def _server_drafts(task_id: int) -> list[dict[str, Any]]:
    db.session.rollback()
    return [d.fields for d in db.session.scalars(sa.select(TaskDraft).where(TaskDraft.task_id == task_id))]


def _open(page: Any, base: str, task_id: int) -> None:
    page.goto(f"{base}/tasks/{task_id}")
    page.wait_for_selector("#task-form[data-draft-ready='1']")


def test_typing_survives_reload_upload_validation_offline_and_is_cleared_after(live_server: str, browser: Any,
                                                                               as_user: Any) -> None:
    case = open_case(as_user)
    task_id = first_open_task(case["case_id"]).id
    police = browser_login(browser, live_server, "police_t01")
    _open(police, live_server, task_id)

    # 1. typing is kept on the device and on the server, and comes back on a fresh page
    police.select_option("select[name=situation]", "living_alone")
    police.check("input[name=urgency][value=urgent]")
    # the draft's save waits 600 ms after the last change: on a loaded machine the first two changes can be
    # saved on their own first, and that save's answer already says "saved"; wait for the save that holds all
    # three, and for what its answer says
    with police.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith(f"/tasks/{task_id}/draft")
                                and "王警官、李警官" in (r.request.post_data or "")) as saved:
        police.fill("input[name=officers]", "王警官、李警官")
    assert saved.value.ok
    police.wait_for_function("() => document.querySelector('.draft-status').textContent === '草稿已保存'")
    assert police.evaluate(LOCAL_DRAFTS) == [f"ld-draft:{_user_id('police_t01')}:{task_id}:"
                                             + police.get_attribute("#task-form", "data-draft-key").split(":", 3)[3]]
    [stored] = _server_drafts(task_id)
    assert stored["officers"] == "王警官、李警官" and stored["urgency"] == "urgent"
    _open(police, live_server, task_id)
    assert police.input_value("input[name=officers]") == "王警官、李警官"
    assert police.is_checked("input[name=urgency][value=urgent]")
    assert police.input_value("select[name=situation]") == "living_alone"
    assert "已恢复" in police.inner_text(".draft-status")

    # the server's copy is restored on another device (no local copy there)
    other_device = browser_login(browser, live_server, "police_t01")
    _open(other_device, live_server, task_id)
    assert other_device.input_value("input[name=officers]") == "王警官、李警官"
    other_device.context.close()

    # 2. attaching a file does not reload the page: the typed fields stay
    police.fill("input[name=police_station]", "东城派出所")
    police.evaluate("window.__samePage = true")
    police.set_input_files("#attachments input[type=file]", files=[
        {"name": "走访记录.txt", "mimeType": "text/plain", "buffer": "家访记录：孩子独自在家。".encode()}])
    police.click("#attachments button[type=submit]")
    police.wait_for_selector("#attachments .flash.success")
    assert police.locator("#attachments a", has_text="走访记录.txt").count() == 1
    assert police.evaluate("window.__samePage") is True
    assert police.input_value("input[name=police_station]") == "东城派出所"
    assert police.input_value("input[name=officers]") == "王警官、李警官"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment).where(Attachment.task_id == task_id)) == 1
    police.set_input_files("#attachments input[type=file]", files=[
        {"name": "bad.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf"}])
    police.click("#attachments button[type=submit]")
    police.wait_for_selector("#flash .flash.error")  # refused (422), said in the flash bar, page kept
    assert police.input_value("input[name=officers]") == "王警官、李警官"

    # 3. a validation error (a required field emptied) re-renders with every field kept
    police.fill("input[name=police_station]", "")
    police.click("#task-form button[type=submit]")
    police.wait_for_selector('.field.has-error[data-field="police_station"]')
    assert police.input_value("input[name=officers]") == "王警官、李警官"
    assert police.is_checked("input[name=urgency][value=urgent]")

    # 4. the connection drops: submitting keeps the page and every field, and says why
    police.fill("input[name=police_station]", "东城派出所")
    police.fill("input[name=dispatched_at]", "2026-03-10T09:20")
    police.context.set_offline(True)
    url = police.url
    police.click("#task-form button[type=submit]")
    police.wait_for_selector("#flash .flash.offline")
    assert "网络已断开" in police.inner_text("#flash .flash.offline")
    assert police.url == url
    assert police.input_value("input[name=police_station]") == "东城派出所"
    assert police.input_value("input[name=dispatched_at]") == "2026-03-10T09:20"
    police.screenshot(path=str(SHOTS / "task-offline.png"), full_page=True)

    # 5. back online: the submission queued on the phone (outbox.js) is sent by itself and the step completes;
    # the server's and the device's drafts are gone
    police.context.set_offline(False)
    police.wait_for_url(re.compile(r".*/inbox$"))
    assert "已完成" in police.inner_text(".flash.success")
    assert _server_drafts(task_id) == []
    police.wait_for_function(f"() => {LOCAL_DRAFTS}.length === 0")

    # 6. signing out clears the device's drafts of other tasks too
    case2 = open_case(as_user, name="张小红")
    task2 = first_open_task(case2["case_id"]).id
    _open(police, live_server, task2)
    police.fill("input[name=officers]", "赵警官")
    police.wait_for_function(f"() => {LOCAL_DRAFTS}.length === 1")
    police.locator("#site-menu button", has_text="退出").click()
    police.wait_for_url(re.compile(r".*/(login|)(\?.*)?$"))
    assert police.evaluate(LOCAL_DRAFTS) == []
    police.context.close()


def _user_id(username: str) -> int:
    from app.org.queries import user_by_username

    user = user_by_username(username)
    assert user is not None
    return user.id
