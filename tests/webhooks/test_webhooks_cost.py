"""What webhooks cost a command: nothing without a subscriber of the kind, two statements with subscribers
(the county's code, one INSERT ... SELECT for all of them), however many subscribe."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from helpers import report_payload

from app.cases.operations import accept_report
from app.cases.schemas import ReportIn
from app.extensions import db
from app.org.queries import user_by_username
from app.webhooks import operations, outbox


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split())[:80])

    # The session's identity map holds its objects weakly: whether a region or unit loaded earlier is still
    # there (no SELECT) or was collected (one SELECT) depends on when the cyclic garbage collector last ran,
    # which depends on everything the worker did before this test. Collect first and not during the count,
    # so every measured report starts from the same identity map.
    gc.collect()
    gc.disable()
    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
        gc.enable()


def _extra(more: list[str], base: list[str]) -> list[str]:
    """The statements ``more`` has beyond ``base`` (a multiset difference), for the failure message."""
    return sorted((Counter(more) - Counter(base)).elements())


def _file() -> list[str]:
    payload = ReportIn().load(report_payload("living_alone", "t01v01"))
    reporter = user_by_username("reporter_school")
    with _statements() as seen:
        accept_report(payload, reporter)
        db.session.flush()
    db.session.commit()
    return seen


def _subscribe(kinds: list[str], county: str = "c01") -> None:
    operations.subscribe(None, name="peer", url="http://127.0.0.1:9/hook", kinds=kinds, county=county)
    db.session.commit()
    outbox.subscribed_kinds()  # warm, as any earlier event in the process would have


def test_a_report_costs_nothing_more_without_a_subscriber_of_its_kind_and_two_statements_with_any(
        demo: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(outbox, "TTL", 3600.0)  # a slow worker must not see the kinds' cache expire mid-test
    _file()  # warm the process's caches (spec, forms)
    none = _file()
    _subscribe(["case.closed"])
    other_kind = _file()
    _subscribe(["report.accepted"])
    one = _file()
    for county in ("c01", "*", "c01"):
        _subscribe(["report.accepted", "task.opened"], county)
    four = _file()
    assert len(other_kind) == len(none), _extra(other_kind, none)
    extra = [s for s in one if "webhook" in s]
    assert len(one) == len(none) + 2 and len(extra) == 1 and extra[0].startswith("INSERT INTO webhook_delivery"), _extra(one, none)
    opened = [s for s in four if s.startswith("INSERT INTO webhook_delivery")]
    assert len(opened) == 2 and len(four) == len(none) + 3, _extra(four, none)  # report.accepted, task.opened; one county lookup
    assert db.session.scalar(sa.text("SELECT count(*) FROM webhook_delivery WHERE kind = 'report.accepted'")) == 1 + 4
