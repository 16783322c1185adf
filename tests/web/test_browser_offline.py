"""Issue 14, part 3, in real Chromium at phone size (390 x 844): offline submissions.

A village child director opens this month's home visit on the phone, loses the signal, fills the visit,
takes a photo and presses submit: the submission waits on the phone ("waiting to be sent (1)"). When the
signal returns it is sent by itself, photo first: the step is completed once and the case timeline shows
it with the photo. Then a conflict: while the phone is offline, a colleague of the same village committee
completes the weekly contact the phone is filling; back online, the phone is refused and shows both
versions side by side; the director keeps their text as a comment; nothing was overwritten.
Screenshots go to test-output/screenshots/offline/.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect
from webhelpers import SHOTS, evaluate_until

from app.cases.models import TimelineEntry
from app.duties.models import DutyCycle
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.org.queries import user_by_username
from app.tasks.models import Attachment, Comment, Task
from app.workflow import commands

pytestmark = [pytest.mark.committing, pytest.mark.browser]

MONDAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
OUT = SHOTS / "offline"
QUEUE = """async () => {
  const user = document.querySelector('meta[name=ld-user-key]').content;
  const db = await new Promise((ok, ko) => { const r = indexedDB.open('ld-outbox-' + user, 1);
    r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
  const rows = await new Promise(ok => { const q = db.transaction('entries').objectStore('entries').getAll();
    q.onsuccess = () => ok(q.result); });
  db.close();
  return rows.map(e => ({key: e.key, state: e.state, version: e.version, photos: e.photos.length,
                         bytes: e.photos.map(p => p.blob.size), taskId: e.taskId, attempts: e.attempts,
                         waitMs: e.next - Date.now()}));
}"""


def _photo() -> bytes:
    """A camera-sized photo (3000 x 2000 JPEG): the phone shrinks it before queueing."""
    image = Image.new("RGB", (3000, 2000))
    for x in range(0, 3000, 50):
        image.paste((x % 255, 120, 200 - x % 200), (x, 0, x + 25, 2000))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _phone(browser: Any, base: str, username: str) -> Any:
    db.session.commit()
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "liandong-demo")
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/inbox.*"))
    return page


def _duty_tasks(clock: Any) -> dict[str, Task]:
    from duties.duty_helpers import enrolled

    clock.at = MONDAY
    enrolment = enrolled("留守小芳")
    db.session.commit()
    start_due_duties(MONDAY)
    db.session.commit()
    instances = [c.instance_id for c in db.session.scalars(
        sa.select(DutyCycle).where(DutyCycle.child_id == enrolment.child_id))]
    tasks = db.session.scalars(sa.select(Task).where(Task.instance_id.in_(instances), Task.state == "open")).all()
    return {t.bpmn_id: t for t in tasks}


def _open(page: Any, base: str, task_id: int) -> None:
    page.goto(f"{base}/tasks/{task_id}")
    page.wait_for_selector("#task-form[data-draft-ready='1']")


def _queue_when(page: Any, ready: Any, seconds: float = 15) -> list[dict[str, Any]]:
    """The phone's queue once ``ready(rows)`` holds (polled: IndexedDB is read asynchronously)."""
    return list(evaluate_until(page, QUEUE, ready, seconds))


def _completions(task_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
        TimelineEntry.task_id == task_id, TimelineEntry.kind == "task_completed")) or 0


def test_a_visit_filled_offline_with_a_photo_is_sent_once_when_the_signal_returns(
        live_server: str, browser: Any, clock: Any) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    visit = _duty_tasks(clock)["home_visit"]
    phone = _phone(browser, live_server, "director_t01v01")
    other_tab = phone.context.new_page()  # the inbox open in a second tab: it sends the queue too, or leaves it
    other_tab.goto(f"{live_server}/inbox")
    _open(phone, live_server, visit.id)

    phone.context.set_offline(True)
    phone.fill("input[name=visit_date]", "2026-03-09")
    for name, value in (("child_seen", "true"), ("caregiver_present", "true"), ("living_conditions", "basic"),
                        ("caregiver_capacity", "capable"), ("schooling", "in_school"), ("visit_finding", "no_concern")):
        phone.check(f"input[name={name}][value={value}]")
    phone.fill("textarea[name=visit_notes], input[name=visit_notes]", "孩子在家，祖母照料，情况良好。")
    phone.set_input_files("#visit-photos", files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg",
                                                   "buffer": _photo()}])
    phone.click("#task-form button[type=submit]")
    phone.wait_for_selector("#outbox-indicator:not([hidden])")
    expect(phone.locator("#outbox-indicator")).to_have_text("待发送（1）", use_inner_text=True)
    expect(phone.locator("#flash .flash.offline")).to_contain_text("网络已断开", use_inner_text=True)
    [entry] = phone.evaluate(QUEUE)
    assert entry["state"] == "waiting" and entry["version"] == str(visit.version) and entry["photos"] == 1
    assert entry["bytes"][0] < 1_500_000  # shrunk on the phone (the camera's 3000 px JPEG re-encoded at 1600 px)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(OUT / "visit-waiting-390.png"), full_page=True)
    assert _completions(visit.id) == 0  # nothing reached the server

    phone.context.set_offline(False)  # the signal returns: sent by itself (by one tab), photo first
    phone.wait_for_url(re.compile(r".*/inbox$"))
    other_tab.wait_for_selector("#outbox-indicator[hidden]", state="attached")
    expect(phone.locator(".flash.success")).to_contain_text("已完成", use_inner_text=True)
    assert phone.evaluate(QUEUE) == []
    expect(phone.locator("#outbox-indicator")).to_be_hidden()
    assert _completions(visit.id) == 1
    [photo] = db.session.scalars(sa.select(Attachment).where(Attachment.task_id == visit.id)).all()
    done = db.session.get(Task, visit.id)
    assert done.state == "completed" and done.data["visit_notes"] == "孩子在家，祖母照料，情况良好。"
    assert photo.original_name == "IMG_0001.jpg" and photo.content_type == "image/jpeg"

    phone.goto(f"{live_server}/cases/{visit.case_id}#timeline")
    row = phone.locator("#timeline tr", has_text="IMG_0001.jpg").first
    expect(row).to_contain_text("儿童主任入户走访", use_inner_text=True)
    phone.screenshot(path=str(OUT / "case-timeline-photo-390.png"), full_page=True)
    phone.goto(f"{live_server}/outbox")
    phone.wait_for_selector("#outbox-list p.muted")
    expect(phone.locator("#outbox-list")).to_contain_text("没有待发送", use_inner_text=True)
    phone.context.close()


