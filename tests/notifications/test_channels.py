"""Issue 16 part 3: notification channels. SMS through a gateway and work chat through a signed robot webhook,
chosen per user and kind, held in quiet hours unless the step is urgent, each delivery tracked, retried and sent
once; the adapters talk to real HTTP peers started here (tests/webhook_peer.py), which check the signature."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from webhelpers import first_open_task, open_case
from webhook_peer import Receiver, receiving

from app.audit.models import AuditEvent
from app.common.signed_http import new_secret
from app.deadlines.quiet_hours import describe
from app.extensions import db
from app.notifications.delivery import DeliveryFailure, deliver, pending_ids
from app.notifications.models import ChannelAddress, Delivery, Notification
from app.notifications.operations import notify
from app.org.queries import user_by_username

SMS_KEY = new_secret()
ROBOT_SECRET = new_secret()
CHILD = "王小明"


@pytest.fixture
def peers(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, Receiver]]:
    """A live SMS gateway and a live work-chat robot, the app's settings pointed at them."""
    settings = app.config["LIANDONG"]
    with receiving(SMS_KEY) as gateway, receiving(ROBOT_SECRET) as robot:
        monkeypatch.setattr(settings, "sms_url", gateway.url)
        monkeypatch.setattr(settings, "sms_key", type(settings.sms_key or settings.secret_key)(SMS_KEY))
        monkeypatch.setattr(settings, "chat_url_prefixes", [robot.url.rsplit("/", 1)[0] + "/"])
        monkeypatch.setattr(settings, "public_url", "https://liandong.county.example")
        yield gateway, robot


def _choose(as_user: Any, username: str, robot: Receiver, kinds: dict[str, list[str]], **extra: Any) -> Any:
    return as_user(username).put("/api/v1/notification-channels/preferences", json={
        "kinds": kinds, "phone": "+8613800000001", "chat_url": robot.url, "chat_secret": ROBOT_SECRET, **extra})


def _deliveries(user_id: int) -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Delivery).where(Delivery.user_id == user_id).order_by(Delivery.id)))


def test_a_choice_per_kind_sends_sms_and_chat_signed_without_the_childs_name(
        as_user: Any, peers: tuple[Receiver, Receiver]) -> None:
    gateway, robot = peers
    resp = _choose(as_user, "police_t01", robot, {"new_task": ["email", "sms", "chat"], "*": ["email"]})
    assert resp.status_code == 200, resp.get_json()
    shown = resp.get_json()
    assert shown["kinds"]["new_task"] == ["email", "sms", "chat"] and shown["phone"] == "+8613800000001"
    assert shown["chat_secret_set"] is True and shown["chat_url"].endswith("/…") and ROBOT_SECRET not in str(shown)
    user = user_by_username("police_t01")
    assert user is not None
    change = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "channels_change")).one()
    assert "+8613800000001" not in json.dumps(change.detail) and ROBOT_SECRET not in json.dumps(change.detail)

    case = open_case(as_user, name=CHILD)
    task = first_open_task(case["case_id"])
    rows = _deliveries(user.id)
    assert [(d.channel, d.kind, d.state) for d in rows] == [("sms", "new_task", "queued"), ("chat", "new_task", "queued")]
    assert [deliver(d.id, describe) for d in rows] == ["sent", "sent"]

    assert len(gateway.arrivals) == 1 and gateway.arrivals[0].verified
    sms = json.loads(gateway.arrivals[0].body)
    assert sms["to"] == "+8613800000001" and sms["reference"] == f"delivery-{rows[0].id}"
    assert gateway.arrivals[0].headers["webhook-id"] == f"delivery-{rows[0].id}"
    chat = json.loads(robot.arrivals[0].body)
    assert robot.arrivals[0].verified and chat["msgtype"] == "text"
    for text in (sms["text"], chat["text"]["content"]):
        assert CHILD not in text and task.name not in text  # the kind and the case number, never the title
        assert case["case_number"] in text and f"https://liandong.county.example/tasks/{task.id}" in text
    assert {d.state for d in _deliveries(user.id)} == {"sent"}


