"""Helpers for the deadline, escalation, worker and dashboard tests (issue 4).

``load_county`` loads the demo county and deploys only what these tests use (the four-in-one process
and the timer test diagrams), so they do not depend on other processes under bpmn/; the ``county``,
``api`` and ``smtp`` fixtures are in tests/conftest.py and tests/peers.py.
"""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from helpers import ApiClient, report_payload

from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


Api = ApiClient
"""The name these tests import; one client class serves ``as_user`` and ``api``."""


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