def test_a_colleague_completing_the_step_meanwhile_shows_both_versions_and_overwrites_nothing(
        live_server: str, browser: Any, clock: Any) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    contact = _duty_tasks(clock)["weekly_contact"]
    phone = _phone(browser, live_server, "director_t01v01")
    _open(phone, live_server, contact.id)
    phone.context.set_offline(True)
    phone.fill("input[name=contact_date]", "2026-03-09")
    phone.check("input[name=contact_method][value=phone]")
    phone.check("input[name=child_well][value=true]")
    phone.fill("textarea[name=concerns], input[name=concerns]", "电话联系，孩子说奶奶身体不好。")
    phone.click("#task-form button[type=submit]")
    phone.wait_for_selector("#outbox-indicator:not([hidden])")

    # meanwhile, at the village office, a colleague completes the same contact
    colleague = user_by_username("village_committee_t01v01")
    db.session.rollback()
    theirs = {"contact_date": "2026-03-08", "contact_method": "in_person", "child_well": False}
    commands.complete(db.session.get(Task, contact.id), colleague, theirs)
    db.session.commit()
    kept = db.session.get(Task, contact.id).data

    phone.context.set_offline(False)  # refused: the phone goes to the decision
    phone.wait_for_url(re.compile(r".*/outbox$"))
    phone.wait_for_selector(".outbox-entry.state-conflict table.side-by-side")
    card = phone.locator(".outbox-entry.state-conflict")
    text = card.inner_text()
    assert colleague.display_name in text and "未被采用" in text
    heads = card.evaluate("el => [...el.querySelectorAll('th')].map(t => t.textContent)")
    assert heads == ["项目", "您发送的内容（版本 1）", "该步骤现在的内容（版本 2）"]  # labels of the cards on a phone
    assert "2026-03-09" in text and "2026-03-08" in text  # both versions, side by side
    expect(phone.locator("#outbox-indicator")).to_have_text("未发送，需要您处理（1）", use_inner_text=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(OUT / "conflict-390.png"), full_page=True)
    phone.set_viewport_size({"width": 1366, "height": 900})  # the same view on a desk: a table, side by side
    assert phone.evaluate("getComputedStyle(document.querySelector('table.side-by-side td')).display") == "table-cell"
    phone.screenshot(path=str(OUT / "conflict-1366.png"), full_page=True)
    phone.set_viewport_size(PHONE["viewport"])
    assert _completions(contact.id) == 1 and db.session.get(Task, contact.id).data == kept

    card.locator("button", has_text="把我填写的内容保存为评论").click()
    phone.wait_for_selector("#outbox-list p.muted")
    assert phone.evaluate(QUEUE) == []
    db.session.rollback()
    [note] = db.session.scalars(sa.select(Comment).where(Comment.task_id == contact.id)).all()
    assert "2026-03-09" in note.body and "奶奶身体不好" in note.body and note.author_id == user_by_username("director_t01v01").id
    assert db.session.get(Task, contact.id).data == kept and _completions(contact.id) == 1  # nothing overwritten
    phone.context.close()


