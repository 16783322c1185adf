"""Subscribers' signing secrets sealed at rest (issue 16's leftovers, part 2): the database holds no plaintext,
deliveries still verify at a real receiver, keys rotate without the receivers noticing, nothing is logged."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade
from helpers import report_payload, submit_report
from webhook_peer import receiving

from app import create_app
from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.common import sealed
from app.config import Settings, SettingsError
from app.extensions import db
from app.org.queries import user_by_username
from app.webhooks import operations
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from workers.jobs import deliver_webhook

BEFORE = "c3f8a1d6e2b9"
"""The revision before the secrets were sealed (``e8b2d4f6a1c3``)."""
NEW = {"name": "12355 call system", "url": "https://hotline.example.gov.cn/hook", "kinds": ["report.accepted"],
       "county": "c01"}


def _stored() -> list[str]:
    """What the database itself holds for every subscriber, every column as text."""
    rows = db.session.execute(sa.text("SELECT * FROM webhook_subscription")).all()
    return [" ".join(str(value) for value in row) for row in rows]


def test_the_column_holds_no_plaintext_and_a_real_receiver_verifies_the_delivery(
        as_user: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin = as_user("admin")
    body = admin.post("/api/v1/webhooks", json=NEW).get_json()
    secret, sub_id = body["secret"], body["subscription"]["id"]
    raw = secret.removeprefix("whsec_")
    stored = _stored()
    assert len(stored) == 1 and secret not in stored[0] and raw not in stored[0]
    assert base64.b64decode(raw).hex() not in stored[0]
    assert "secret" not in admin.get(f"/api/v1/webhooks/{sub_id}").get_json()

    with receiving(secret) as receiver:
        assert admin.patch(f"/api/v1/webhooks/{sub_id}", json={"url": receiver.url}).status_code == 200
        submit_report(as_user("reporter_school"))
        [row] = db.session.scalars(sa.select(WebhookDelivery)).all()
        assert deliver_webhook(row.id) == "delivered"
    assert [a.verified for a in receiver.arrivals] == [True] and len(receiver.events) == 1

    rotated = admin.post(f"/api/v1/webhooks/{sub_id}/secret").get_json()["secret"]
    assert rotated != secret and all(rotated not in text and secret not in text for text in _stored())
    logged = caplog.text
    assert secret not in logged and raw not in logged and rotated not in logged


def test_keys_rotate_without_the_receivers_noticing(demo: Any, keys: Any, app: Flask) -> None:
    old, new = sealed.new_key(), sealed.new_key()
    keys(old)
    sub, secret = operations.subscribe(user_by_username("admin"), name="hotline", url="http://127.0.0.1:9/x",
                                       kinds=["report.accepted"], county="c01")
    db.session.commit()
    sealed_under_old = sub.secret_sealed

    keys(f"{new},{old}")  # a new key first: old values still open, new ones are sealed under it
    assert sub.signing_secret == secret
    result = app.test_cli_runner().invoke(args=["webhooks", "keys", "reseal"])
    assert result.exit_code == 0 and result.output.startswith("1 secrets sealed"), result.output
    db.session.expire_all()
    assert sub.secret_sealed != sealed_under_old and secret not in sub.secret_sealed

    keys(new)  # the old key dropped: the resealed secret still signs, and a receiver still verifies it
    with receiving(secret) as receiver:
        operations.change(None, sub, url=receiver.url)
        db.session.commit()
        submit_report_as_school()
        [row] = db.session.scalars(sa.select(WebhookDelivery)).all()
        assert deliver_webhook(row.id) == "delivered"
    assert [a.verified for a in receiver.arrivals] == [True]

    keys(old)  # a value no configured key opens: a failed attempt saying why, nothing posted, no secret shown
    db.session.expire_all()
    operations.redeliver(None, row)
    db.session.commit()
    with receiving(secret) as receiver:
        operations.change(None, sub, url=receiver.url)
        db.session.commit()
        assert deliver_webhook(row.id) == "retry"
    db.session.expire_all()
    assert receiver.arrivals == [] and "LIANDONG_ENCRYPTION_KEYS" in (row.last_error or "")
    assert secret not in (row.last_error or "")
    refused = app.test_cli_runner().invoke(args=["webhooks", "keys", "reseal"])
    assert refused.exit_code == 1 and "LIANDONG_ENCRYPTION_KEYS" in refused.output


def submit_report_as_school() -> None:
    accept_report(ReportIn().load(report_payload("living_alone", "t01v01")), user_by_username("reporter_school"))
    db.session.commit()


@pytest.mark.parametrize("value", ["not-a-key", "c2hvcnQ=", sealed.__name__])
def test_a_malformed_key_stops_the_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"LIANDONG_ENCRYPTION_KEYS": value})
    assert "LIANDONG_ENCRYPTION_KEYS" in str(refused.value) and value not in str(refused.value)


def test_without_keys_the_key_comes_from_the_secret_key(app: Flask, keys: Any) -> None:
    keys("")
    with app.app_context():
        sealed_value = sealed.seal("whsec_x")
        assert sealed.unseal(sealed_value) == "whsec_x"
        keys(sealed.new_key())  # another key: the value sealed under the derived one no longer opens
        with pytest.raises(sealed.SealError):
            sealed.unseal(sealed_value)
    assert WebhookSubscription.__table__.c.keys() and "secret" not in WebhookSubscription.__table__.c


def test_the_migration_seals_the_secrets_already_stored_and_downgrade_opens_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIANDONG_ENCRYPTION_KEYS", raising=False)
    key = sealed.new_key()
    app = create_app({"database_url": f"sqlite:///{tmp_path / 'liandong.db'}", "instance_dir": tmp_path,
                      "testing": True, "redis_url": None, "inline_loop": False, "encryption_keys": key})
    plain = "whsec_" + base64.b64encode(b"k" * 32).decode()
    with app.app_context():  # its own engine: the test session is bound to the suite's database
        upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO webhook_subscription (id, name, url, secret, kinds, county_code, active, created_at, "
                "updated_at) VALUES (1, 'hotline', 'https://h.example/x', :secret, ',report.accepted,', 'c01', 1, "
                "'2026-11-30 00:00:00', '2026-11-30 00:00:00')"), {"secret": plain})
        upgrade()
        with db.engine.connect() as connection:
            stored = connection.execute(sa.text("SELECT secret_sealed FROM webhook_subscription")).scalar_one()
        assert plain not in stored and plain.removeprefix("whsec_") not in stored
        assert sealed.unseal(stored) == plain
        downgrade(revision=BEFORE)
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT secret FROM webhook_subscription")).scalar_one() == plain
        db.engine.dispose()
