"""The audit log page pages a hundred rows at a time through the shared ``PeekPage``: one row past the
page says whether there is a next one, and the log (which only grows) is never counted."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from app.audit.operations import audit
from app.extensions import db
from app.org.queries import user_by_username


def test_the_log_pages_a_hundred_rows_at_a_time_without_counting(page: Any, demo: Any) -> None:
    police = user_by_username("police_t01")
    assert police is not None
    for i in range(130):
        audit(police.id, "probe", "user", f"probe-{i:03d}")
    db.session.commit()
    coordinator = page("coordinator")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        first = coordinator.get("/audit?action=probe").get_data(as_text=True)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "count(" in s.lower() and "audit_event" in s.lower()], statements
    shown = re.findall(r"probe-(\d{3})", first)
    assert sorted(set(shown), reverse=True) == [f"{i:03d}" for i in range(129, 29, -1)]  # newest first
    assert "page=2" in first and "page=0" not in first  # a next page, no previous one

    second = coordinator.get("/audit?action=probe&page=2").get_data(as_text=True)
    assert sorted(set(re.findall(r"probe-(\d{3})", second)), reverse=True) == [f"{i:03d}" for i in range(29, -1, -1)]
    assert "page=1" in second and "page=3" not in second  # back to the first, nothing after

    past = coordinator.get("/audit?action=probe&page=9").get_data(as_text=True)
    assert re.findall(r"probe-(\d{3})", past) == [] and "page=10" not in past