def test_a_lost_answer_is_retried_under_the_same_key_and_the_queue_is_one_users_cleared_at_sign_out(
        live_server: str, browser: Any, clock: Any) -> None:
    """The answer to a completion the server committed is lost (the signal drops as it comes back): the phone
    keeps the entry and its retry, under the same key, is replayed, not applied twice. A server that is down
    (503) is retried with backoff. Signing out with something waiting asks first; the next user of the phone
    sees nothing of it."""
    tasks = _duty_tasks(clock)
    contact, visit = tasks["weekly_contact"], tasks["home_visit"]
    phone = _phone(browser, live_server, "director_t01v01")
    _open(phone, live_server, contact.id)
    phone.context.set_offline(True)
    phone.fill("input[name=contact_date]", "2026-03-09")
    phone.check("input[name=contact_method][value=video]")
    phone.check("input[name=child_well][value=true]")
    phone.click("#task-form button[type=submit]")
    phone.wait_for_selector("#outbox-indicator:not([hidden])")

    def commit_then_drop(route: Any) -> None:
        route.fetch()  # the server completes the step and commits...
        route.abort("connectionreset")  # ...and the answer never reaches the phone

    phone.route("**/tasks/*/complete", commit_then_drop)
    phone.context.set_offline(False)
    [entry] = _queue_when(phone, lambda rows: rows and rows[0]["attempts"] == 1 and rows[0]["state"] == "waiting")
    assert entry["waitMs"] > 0  # backing off before the next try
    assert _completions(contact.id) == 1  # it did go through
    phone.unroute("**/tasks/*/complete")
    phone.goto(f"{live_server}/outbox")
    phone.wait_for_selector(".outbox-entry.state-waiting")
    phone.locator(".outbox-entry button", has_text="立即发送").click()
    phone.wait_for_selector("#outbox-list p.muted")
    assert phone.evaluate(QUEUE) == [] and _completions(contact.id) == 1  # replayed, not applied twice

    # the server is down: the visit waits (503 is retried), and signing out asks before it deletes it
    phone.route("**/tasks/*/complete", lambda route: route.fulfill(status=503, body="busy"))
    _open(phone, live_server, visit.id)
    phone.fill("input[name=visit_date]", "2026-03-09")
    for name, value in (("child_seen", "true"), ("caregiver_present", "true"), ("living_conditions", "good"),
                        ("caregiver_capacity", "capable"), ("schooling", "in_school"), ("visit_finding", "no_concern")):
        phone.check(f"input[name={name}][value={value}]")
    phone.set_input_files("#visit-photos", files=[{"name": "门口.jpg", "mimeType": "image/jpeg", "buffer": _photo()}])
    phone.click("#task-form button[type=submit]")  # online, but with a photo: through the outbox
    _queue_when(phone, lambda rows: rows and rows[0]["attempts"] == 1 and rows[0]["state"] == "waiting")
    # the indicator is drawn after the queue is written: its count is what the sign-out below asks about
    expect(phone.locator("#outbox-indicator")).to_have_text("待发送（1）", use_inner_text=True)
    asked: list[str] = []
    phone.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    phone.click(".menu-toggle")
    phone.locator("#site-menu button", has_text="退出").click()
    phone.wait_for_timeout(500)
    assert asked and "未发送" in asked[0] and "/tasks/" in phone.url  # still here, still signed in
    assert len(phone.evaluate(QUEUE)) == 1
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.locator("#site-menu button", has_text="退出").click()
    phone.wait_for_url(re.compile(r".*/(login|)(\?.*)?$"))
    assert not [n for n in phone.evaluate("async () => (await indexedDB.databases()).map(d => d.name)")
                if n.startswith("ld-outbox")]
    assert _completions(visit.id) == 0
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Attachment.id)).where(Attachment.task_id == visit.id)) == 1

    # the next user of the phone: nothing waiting, nothing shown
    phone.unroute("**/tasks/*/complete")
    phone.fill("input[name=username]", "village_committee_t01v01")
    phone.fill("input[name=password]", "liandong-demo")
    phone.click("button[type=submit].primary")
    phone.wait_for_url(re.compile(r".*/inbox.*"))
    expect(phone.locator("#outbox-indicator")).to_be_hidden()
    phone.goto(f"{live_server}/outbox")
    phone.wait_for_selector("#outbox-list p.muted")
    expect(phone.locator("#outbox-list")).to_contain_text("没有待发送", use_inner_text=True)
    phone.context.close()


