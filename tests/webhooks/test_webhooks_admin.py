"""Webhook administration (issue 16, part 5): the API and the pages register subscribers, show the secret once,
pause and resume, show the delivery log and redeliver; hostile input is a 4xx that changes nothing."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from helpers import submit_report
from webhook_peer import receiving

from app.audit.models import AuditEvent
from app.extensions import db
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from workers.jobs import deliver_webhook

NEW = {"name": "12355 热线呼叫系统", "url": "http://127.0.0.1:9/hook", "kinds": ["report.accepted", "case.closed"],
       "county": "c01"}


def _count(model: Any) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_the_api_registers_shows_the_secret_once_pauses_and_keeps_a_log(as_user: Any) -> None:
    admin = as_user("admin")
    created = admin.post("/api/v1/webhooks", json=NEW)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    secret, sub_id = body["secret"], body["subscription"]["id"]
    assert secret.startswith("whsec_") and body["subscription"]["kinds"] == ["report.accepted", "case.closed"]
    listed = admin.get("/api/v1/webhooks")
    assert listed.status_code == 200 and secret not in listed.get_data(as_text=True)
    assert listed.get_json()["items"][0]["deliveries"] == {}
    one = admin.get(f"/api/v1/webhooks/{sub_id}").get_json()
    assert "secret" not in one and one["county"] == "c01"

    with receiving(secret) as receiver:
        assert admin.patch(f"/api/v1/webhooks/{sub_id}", json={"url": receiver.url}).status_code == 200
        case = submit_report(as_user("reporter_school"))
        log = admin.get(f"/api/v1/webhooks/{sub_id}/deliveries").get_json()
        assert log["total"] == 1 and log["items"][0]["status"] == "pending"
        assert log["items"][0]["case_id"] == case["case_id"]
        assert deliver_webhook(log["items"][0]["id"]) == "delivered"
        again = admin.post(f"/api/v1/webhooks/deliveries/{log['items'][0]['id']}/redeliver")
        assert again.status_code == 200 and again.get_json()["status"] == "pending"
        assert deliver_webhook(log["items"][0]["id"]) == "delivered"
    assert len(receiver.arrivals) == 2 and len(receiver.events) == 1 and all(a.verified for a in receiver.arrivals)

    delivered = admin.get(f"/api/v1/webhooks/{sub_id}/deliveries", query_string={"status": "delivered"}).get_json()
    assert delivered["total"] == 1 and delivered["items"][0]["response_status"] == 204

    paused = admin.patch(f"/api/v1/webhooks/{sub_id}", json={"active": False})
    assert paused.status_code == 200 and paused.get_json()["active"] is False
    submit_report(as_user("reporter_school"))
    assert admin.get(f"/api/v1/webhooks/{sub_id}/deliveries").get_json()["total"] == 1  # nothing new while paused

    rotated = admin.post(f"/api/v1/webhooks/{sub_id}/secret").get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
    actions = list(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type.in_(
        ["webhook", "webhook_delivery"])).order_by(AuditEvent.id)))
    assert actions == ["webhook_create", "webhook_update", "webhook_redeliver", "webhook_update", "webhook_secret"]
    details = " ".join(str(d) for d in db.session.scalars(sa.select(AuditEvent.detail)))
    assert secret not in details and rotated["secret"] not in details


def test_only_admins_and_bad_input_is_422_with_field_paths(as_user: Any) -> None:
    for user in ("coordinator", "police_t01", "reporter_school"):
        assert as_user(user).get("/api/v1/webhooks").status_code == 403
        assert as_user(user).post("/api/v1/webhooks", json=NEW).status_code == 403
    admin = as_user("admin")
    for bad, field in (({**NEW, "url": "file:///etc/passwd"}, "url"), ({**NEW, "kinds": ["child.born"]}, "kinds"),
                       ({**NEW, "kinds": []}, "kinds"), ({**NEW, "county": "t01v01"}, "county"),
                       ({**NEW, "url": "http://user:pw@x.example/"}, "url"), ({**NEW, "name": ""}, "name")):
        resp = admin.post("/api/v1/webhooks", json=bad)
        assert resp.status_code == 422, (bad, resp.get_json())
        assert field in str(resp.get_json()), resp.get_json()
    assert admin.get("/api/v1/webhooks/999999").status_code == 404
    assert admin.patch("/api/v1/webhooks/999999", json={"active": False}).status_code == 404
    assert admin.post("/api/v1/webhooks/deliveries/999999/redeliver").status_code == 404
    assert admin.get("/api/v1/webhooks/1/deliveries", query_string={"status": "lost"}).status_code in (404, 422)
    assert _count(WebhookSubscription) == 0


def test_a_pending_first_attempt_is_not_redelivered(as_user: Any) -> None:
    admin = as_user("admin")
    sub_id = admin.post("/api/v1/webhooks", json=NEW).get_json()["subscription"]["id"]
    submit_report(as_user("reporter_school"))
    [row] = admin.get(f"/api/v1/webhooks/{sub_id}/deliveries").get_json()["items"]
    refused = admin.post(f"/api/v1/webhooks/deliveries/{row['id']}/redeliver")
    assert refused.status_code == 409 and refused.get_json()["message"]


def test_the_pages_register_show_the_log_pause_and_redeliver(page: Any, as_user: Any) -> None:
    admin = page("admin")
    assert admin.get("/admin/webhooks").status_code == 200
    form = [("name", "省级数据平台"), ("url", "http://127.0.0.1:9/hook"), ("kinds", "report.accepted"),
            ("kinds", "task.overdue"), ("county", "c01"), ("active", "1")]
    shown = admin.post("/admin/webhooks/new", data=form)
    assert shown.status_code == 200
    secret = re.search(r'id="webhook-secret">(whsec_[^<]+)<', shown.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    sub = db.session.scalar(sa.select(WebhookSubscription))
    assert sub is not None and sub.kind_list == ["report.accepted", "task.overdue"] and sub.signing_secret == secret
    listing = admin.get("/admin/webhooks").get_data(as_text=True)
    assert "省级数据平台" in listing and secret not in listing

    with receiving(secret) as receiver:
        receiver.fail_next = 1
        assert admin.post(f"/admin/webhooks/{sub.id}", data=[*[f for f in form if f[0] != "url"],
                                                              ("url", receiver.url)]).status_code == 302
        submit_report(as_user("reporter_school"))
        row = db.session.scalar(sa.select(WebhookDelivery))
        assert row is not None and deliver_webhook(row.id) == "retry"
        db.session.expire_all()  # the job ran in an app context (and session) of its own
        log = admin.get(f"/admin/webhooks/{sub.id}").get_data(as_text=True)
        assert row.event_id in log and "HTTP 500" in log and secret not in log
        assert admin.post(f"/admin/webhooks/deliveries/{row.id}/redeliver").status_code == 302
        assert deliver_webhook(row.id) == "delivered"
    assert [a.status for a in receiver.arrivals] == [500, 204]

    assert admin.post(f"/admin/webhooks/{sub.id}/active", data={"active": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(WebhookSubscription, sub.id).active is False  # type: ignore[union-attr]
    bad = admin.post("/admin/webhooks/new", data=[("name", "x"), ("url", "javascript:alert(1)"), ("county", "c01")])
    assert bad.status_code == 422 and _count(WebhookSubscription) == 1
    assert page("coordinator").get("/admin/webhooks").status_code == 403
    assert page("police_t01").post(f"/admin/webhooks/{sub.id}/secret").status_code == 403
    assert admin.post("/admin/webhooks/deliveries/999999/redeliver").status_code == 404


def test_a_listed_subscriber_is_the_one_read_with_its_delivery_counts(as_user: Any) -> None:
    """Pinned key by key: the list dumps each subscriber with ``deliveries`` beside it, the read without."""
    admin = as_user("admin")
    sub = admin.post("/api/v1/webhooks", json=NEW).get_json()["subscription"]
    assert set(sub) == {"id", "name", "url", "kinds", "county", "active", "created_at", "updated_at"}
    assert (sub["name"], sub["url"], sub["kinds"], sub["county"], sub["active"]) == (
        NEW["name"], NEW["url"], NEW["kinds"], "c01", True)
    assert admin.get(f"/api/v1/webhooks/{sub['id']}").get_json() == sub
    assert admin.get("/api/v1/webhooks").get_json() == {"items": [{**sub, "deliveries": {}}]}
