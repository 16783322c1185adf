"""``/readyz``: database, Redis when configured, the sweep's lag and the outbox backlog (issue 11, part 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deadline_helpers import free_port, sweep

from app.extensions import db
from app.notifications.models import EmailOutbox


def test_readyz_turns_503_when_the_sweep_stalls_and_back_when_it_runs(app: Any, ctx: Any, clock: Any,
                                                                      monkeypatch: Any) -> None:
    client = app.test_client()
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok" and body["checks"]["sweep"]["expected"] is False  # tests run no sweep loop
    assert body["checks"]["timers"] == {"ok": True, "open_incidents": 0}

    settings = app.config["LIANDONG"]
    monkeypatch.setattr(settings, "inline_loop", True)  # a sweep is now expected
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["checks"]["sweep"]["last_at"] is None
    sweep()
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.get_json()["checks"]["sweep"]["lag_seconds"] == 0
    clock.advance(seconds=settings.ready_sweep_lag + 1)  # the cron or its workers stopped
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["checks"]["sweep"]["ok"] is False
    assert resp.get_json()["checks"]["sweep"]["lag_seconds"] == settings.ready_sweep_lag + 1
    sweep()
    assert client.get("/readyz").status_code == 200


def test_readyz_reports_the_outbox_backlog_and_a_missing_redis(app: Any, ctx: Any, clock: Any,
                                                              monkeypatch: Any) -> None:
    settings = app.config["LIANDONG"]
    monkeypatch.setattr(settings, "ready_outbox_backlog", 1)
    for n in range(2):
        db.session.add(EmailOutbox(to_address="a@example.org", subject=f"s{n}", body="b",
                                   created_at=clock.now() - timedelta(seconds=settings.ready_outbox_age + 1)))
    db.session.add(EmailOutbox(to_address="a@example.org", subject="new", body="b", created_at=clock.now()))
    db.session.commit()
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["checks"]["outbox"]["backlog"] == 2

    monkeypatch.setattr(settings, "ready_outbox_backlog", 10)
    monkeypatch.setattr(settings, "redis_url", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    sweep_report = sweep()
    assert sweep_report is not None
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 200 and body["status"] == "degraded"  # pages work without Redis
    assert body["checks"]["redis"] == {"configured": True, "ok": False, "error": "ConnectionError"}


def test_readyz_is_503_until_the_schema_is_at_the_migration_head(app: Any, ctx: Any) -> None:
    import sqlalchemy as sa

    client = app.test_client()
    at_head = client.get("/readyz").get_json()["checks"]["migrations"]
    assert at_head["ok"] is True and at_head["database"] == at_head["code"] and len(at_head["code"]) == 1
    [head] = at_head["code"]
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = '57e35035a6d8'"))  # the first one
    db.session.commit()
    try:
        resp = client.get("/readyz")
        assert resp.status_code == 503 and resp.get_json()["status"] == "unavailable"
        assert resp.get_json()["checks"]["migrations"] == {"ok": False, "database": ["57e35035a6d8"],
                                                           "code": [head]}
    finally:
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()
    assert client.get("/readyz").status_code == 200