def test_a_submission_the_server_refuses_is_kept_and_reopened_with_every_value(
        live_server: str, browser: Any, clock: Any) -> None:
    """Filled offline with a required answer missing: back online the server refuses it (422); the phone keeps
    the entry, says so, and "Open the step" puts every value back into the form."""
    contact = _duty_tasks(clock)["weekly_contact"]
    phone = _phone(browser, live_server, "director_t01v01")
    _open(phone, live_server, contact.id)
    phone.context.set_offline(True)
    phone.fill("input[name=contact_date]", "2026-03-09")
    phone.fill("textarea[name=concerns], input[name=concerns]", "奶奶住院，孩子暂住邻居家。")  # no method, no answer
    phone.click("#task-form button[type=submit]")
    phone.wait_for_selector("#outbox-indicator:not([hidden])")
    phone.context.set_offline(False)
    phone.wait_for_url(re.compile(r".*/outbox$"))
    card = phone.locator(".outbox-entry.state-refused")
    card.wait_for()
    expect(card).to_contain_text("未发送：被拒绝", use_inner_text=True)
    expect(phone.locator("#outbox-indicator")).to_have_text("未发送，需要您处理（1）", use_inner_text=True)
    assert _completions(contact.id) == 0
    card.locator("button", has_text="打开该步骤").click()
    phone.wait_for_url(re.compile(rf".*/tasks/{contact.id}$"))
    phone.wait_for_selector("#task-form[data-draft-ready='1']")
    assert phone.input_value("input[name=contact_date]") == "2026-03-09"
    assert phone.input_value("textarea[name=concerns], input[name=concerns]") == "奶奶住院，孩子暂住邻居家。"
    assert phone.evaluate(QUEUE) == []
    expect(phone.locator("#outbox-indicator")).to_be_hidden()
    phone.context.close()
