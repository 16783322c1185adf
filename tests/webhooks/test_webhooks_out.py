"""Webhooks out (issue 16, part 5): domain events become signed deliveries written in the command's
transaction, posted to a real receiver on a local port, retried with backoff, de-duplicated by event id."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import open_case, sweep, tasks_of
from flows.scenarios import SCENARIOS
from helpers import report_payload, unit_user
from webhook_peer import Receiver, receiving

from app.cases.models import Case
from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.extensions import db
from app.org.queries import user_by_username
from app.webhooks import operations
from app.webhooks.delivery import BACKOFF, MAX_ATTEMPTS
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from workers.jobs import deliver_webhook

CHILD, NARRATIVE = "李小明", "孩子连续三天独自在家。"


def _subscribe(url: str, kinds: list[str], county: str = "c01", active: bool = True) -> tuple[WebhookSubscription, str]:
    # The demo's administrator is c01's: another county or every county (``*``) is the operator's (the CLI's).
    actor = user_by_username("admin") if county == "c01" else None
    sub, secret = operations.subscribe(actor, name="12355 call system", url=url, kinds=kinds, county=county,
                                       active=active)
    db.session.commit()
    return sub, secret


def _deliveries(sub_id: int | None = None) -> list[WebhookDelivery]:
    db.session.expire_all()
    stmt = sa.select(WebhookDelivery).order_by(WebhookDelivery.id)
    if sub_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == sub_id)
    return list(db.session.scalars(stmt))


def _file(village: str = "t01v01") -> Case:
    case, _ = accept_report(ReportIn().load(report_payload("living_alone", village)), user_by_username("reporter_school"))
    db.session.commit()
    return case


def _repoint(sub: WebhookSubscription, receiver: Receiver, secret: str) -> None:
    """The subscriber's URL is the receiver's port, its secret the receiver's (both known only now)."""
    receiver.secret = secret
    operations.change(None, sub, url=receiver.url)
    db.session.commit()


def test_report_accepted_is_signed_retried_after_a_500_and_deduplicated(demo: Any, clock: Any) -> None:
    with receiving("whsec_placeholder") as receiver:
        sub, secret = _subscribe("http://127.0.0.1:9/unused", ["report.accepted"])
        _repoint(sub, receiver, secret)
        case = _file()
        [row] = _deliveries()
        assert (row.kind, row.status, row.attempts, row.case_id) == ("report.accepted", "pending", 0, case.id)
        body = json.loads(row.body)
        assert body["type"] == "report.accepted" and body["county"] == "c01" and body["id"] == row.event_id
        assert body["data"]["case"]["id"] == case.id and body["data"]["case"]["region"] == "t01v01"
        assert body["data"]["links"]["case_api"] == f"/api/v1/cases/{case.id}"
        assert CHILD not in row.body and NARRATIVE not in row.body and "王老师" not in row.body

        receiver.fail_next = 1
        assert deliver_webhook(row.id) == "retry"
        [row] = _deliveries()
        assert (row.status, row.attempts, row.response_status, row.last_error) == ("pending", 1, 500, "HTTP 500")
        assert row.next_attempt_at == clock.at + timedelta(seconds=BACKOFF[0])
        assert deliver_webhook(row.id) == "not_due" and len(receiver.arrivals) == 1  # backoff holds

        clock.advance(seconds=BACKOFF[0])
        assert sweep()["webhooks"] == 1
        [row] = _deliveries()
        assert (row.status, row.attempts, row.response_status, row.last_error) == ("delivered", 2, 204, None)
        assert deliver_webhook(row.id) == "already"

        operations.redeliver(user_by_username("admin"), row)  # an admin sends it again: same event id
        db.session.commit()
        assert deliver_webhook(row.id) == "delivered"

    assert [a.status for a in receiver.arrivals] == [500, 204, 204]
    assert all(a.verified for a in receiver.arrivals)
    assert {a.headers["webhook-id"] for a in receiver.arrivals} == {row.event_id}
    assert list(receiver.events) == [row.event_id]  # three posts, one event for the receiver


