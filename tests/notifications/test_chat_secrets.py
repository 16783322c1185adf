"""Users' work-chat robot secrets sealed at rest, as webhook subscribers' are (``app.common.sealed``): the
database holds no plaintext, the robot still verifies each message, ``flask webhooks keys reseal`` rotates
them too, and a secret no configured key opens fails the attempt instead of posting unsigned."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade
from webhook_peer import Receiver, receiving

from app import create_app
from app.common import sealed
from app.common.signed_http import new_secret
from app.deadlines.quiet_hours import describe
from app.extensions import db
from app.notifications.delivery import DeliveryFailure, deliver
from app.notifications.models import ChannelAddress, Delivery
from app.notifications.operations import notify
from app.org.queries import user_by_username

ROBOT_SECRET = new_secret()
BEFORE = "e8b2d4f6a1c3"
"""The revision before the robots' secrets were sealed (``b7d3e9a2c5f1``)."""


@pytest.fixture
def robot(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with receiving(ROBOT_SECRET) as peer:
        monkeypatch.setattr(app.config["LIANDONG"], "chat_url_prefixes", [peer.url.rsplit("/", 1)[0] + "/"])
        yield peer


def _stored() -> str:
    return " ".join(str(v) for row in db.session.execute(sa.text("SELECT * FROM notification_address")) for v in row)


def _message_to(username: str) -> Delivery:
    user = user_by_username(username)
    assert user is not None
    notify([user], "task_reassigned", "C01: 受理研判")
    db.session.expire_all()
    return db.session.scalars(sa.select(Delivery).where(Delivery.user_id == user.id, Delivery.channel == "chat")
                              .order_by(Delivery.id.desc())).first()  # type: ignore[return-value]


def test_the_column_holds_no_plaintext_and_the_robot_verifies_the_message(as_user: Any, robot: Receiver) -> None:
    chosen = as_user("police_t01").put("/api/v1/notification-channels/preferences", json={
        "kinds": {"*": ["chat"]}, "quiet": False, "chat_url": robot.url, "chat_secret": ROBOT_SECRET})
    assert chosen.status_code == 200 and chosen.get_json()["chat_secret_set"] is True
    stored = _stored()
    raw = ROBOT_SECRET.removeprefix("whsec_")
    assert robot.url in stored and ROBOT_SECRET not in stored and raw not in stored
    assert base64.b64decode(raw).hex() not in stored
    assert deliver(_message_to("police_t01").id, describe) == "sent"
    assert [a.verified for a in robot.arrivals] == [True]


def test_reseal_rotates_them_and_an_unopenable_secret_is_never_posted(
        as_user: Any, robot: Receiver, keys: Any, app: Flask) -> None:
    old, new = sealed.new_key(), sealed.new_key()
    keys(old)
    assert as_user("police_t01").put("/api/v1/notification-channels/preferences", json={
        "kinds": {"*": ["chat"]}, "quiet": False, "chat_url": robot.url,
        "chat_secret": ROBOT_SECRET}).status_code == 200
    user = user_by_username("police_t01")
    assert user is not None
    address = db.session.get(ChannelAddress, (user.id, "chat"))
    assert address is not None and address.signing_secret == ROBOT_SECRET
    under_old = address.secret_sealed

    keys(f"{new},{old}")
    result = app.test_cli_runner().invoke(args=["webhooks", "keys", "reseal"])
    assert result.exit_code == 0 and "1 work-chat robot secrets" in result.output, result.output
    db.session.expire_all()
    assert address.secret_sealed not in (under_old, None) and ROBOT_SECRET not in str(address.secret_sealed)

    keys(new)  # the old key dropped: the resealed secret still signs
    assert deliver(_message_to("police_t01").id, describe) == "sent"
    assert [a.verified for a in robot.arrivals] == [True]

    keys(old)  # no configured key opens it: the attempt fails saying why, and nothing reaches the robot
    row = _message_to("police_t01")
    with pytest.raises(DeliveryFailure, match="LIANDONG_ENCRYPTION_KEYS"):
        deliver(row.id, describe)
    db.session.expire_all()
    assert len(robot.arrivals) == 1 and row.state == "queued" and row.attempts == 1
    assert "LIANDONG_ENCRYPTION_KEYS" in (row.last_error or "") and ROBOT_SECRET not in (row.last_error or "")
    refused = app.test_cli_runner().invoke(args=["webhooks", "keys", "reseal"])
    assert refused.exit_code == 1 and "LIANDONG_ENCRYPTION_KEYS" in refused.output


def test_the_migration_seals_the_secrets_already_stored_and_downgrade_opens_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIANDONG_ENCRYPTION_KEYS", raising=False)
    app = create_app({"database_url": f"sqlite:///{tmp_path / 'liandong.db'}", "instance_dir": tmp_path,
                      "testing": True, "redis_url": None, "inline_loop": False, "encryption_keys": sealed.new_key()})
    with app.app_context():  # its own engine: the test session is bound to the suite's database
        upgrade(revision=BEFORE)
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO user_account (id, username, display_name, active, locale, email_frequency, created_at, "
                "session_epoch) VALUES (1, 'u', 'u', 1, 'zh_CN', 'never', '2026-11-30 00:00:00', 0)"))
            connection.execute(sa.text(
                "INSERT INTO notification_address (user_id, channel, address, secret, updated_at) VALUES "
                "(1, 'chat', 'https://robot.example/x', :secret, '2026-11-30 00:00:00'), "
                "(1, 'sms', '+8613800000001', NULL, '2026-11-30 00:00:00')"), {"secret": ROBOT_SECRET})
        upgrade()
        with db.engine.connect() as connection:
            stored = dict(connection.execute(sa.text("SELECT channel, secret_sealed FROM notification_address")).all())
        assert stored["sms"] is None and ROBOT_SECRET not in stored["chat"]
        assert sealed.unseal(stored["chat"]) == ROBOT_SECRET
        downgrade(revision=BEFORE)
        with db.engine.connect() as connection:
            back = dict(connection.execute(sa.text("SELECT channel, secret FROM notification_address")).all())
        assert back == {"chat": ROBOT_SECRET, "sms": None}
        db.engine.dispose()