def test_a_secure_robot_gets_the_title_and_other_kinds_stay_in_the_app(
        as_user: Any, peers: tuple[Receiver, Receiver], app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, robot = peers
    monkeypatch.setattr(app.config["LIANDONG"], "chat_secure_prefixes", [robot.url.rsplit("/", 1)[0] + "/"])
    assert _choose(as_user, "police_t01", robot, {"conference": ["chat"], "*": []}).status_code == 200
    user = user_by_username("police_t01")
    assert user is not None
    notify([user], "conference", f"个案会商：{CHILD}（3月12日）", body="县民政局三楼")
    notify([user], "police_handled", "C01: handled")
    rows = _deliveries(user.id)
    assert [(d.channel, d.kind) for d in rows] == [("chat", "conference")]
    assert deliver(rows[0].id, describe) == "sent"
    assert CHILD in json.loads(robot.arrivals[0].body)["text"]["content"]


def test_a_failed_attempt_is_recorded_retried_and_the_message_arrives_once(
        as_user: Any, peers: tuple[Receiver, Receiver]) -> None:
    gateway, robot = peers
    assert _choose(as_user, "police_t01", robot, {"*": ["sms"]}).status_code == 200
    user = user_by_username("police_t01")
    assert user is not None
    gateway.fail_next = 1
    notify([user], "task_reassigned", "C01: 受理研判")
    row = _deliveries(user.id)[0]
    with pytest.raises(DeliveryFailure):
        deliver(row.id, describe)
    db.session.expire_all()
    assert (row.state, row.attempts, row.last_error) == ("queued", 1, "HTTP 500")
    assert row.next_attempt_at is not None
    assert deliver(row.id, describe) == "sent"
    assert deliver(row.id, describe) == "already"
    assert len(gateway.arrivals) == 2 and len(gateway.events) == 1  # one refused, one accepted, none after
    db.session.expire_all()
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)


def test_quiet_hours_hold_a_working_day_step_until_monday_but_not_a_first_moment_step(
        as_user: Any, peers: tuple[Receiver, Receiver], clock: Any) -> None:
    gateway, robot = peers
    assert _choose(as_user, "police_t01", robot, {"*": ["sms"]}).status_code == 200
    user = user_by_username("police_t01")
    assert user is not None
    clock.at = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)  # Saturday 10:00 in the county
    notify([user], "report_added", "C01: another report")  # about no step: waits
    case = open_case(as_user)  # police triage, PT1H: the first moment
    urgent, waiting = [d for d in _deliveries(user.id) if d.kind == "new_task"], \
        [d for d in _deliveries(user.id) if d.kind == "report_added"]
    assert deliver(waiting[0].id, describe) == "held"
    db.session.expire_all()
    assert waiting[0].next_attempt_at == datetime(2026, 3, 16, 0, 30, tzinfo=UTC)  # Monday 08:30
    assert deliver(urgent[0].id, describe) == "sent"
    assert len(gateway.arrivals) == 1 and case["case_number"] in json.loads(gateway.arrivals[0].body)["text"]
    assert pending_ids(clock.at, settle=pending_settle()) == []
    clock.at = datetime(2026, 3, 16, 0, 31, tzinfo=UTC)
    assert pending_ids(clock.at) == [waiting[0].id]
    assert deliver(waiting[0].id, describe) == "sent" and len(gateway.arrivals) == 2


def test_email_is_not_held_in_quiet_hours_the_daily_digest_is_emails_quiet_choice(
        as_user: Any, peers: tuple[Receiver, Receiver], clock: Any, smtp: Any) -> None:
    """docs/notifications.md, "Quiet hours and email": on a Saturday the same note's SMS is held to Monday
    08:30 while the immediate mail goes at once; a daily reader's digest waits for the working day."""
    from app.deadlines.calendar import working_calendar
    from app.notifications.email import queue_digests, send
    from app.notifications.models import EmailOutbox

    gateway, robot = peers
    assert _choose(as_user, "police_t01", robot, {"*": ["email", "sms"]}).status_code == 200
    user, reader = user_by_username("police_t01"), user_by_username("education_c01")
    assert user is not None and reader is not None
    user.email, user.email_frequency = "police@example.org", "immediate"
    reader.email, reader.email_frequency = "education@example.org", "daily"
    clock.at = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)  # Saturday 10:00 in the county
    notify([user, reader], "report_added", "C01: another report")
    db.session.commit()

    [sms] = _deliveries(user.id)
    assert deliver(sms.id, describe) == "held" and gateway.arrivals == []
    [mail] = db.session.scalars(sa.select(EmailOutbox)).all()
    assert mail.to_address == "police@example.org" and send(mail.id) in ("sent", "already")
    db.session.expire_all()
    assert mail.sent_at == clock.at and len(smtp.messages) == 1
    assert "C01: another report" in smtp.messages[0].get_payload(decode=True).decode()

    county = working_calendar("c01")
    assert queue_digests(county.is_workday, clock.at) == []  # Saturday
    assert queue_digests(county.is_workday, datetime(2026, 3, 15, 3, 0, tzinfo=UTC)) == []  # Sunday 11:00
    [digest] = queue_digests(county.is_workday, datetime(2026, 3, 16, 0, 31, tzinfo=UTC))  # Monday 08:31
    assert digest.to_address == "education@example.org" and "C01: another report" in digest.body