def test_a_rolled_back_command_leaves_no_delivery_and_sends_nothing(demo: Any) -> None:
    with receiving("x") as receiver:
        sub, secret = _subscribe("http://127.0.0.1:9/unused", ["report.accepted"])
        _repoint(sub, receiver, secret)
        accept_report(ReportIn().load(report_payload("living_alone")), user_by_username("reporter_school"))
        assert len(_pending_in_session()) == 1  # written in the command's transaction ...
        db.session.rollback()  # ... and gone with it
        assert _deliveries() == []
        assert sweep()["webhooks"] == 0
    assert receiver.arrivals == []


def _pending_in_session() -> list[int]:
    return list(db.session.scalars(sa.select(WebhookDelivery.id)))


def test_subscribers_get_only_their_kinds_their_county_and_nothing_while_paused(demo: Any) -> None:
    c01, _ = _subscribe("http://127.0.0.1:9/a", ["report.accepted"], county="c01")
    everywhere, _ = _subscribe("http://127.0.0.1:9/b", ["report.accepted", "case.closed"], county="*")
    c02, _ = _subscribe("http://127.0.0.1:9/c", ["report.accepted"], county="c02")
    closed_only, _ = _subscribe("http://127.0.0.1:9/d", ["case.closed"], county="c01")
    paused, _ = _subscribe("http://127.0.0.1:9/e", ["report.accepted"], county="c01", active=False)
    _file("t01v01")
    got = {sub.id: [d.kind for d in _deliveries(sub.id)] for sub in (c01, everywhere, c02, closed_only, paused)}
    assert got == {c01.id: ["report.accepted"], everywhere.id: ["report.accepted"], c02.id: [],
                   closed_only.id: [], paused.id: []}
    [a], [b] = _deliveries(c01.id), _deliveries(everywhere.id)
    assert a.event_id == b.event_id and a.body == b.body  # one event, one id, for every subscriber


def test_a_whole_case_sends_completions_and_the_closing(demo: Any) -> None:
    from app.workflow import commands

    sub, _ = _subscribe("http://127.0.0.1:9/unused", ["task.opened", "task.completed", "case.closed"])
    scenario = SCENARIOS["living_alone_parents_reached_good_caring"]
    payload = report_payload(scenario.start["situation"])
    payload["report"]["reporter_type"] = scenario.start["reporter_type"]
    case, _ = accept_report(ReportIn().load(payload), user_by_username("reporter_school"))
    for step in scenario.steps:
        [task] = [t for t in tasks_of(case.id) if t.bpmn_id == step.bpmn_id]
        commands.complete(task, user_by_username(unit_user(step.lane, "t01v01")), dict(step.data))
    db.session.commit()
    kinds = [d.kind for d in _deliveries(sub.id)]
    assert kinds.count("task.completed") == len(scenario.steps) == kinds.count("task.opened")
    assert kinds[-1] == "case.closed" and kinds.count("case.closed") == 1
    completed = json.loads(next(d.body for d in _deliveries(sub.id) if d.kind == "task.completed"))
    task_part = completed["data"]["task"]
    assert task_part["step"] == scenario.steps[0].bpmn_id and task_part["completed_at"]
    assert task_part["unit"]["kind"] == scenario.steps[0].lane
    assert "data" not in task_part and "name" not in task_part  # no form answers, no step text
    for delivery in _deliveries(sub.id):
        assert CHILD not in delivery.body and NARRATIVE not in delivery.body


@pytest.mark.dataset("county")
def test_the_sweep_marking_a_task_overdue_sends_task_overdue(county: Any, clock: Any) -> None:
    sub, _ = _subscribe("http://127.0.0.1:9/unused", ["task.overdue"])
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    clock.advance(minutes=46)
    sweep()  # the reminder: not overdue yet
    assert _deliveries(sub.id) == []
    clock.advance(minutes=15)
    sweep()
    sweep()
    [row] = _deliveries(sub.id)
    body = json.loads(row.body)
    assert body["type"] == "task.overdue" and body["data"]["task"]["id"] == task.id
    assert body["data"]["task"]["escalation_level"] == 2 and body["data"]["task"]["due_at"]


