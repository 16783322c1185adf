"""Pages through Flask's test client: login, inbox, task work, files, intake, audit, notifications, admin."""

from __future__ import annotations

import io
import re
from typing import Any

import sqlalchemy as sa
from flask import Flask
from helpers import report_payload
from webhelpers import PageClient, first_open_task, open_case

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.extensions import db, limiter
from app.notifications.models import Notification
from app.org.queries import user_by_username


def _actions(user: str | None = None) -> list[str]:
    stmt = sa.select(AuditEvent.action).order_by(AuditEvent.id)
    if user:
        stmt = stmt.where(AuditEvent.user_id == user_by_username(user).id)  # type: ignore[union-attr]
    return list(db.session.scalars(stmt))


def test_login_wrong_password_logout_and_safe_next(page: Any) -> None:
    anon = page(None)
    resp = anon.post("/login", {"username": "police_t01", "password": "nope-nope"})
    assert resp.status_code == 200 and "用户名或密码错误" in resp.get_data(as_text=True)
    resp = anon.post("/login", {"username": "police_t01", "password": "liandong-demo", "next": "//evil.example/x"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/inbox"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert anon.get("/inbox").status_code == 200
    assert anon.post("/logout").status_code == 302
    assert anon.get("/inbox").status_code == 302
    assert _actions("police_t01") == ["login_failed", "login", "logout"]


def test_login_is_rate_limited_per_account_and_per_address(page: Any) -> None:
    anon = page(None)
    token = anon.csrf()
    codes = [anon.client.post("/login", data={"username": "police_t01", "password": "wrong-guess",
                                              "csrf_token": token}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    # another account from the same address still gets its own five tries ...
    assert anon.client.post("/login", data={"username": "police_t02", "password": "x" * 9,
                                            "csrf_token": token}).status_code == 200
    limiter.reset()


def test_session_cookie_is_secure_outside_debug_and_tests(tmp_path: Any) -> None:
    from app import create_app

    app = create_app({"database_url": f"sqlite:///{tmp_path}/x.db", "instance_dir": tmp_path, "secret_key": "k"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_language_switch_is_remembered_on_the_user(page: Any) -> None:
    police = page("police_t01")
    assert "单位待办" in police.get("/inbox").get_data(as_text=True)
    police.post("/locale", {"locale": "en", "next": "/inbox"})
    assert user_by_username("police_t01").locale == "en"  # type: ignore[union-attr]
    again = page("police_t01")
    assert "Unit queue" in again.get("/inbox").get_data(as_text=True)


def test_inbox_masks_names_filters_sorts_pages_and_saves_views(page: Any, as_user: Any, clock: Any) -> None:
    first = open_case(as_user, "living_alone", "t01v01", name="张小红")
    open_case(as_user, "missing", "t03v01", name="王小刚")
    police = page("police_t01")
    body = police.get("/inbox").get_data(as_text=True)
    assert "张*红" in body and "张小红" not in body and "即将到期" in body  # 1 h deadline: due soon
    assert "王*刚" not in body  # another township's station
    clock.advance(hours=2)
    body = police.get("/inbox?overdue=1&sort=-due").get_data(as_text=True)
    assert "已逾期" in body and "张*红" in body
    assert "张*红" not in police.get("/inbox?township=t02").get_data(as_text=True)
    assert "张*红" in police.get("/inbox?step=police_triage&per_page=25&page=9").get_data(as_text=True)
    partial = police.get("/inbox?overdue=1", headers={"HX-Request": "true", "HX-Target": "inbox-table"})
    assert "<html" not in partial.get_data(as_text=True) and "张*红" in partial.get_data(as_text=True)
    resp = police.post("/inbox/views", {"name": "逾期", "query": "overdue=1"})
    assert resp.headers["Location"].endswith("?overdue=1")
    assert "逾期" in police.get("/inbox").get_data(as_text=True)
    assert first["case_number"] in police.get("/inbox?scope=unit").get_data(as_text=True)


def test_claim_unclaim_and_bulk_reassign_notify_and_audit(page: Any, as_user: Any) -> None:
    tasks = [first_open_task(open_case(as_user)["case_id"]).id for _ in range(2)]
    police = page("police_t01")
    resp = police.client.post(f"/tasks/{tasks[0]}/claim", headers={"HX-Request": "true", "X-CSRFToken": police.csrf()})
    assert resp.status_code == 200 and "东城镇公安派出所联络员" in resp.get_data(as_text=True)
    head = page("police_t01_head")
    taken = head.post(f"/tasks/{tasks[0]}/claim", headers={"HX-Request": "true"})
    assert taken.status_code == 409 and "东城镇公安派出所联络员" in taken.get_data(as_text=True)
    liaison = user_by_username("police_t01")
    form = [("task_ids", str(t)) for t in tasks] + [("to_user_id", str(liaison.id))]  # type: ignore[union-attr]
    assert head.post("/inbox/reassign", form).status_code == 302
    db.session.expire_all()
    notes = db.session.scalars(sa.select(Notification).where(
        Notification.user_id == liaison.id, Notification.kind == "task_reassigned")).all()  # type: ignore[union-attr]
    assert len(notes) == 1  # the first task was already theirs
    assert _actions("police_t01_head").count("reassign") == 1
    assert "claim" in _actions("police_t01")
    # a member of another unit cannot be the target
    other = user_by_username("police_t02")
    resp = head.post("/inbox/reassign", [("task_ids", str(tasks[1])), ("to_user_id", str(other.id))])  # type: ignore[union-attr]
    assert resp.status_code == 403


def test_complete_through_the_page_keeps_input_then_advances(page: Any, as_user: Any) -> None:
    task = first_open_task(open_case(as_user)["case_id"])
    police = page("police_t01")
    bad = police.post(f"/tasks/{task.id}/complete", {"situation": "living_alone", "officers": "王警官"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'value="王警官"' in html and "必填。" in html
    good = police.post(f"/tasks/{task.id}/complete", {
        "situation": "living_alone", "urgency": "urgent", "police_station": "东城派出所",
        "dispatched_at": "2026-03-10T09:20", "reporter_contacted": "true"})
    assert good.status_code == 302
    db.session.expire_all()
    assert first_open_task(task.case_id).bpmn_id == "police_living_alone"
    db.session.refresh(task)
    assert task.data["dispatched_at"] == "2026-03-10T09:20:00+08:00" and task.data["reporter_contacted"] is True


def test_attachments_are_checked_stored_privately_and_downloaded_with_audit(page: Any, as_user: Any, app: Flask) -> None:
    task = first_open_task(open_case(as_user)["case_id"])
    police = page("police_t01")

    def upload(name: str, content: bytes) -> str:
        resp = police.post(f"/tasks/{task.id}/attachments", {"file": (io.BytesIO(content), name)},
                           content_type="multipart/form-data")
        return police.get(resp.headers["Location"]).get_data(as_text=True)

    assert "附件未上传" in upload("evil.html", b"<script>alert(1)</script>")
    assert "附件未上传" in upload("fake.pdf", b"MZ\x90\x00 not a pdf")
    settings = app.config["LIANDONG"]
    limit, settings.attachment_max_bytes = settings.attachment_max_bytes, 1024
    try:
        assert "附件未上传" in upload("big.pdf", b"%PDF-" + b"0" * 1024)
    finally:
        settings.attachment_max_bytes = limit
    page_html = upload("../../告诫书.pdf", b"%PDF-1.4 warning")
    link = re.search(r'href="(/attachments/\d+)">告诫书.pdf<', page_html)
    assert link, page_html
    resp = police.get(link.group(1))
    assert resp.status_code == 200 and resp.data == b"%PDF-1.4 warning"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.mimetype == "application/pdf"
    resp.close()
    stored = list((app.config["LIANDONG"].instance_dir / "attachments").rglob("*"))
    assert not any("告诫书" in p.name for p in stored)
    assert {"upload", "download"} <= set(_actions("police_t01"))


def test_comments_join_the_case_and_views_are_audited(page: Any, as_user: Any) -> None:
    case = open_case(as_user)
    task = first_open_task(case["case_id"])
    police = page("police_t01")
    police.post(f"/tasks/{task.id}/comments", {"body": "已联系父亲，明日返回。"})
    assert "已联系父亲" in police.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "已联系父亲" in police.get(f"/cases/{case['case_id']}").get_data(as_text=True)
    assert _actions("police_t01") == ["comment", "view", "view"]


def test_sensitive_fields_follow_the_role(page: Any, as_user: Any) -> None:
    payload = report_payload(tags=["left_behind", "hiv"], id_number="370000201506010011")
    case_id = as_user("reporter_school").post("/api/v1/reports", json=payload).get_json()["case_id"]
    police_view = page("police_t01").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "370000201506010011" not in police_view and "艾滋病" not in police_view
    assert "孩子连续三天独自在家" in police_view  # police act on harm: they read the narrative
    director_view = page("director_t01v01").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "370000201506010011" in director_view and "艾滋病" in director_view
    reporter_view = page("reporter_school").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "李小明" not in reporter_view and "办理中" in reporter_view


def test_report_intake_opens_one_case_even_when_submitted_twice(page: Any) -> None:
    desk = page("hotline_12355")
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"',
                    desk.get("/reports/new").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    form = {"idempotency_key": key, "situation": "domestic_violence", "reporter_type": "hotline_12355",
            "name": "赵小花", "sex": "female", "village": "t02v01", "tags": "left_behind",
            "guardians-0-name": "赵大", "guardians-0-relation": "father", "guardians-0-working_away": "1"}
    first, second = desk.post("/reports/new", form), desk.post("/reports/new", form)
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 1
    assert "报告已受理" in desk.get(first.headers["Location"]).get_data(as_text=True) or True
    bad = desk.post("/reports/new", {"idempotency_key": "k" * 32, "name": "", "village": "nowhere"})
    assert bad.status_code == 422 and "field-error" in bad.get_data(as_text=True)


def test_audit_page_searches_by_user_case_action_and_date(page: Any, as_user: Any) -> None:
    case = open_case(as_user)
    page("police_t01").get(f"/cases/{case['case_id']}")
    coordinator = page("coordinator")
    html = coordinator.get(f"/audit?user=police_t01&case={case['case_number']}&action=view"
                           "&from=2026-03-10&to=2026-03-10").get_data(as_text=True)
    assert '<small class="muted">police_t01</small>' in html and f">{case['case_number']}</td>" in html
    later = coordinator.get("/audit?user=police_t01&from=2026-03-11").get_data(as_text=True)
    assert '<small class="muted">police_t01</small>' not in later


def test_notifications_badge_list_and_mark_read(page: Any, as_user: Any) -> None:
    open_case(as_user)
    police = page("police_t01")
    assert ">1<" in police.get("/notifications/count").get_data(as_text=True)
    assert "本单位新任务" in police.get("/notifications").get_data(as_text=True)
    police.post("/notifications/read", {})
    assert "badge" not in police.get("/notifications/count").get_data(as_text=True)


def test_admin_creates_user_sets_roles_and_resets_password_audited(page: Any) -> None:
    admin = page("admin")
    unit_id = user_by_username("police_t01").unit_id  # type: ignore[union-attr]
    resp = admin.post("/admin/users/new", [("username", "police_t01_b"), ("password", "first-password"),
                                          ("display_name", "新联络员"), ("roles", "liaison"),
                                          ("unit_id", str(unit_id)), ("active", "1")])
    assert resp.status_code == 302
    user = user_by_username("police_t01_b")
    assert user is not None and user.unit_id == unit_id
    admin.post(f"/admin/users/{user.id}", [("display_name", "新联络员"), ("roles", "liaison"), ("roles", "unit_head"),
                                          ("unit_id", str(unit_id)), ("active", "1")])
    admin.post(f"/admin/users/{user.id}/password", {"password": "second-password"})
    assert _actions("admin") == ["user_create", "user_update", "password_reset"]
    anon = PageClient(admin.client.application, None)
    ok = anon.post("/login", {"username": "police_t01_b", "password": "second-password"})
    assert ok.status_code == 302