def pending_settle() -> Any:
    from datetime import timedelta

    return timedelta(seconds=60)


def test_people_who_chose_nothing_new_cost_no_statement_and_get_no_delivery(demo: dict[str, Any]) -> None:
    user = user_by_username("police_t01")
    assert user is not None and user.notify_channels is None
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        notify([user], "new_task", "C01: 受理研判")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert not any("notification_delivery" in s.lower() for s in seen)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"kinds": {"*": ["pigeon"]}}, "kinds"),
    ({"kinds": {"Bad Kind": ["email"]}}, "kinds"),
    ({"kinds": {"*": ["sms"]}}, "kinds"),  # no SMS gateway configured here
    ({"kinds": {"*": ["email"]}, "phone": "call me"}, "phone"),
    ({"kinds": {"*": ["email"]}, "chat_url": "http://127.0.0.1:6379/"}, "chat_url"),
    ({"kinds": {"*": ["email"]}, "chat_url": "https://qyapi.weixin.qq.com.evil.example/send?key=x"}, "chat_url"),
    ({"kinds": {"*": ["email"]}, "chat_url": "https://qyapi.weixin.qq.com@127.0.0.1/send"}, "chat_url"),
    ({"kinds": {"*": ["email"]}, "chat_url": "https://qyapi.weixin.qq.com/send?key=x\r\nHost: x"}, "chat_url"),
    ({"kinds": {"*": ["email"]}, "phone": "13800000000\n"}, "phone"),
    ({"kinds": {"*": ["email"]}, "phone": "+86 138 0000 0000"}, "phone"),
    ({"kinds": {"new_task\n": ["email"]}}, "kinds"),
    ({"kinds": {"*": ["email"]}, "chat_url": "https://oapi.dingtalk.com/robot/send?access_token=x",
      "chat_secret": "SEC123"}, "chat_secret"),
    ({"kinds": "all"}, "kinds"),
    ({}, "kinds"),
])
def test_a_refused_choice_is_422_naming_the_field_and_changes_nothing(
        as_user: Any, body: dict[str, Any], field: str) -> None:
    resp = as_user("police_t01").put("/api/v1/notification-channels/preferences", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert field in json.dumps(resp.get_json())
    user = user_by_username("police_t01")
    assert user is not None
    db.session.expire_all()
    assert user.notify_channels is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelAddress)) == 0


def test_deliveries_are_visible_to_their_user_and_to_admins_only_without_case_words(
        as_user: Any, peers: tuple[Receiver, Receiver]) -> None:
    _, robot = peers
    assert _choose(as_user, "police_t01", robot, {"*": ["chat"]}).status_code == 200
    user = user_by_username("police_t01")
    assert user is not None
    notify([user], "conference", f"个案会商：{CHILD}")
    db.session.commit()
    mine = as_user("police_t01").get("/api/v1/notification-channels/deliveries").get_json()
    assert [(d["channel"], d["kind"], d["state"]) for d in mine["items"]] == [("chat", "conference", "queued")]
    assert CHILD not in json.dumps(mine)
    assert as_user("police_t01").get("/api/v1/notification-channels/deliveries?everyone=true").status_code == 403
    assert as_user("coordinator").get("/api/v1/notification-channels/deliveries").get_json()["items"] == []
    everyone = as_user("admin").get("/api/v1/notification-channels/deliveries?everyone=true").get_json()
    assert [d["user_id"] for d in everyone["items"]] == [user.id]
    assert as_user("admin").get("/api/v1/notification-channels/deliveries?state=lost").status_code == 422


