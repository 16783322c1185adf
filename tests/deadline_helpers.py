"""Fixtures and helpers for the deadline, escalation, worker and dashboard tests (issue 4).

``county`` loads the demo county and deploys only what these tests use (the
four-in-one process and the timer test diagrams), so they do not depend on
other processes under bpmn/.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from helpers import report_payload

from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


class Api:
    def __init__(self, client: FlaskClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=self.headers, **kw)


def deploy_test_bpmn(name: str) -> Any:
    from app.processes.operations import deploy

    return deploy({f"{name}.bpmn": (DATA / f"{name}.bpmn").read_text(encoding="utf-8")}, {}, note="tests")


def load_county() -> None:
    from app.config import ROOT as APP_ROOT
    from app.org.demo import load_demo
    from app.processes.operations import deploy_folder

    load_demo()
    deploy_folder(APP_ROOT / "bpmn" / "four_in_one", APP_ROOT / "forms", note="tests")
    for name in ("timer_handover", "timer_supervision", "past_deadline"):
        deploy_test_bpmn(name)
    db.session.commit()


@pytest.fixture
def county(ctx: Flask) -> Flask:
    load_county()
    return ctx


@pytest.fixture
def api(app: Flask, county: Flask) -> Any:
    tokens: dict[str, str] = {}

    def make(username: str) -> Api:
        if username not in tokens:
            from app.org.operations import issue_token
            from app.org.queries import user_by_username

            user = user_by_username(username)
            assert user is not None, username
            tokens[username] = issue_token(user, ttl_days=365)  # tests move the clock by months
            db.session.commit()
        return Api(app.test_client(), tokens[username])

    return make


def open_case(process_key: str = "four_in_one", village: str = "t01v01", situation: str = "living_alone",
              **start: Any) -> Any:
    """Open a case on ``process_key`` as the hotline would; returns the Case (committed)."""
    from app.cases.operations import accept_report
    from app.cases.schemas import ReportIn
    from app.org.queries import user_by_username

    payload = ReportIn().load(report_payload(situation, village))
    case, _ = accept_report(payload, user_by_username("hotline_12355"), process_key=process_key)
    if start:
        raise ValueError("use open_case_with_data for start data")
    db.session.commit()
    return case


def tasks_of(case_id: int, state: str | None = "open") -> list[Any]:
    from app.tasks.models import Task

    db.session.expire_all()
    stmt = sa.select(Task).where(Task.case_id == case_id).order_by(Task.id)
    if state:
        stmt = stmt.where(Task.state == state)
    return list(db.session.scalars(stmt))


def escalation_rows(task_id: int | None = None) -> list[Any]:
    from app.deadlines.models import Escalation

    db.session.expire_all()
    stmt = sa.select(Escalation).order_by(Escalation.task_id, Escalation.level)
    if task_id is not None:
        stmt = stmt.where(Escalation.task_id == task_id)
    return list(db.session.scalars(stmt))


def notifications(kind: str | None = None, task_id: int | None = None) -> list[Any]:
    from app.notifications.models import Notification

    db.session.expire_all()
    stmt = sa.select(Notification).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    if task_id is not None:
        stmt = stmt.where(Notification.task_id == task_id)
    return list(db.session.scalars(stmt))


def usernames(user_ids: list[int]) -> set[str]:
    from app.org.models import User

    return set(db.session.scalars(sa.select(User.username).where(User.id.in_(user_ids))))


def sweep() -> dict[str, Any]:
    """One inline sweep as of the test clock (what the in-process loop and `flask deadlines sweep` run)."""
    from workers.jobs import sweep as run

    db.session.commit()
    report = run(inline=True)
    db.session.expire_all()
    return report


# A real SMTP server (aiosmtpd) on a free loopback port, for the mail tests.


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def subjects(self) -> list[str]:
        from email.header import decode_header, make_header

        return [str(make_header(decode_header(m["Subject"]))) for m in self.messages]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """The app's SMTP settings point at a live aiosmtpd on 127.0.0.1 for the test."""
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings = app.config["LIANDONG"]
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_from", "liandong@county.example")
    try:
        yield box
    finally:
        controller.stop()