def test_attempts_run_out_then_an_admin_redelivers(demo: Any, clock: Any) -> None:
    with receiving("x") as receiver:
        sub, secret = _subscribe("http://127.0.0.1:9/unused", ["report.accepted"])
        _repoint(sub, receiver, secret)
        receiver.fail_next = MAX_ATTEMPTS
        _file()
        [row] = _deliveries()
        outcomes = []
        for wait in (0, *BACKOFF):
            clock.advance(seconds=wait)
            outcomes.append(deliver_webhook(row.id))
        assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
        [row] = _deliveries()
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
        assert sweep()["webhooks"] == 0  # a failed row waits for an admin
        operations.redeliver(None, row)
        db.session.commit()
        assert deliver_webhook(row.id) == "delivered"
    assert len(receiver.arrivals) == MAX_ATTEMPTS + 1 and len(receiver.events) == 1


def test_a_paused_subscriber_keeps_its_pending_deliveries_until_resumed(demo: Any) -> None:
    with receiving("x") as receiver:
        sub, secret = _subscribe("http://127.0.0.1:9/unused", ["report.accepted"])
        _repoint(sub, receiver, secret)
        _file()
        operations.change(None, sub, active=False)
        db.session.commit()
        [row] = _deliveries()
        assert deliver_webhook(row.id) == "paused" and sweep()["webhooks"] == 0
        operations.change(None, sub, active=True)
        db.session.commit()
        assert sweep()["webhooks"] == 1
    assert len(receiver.events) == 1


def test_bad_subscriber_input_is_refused_with_every_field_named(demo: Any) -> None:
    from app.common.errors import Invalid

    with pytest.raises(Invalid) as refused:
        operations.subscribe(None, name=" ", url="ftp://x", kinds=["case.closed", "child.born"], county="t01v01")
    assert sorted(refused.value.errors) == ["county", "kinds", "name", "url"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) == 0


def test_the_cli_registers_lists_pauses_and_redelivers(demo: Any, app: Any) -> None:
    runner = app.test_cli_runner()
    db.session.commit()
    added = runner.invoke(args=["webhooks", "add", "http://127.0.0.1:9/hook", "--name", "Province platform",
                                "--kind", "report.accepted", "--kind", "case.closed", "--county", "c01"])
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = runner.invoke(args=["webhooks", "list"])
    assert "Province platform" in listed.output and "report.accepted,case.closed" in listed.output
    assert secret not in listed.output
    sub_id = int(listed.output.split()[0])
    assert runner.invoke(args=["webhooks", "pause", str(sub_id)]).exit_code == 0
    db.session.expire_all()
    assert db.session.get(WebhookSubscription, sub_id).active is False  # type: ignore[union-attr]
    bad = runner.invoke(args=["webhooks", "add", "file:///etc/passwd", "--name", "x", "--kind", "case.closed",
                              "--county", "c01"])
    assert bad.exit_code != 0 and "url" in bad.output
    missing = runner.invoke(args=["webhooks", "redeliver", "999999"])
    assert missing.exit_code != 0 and "no delivery" in missing.output


def test_a_second_report_about_a_child_with_an_open_case_sends_report_added(demo: Any) -> None:
    sub, _ = _subscribe("http://127.0.0.1:9/unused", ["report.accepted", "report.added"])
    first = report_payload("living_alone", "t01v01", id_number="379999201506010011")
    case, created = accept_report(ReportIn().load(first), user_by_username("reporter_school"))
    assert created
    again = report_payload("living_alone", "t01v01", id_number="379999201506010011")
    same, _ = accept_report(ReportIn().load(again), user_by_username("hotline_12355"))
    db.session.commit()
    assert same.id == case.id  # the child's open case got the report
    rows = _deliveries(sub.id)
    assert [r.kind for r in rows] == ["report.accepted", "report.added"]
    added = json.loads(rows[1].body)["data"]
    assert added["case"]["id"] == case.id and added["report"]["id"] != json.loads(rows[0].body)["data"]["report"]["id"]