def test_the_preferences_page_saves_a_choice_and_refuses_a_bad_number_changing_nothing(
        page: Any, peers: tuple[Receiver, Receiver]) -> None:
    police = page("police_t01")
    shown = police.get("/notifications/channels").get_data(as_text=True)
    assert 'name="k:new_task" value="sms"' in shown and 'name="quiet" value="1" checked' in shown
    bad = police.post("/notifications/channels", [("k:new_task", "sms"), ("quiet", "1"), ("phone", "call me")])
    assert bad.status_code == 422 and "a phone number" in bad.get_data(as_text=True)
    user = user_by_username("police_t01")
    assert user is not None
    db.session.expire_all()
    assert user.notify_channels is None
    good = police.post("/notifications/channels", [("k:new_task", "sms"), ("k:new_task", "email"),
                                                   ("k:*", "email"), ("phone", "13800000003")])
    assert good.status_code == 302
    db.session.expire_all()
    assert user.notify_channels is not None and user.notify_channels["quiet"] is False
    kinds = user.notify_channels["kinds"]
    assert (kinds["new_task"], kinds["*"], kinds["overdue"]) == (["sms", "email"], ["email"], [])  # rows as shown
    assert db.session.get(ChannelAddress, (user.id, "sms")).address == "13800000003"  # type: ignore[union-attr]
    listed = police.get("/notifications/channels/deliveries?everyone=1").get_data(as_text=True)
    assert "all users" not in listed and "全部用户" not in listed  # not an admin: their own only


def test_the_daily_digest_leaves_out_the_kinds_a_user_wants_elsewhere(demo: dict[str, Any], clock: Any) -> None:
    from app.notifications.channels import Preferences
    from app.notifications.email import queue_digests
    from app.notifications.models import EmailOutbox
    from app.notifications.operations import set_channels

    user = user_by_username("police_t01")
    assert user is not None
    user.email, user.email_frequency = "police@example.org", "daily"
    set_channels(user, Preferences({"conference": (), "*": ("email",)}))
    notify([user], "conference", f"个案会商：{CHILD}")
    notify([user], "overdue", "C01: 受理研判 · 已逾期")
    [digest] = queue_digests(lambda day: True, clock.at.replace(hour=3))  # 11:00 in the county
    assert "受理研判" in digest.body and CHILD not in digest.body and "（1 条）" in digest.subject
    assert queue_digests(lambda day: True, clock.at.replace(hour=4)) == []  # once a day, nothing left over
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailOutbox)) == 1


def test_the_deliveries_pages_keep_their_filters_from_page_to_page(page: Any, clock: Any) -> None:
    """A hundred failed SMS and a sent chat message: the failed list's next page is still the failed SMS."""
    user = user_by_username("police_t01")
    assert user is not None
    now = clock.now()
    for n in range(101):
        note = Notification(user_id=user.id, kind="overdue", title=f"第{n}项", created_at=now)
        db.session.add(note)
        db.session.flush()
        db.session.add(Delivery(notification_id=note.id, user_id=user.id, channel="sms", kind="overdue",
                                state="failed", attempts=5, created_at=now))
    chat = Notification(user_id=user.id, kind="conference", title="会商", created_at=now)
    db.session.add(chat)
    db.session.flush()
    db.session.add(Delivery(notification_id=chat.id, user_id=user.id, channel="chat", kind="conference",
                            state="sent", attempts=1, created_at=now))
    db.session.commit()
    police = page("police_t01")
    first = police.get("/notifications/channels/deliveries?state=failed&channel=sms").get_data(as_text=True)
    nxt = re.search(r'href="([^"]+)" rel="next"', first)
    assert nxt is not None
    link = html.unescape(nxt.group(1))
    assert "state=failed" in link and "channel=sms" in link and "page=2" in link and "everyone" not in link
    second = police.get(link).get_data(as_text=True)
    assert second.count("<tr>") == 2  # the header and the 101st failed SMS, not the sent chat message
    prev = re.search(r'href="([^"]+)" rel="prev"', second)
    assert prev is not None and "state=failed" in html.unescape(prev.group(1))
    assert 'rel="next"' not in second
