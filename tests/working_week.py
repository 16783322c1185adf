"""The working week's pages (issue 16) in the page walks' worlds (tests/walks.py): the rows each page needs
to show something, made through the real entry points, and which users reach which page.

A liaison's work-chat robot and the deliveries it has queued; a webhook subscriber whose log has a delivered
event and a failed attempt (posted to a receiver started here, tests/webhook_peer.py); a teacher's late
report and the coordinator's finding on it, routed to the education bureau and not yet answered; views
shared with the unit and with the county's coordinators; a school system's service account and a revoked
one. Nothing leaves the machine: the robot's address is a real platform's, but deliveries are sent only by
the sweep, which the walks never run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from helpers import report_payload
from webhook_peer import receiving

from app.common.clock import now
from app.common.signed_http import new_secret
from app.extensions import db
from app.org.queries import user_by_username
from app.webhooks.models import WebhookDelivery
from workers.jobs import deliver_webhook

Visits = dict[str, dict[str, tuple[str, ...]]]
ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=6f1c2a9e-0b7d-4c55-9e21-liandong-walk-robot"
HOTLINE = "http://127.0.0.1:9/12355/hotline/call-system/events/from-liandong-county-child-protection"
"""The subscriber's address once the walk's deliveries are made: long and unbroken, as a real one can be (it
must wrap on a phone); port 9 answers nothing, and nothing posts to it during the walks."""


def _ok(resp: Any, status: int = 200) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[-400:])
    return resp.get_json() or {}


def _report(as_user: Any, village: str, name: str, learned_hours_ago: float | None = None) -> dict[str, Any]:
    body = report_payload(village=village, name=name)
    if learned_hours_ago is not None:
        body["report"]["learned_at"] = (now() - timedelta(hours=learned_hours_ago)).isoformat()
    return _ok(as_user("reporter_school").post("/api/v1/reports", json=body), 201)


def _deliver_last() -> str:
    """The newest delivery posted, as the ``notify`` worker would (in a session of its own)."""
    delivery_id = db.session.scalar(sa.select(sa.func.max(WebhookDelivery.id)))
    assert delivery_id is not None
    db.session.commit()  # end this session's read: on SQLite the job's write would wait for it
    return deliver_webhook(delivery_id)


def add_working_week(page: Any, as_user: Any) -> Visits:
    """Make the rows (after the rest of the walk's world, so its pages stay as they were) and return
    user -> page -> () for the pages that show them."""
    _ok(as_user("police_t01").put("/api/v1/notification-channels/preferences", json={
        "kinds": {"new_task": ["email", "chat"], "*": ["email"]}, "quiet": True,
        "chat_url": ROBOT, "chat_secret": new_secret()}))
    admin = as_user("admin")
    created = _ok(admin.post("/api/v1/webhooks", json={
        "name": "12355 热线呼叫系统", "url": HOTLINE, "kinds": ["report.accepted", "task.overdue", "case.closed"],
        "county": "c01"}), 201)
    hook = created["subscription"]["id"]
    with receiving(created["secret"]) as receiver:
        _ok(admin.patch(f"/api/v1/webhooks/{hook}", json={"url": receiver.url}))
        late = _report(as_user, "t01v01", "赵小雨", learned_hours_ago=40)
        assert _deliver_last() == "delivered"
        receiver.fail_next = 1
        _report(as_user, "t01v02", "孙小林")
        assert _deliver_last() == "retry"
    _ok(admin.patch(f"/api/v1/webhooks/{hook}", json={"url": HOTLINE}))

    finding = _ok(as_user("coordinator").post("/api/v1/findings", json={
        "case_id": late["case_id"], "report_id": late["report_id"], "kind": "delayed", "person": "班主任 王老师",
        "knew_since": (now() - timedelta(hours=40)).isoformat(),
        "facts": "班主任周一得知孩子独自在家，周三才报告；学校未按强制报告制度及时上报。"}), 201)

    liaison = page("police_t01")
    for name, query, audience in (("东城镇待办（本单位共享）", "township=t01", "unit"),
                                  ("逾期待办（共享给协调员）", "overdue=1", "coordinators")):
        resp = liaison.post("/inbox/views", {"name": name, "query": query, "shared_with": audience})
        assert resp.status_code == 302, resp.get_data(as_text=True)[-300:]

    school = user_by_username("reporter_school")
    assert school is not None and school.unit_id is not None
    for name, scopes in (("学校信息系统", ["reports:file", "reports:read"]), ("学校旧系统（已停用）", ["reports:file"])):
        account = _ok(admin.post("/api/v1/service-accounts", json={
            "name": name, "unit_id": school.unit_id, "scopes": scopes}), 201)
    _ok(admin.post(f"/api/v1/service-accounts/{account['id']}/revoke"))
    db.session.commit()

    case, report = late["case_id"], late["report_id"]
    return {
        "police_t01": {"/notifications/channels": (), "/notifications/channels/deliveries": ()},
        "coordinator": {"/findings": (), f"/findings/{finding['id']}": (), "/reports/late": (),
                        f"/findings/new?case_id={case}&report_id={report}": ()},
        "education_c01": {"/findings": (), f"/findings/{finding['id']}": ()},
        "admin": {"/admin/webhooks": (), f"/admin/webhooks/{hook}": (), "/admin/webhooks/new": (),
                  "/admin/service-accounts": ()},
    }
