"""Writing an audit row: ``audit`` is the one function that does it.

Where rows are written, one rule:

- **A change is audited by the operation that makes it**, in the same flush, so the row commits or
  rolls back with the change (a refused command leaves neither).
- **A read is audited by the entry point that shows it** (page, API endpoint, download, export, CLI):
  only the entry point knows what it revealed and to whom (which page, which basis, which columns).
  Signing in and out are entry-point events too.

``tests/audit/test_audit_rule.py`` holds every ``audit(...)`` call in ``app`` and ``workers`` to this (entry
points as the layering contract defines them). Account administration is ``app.org.administration``.

Rows are only ever inserted; the app has no code path that updates or deletes them.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import sqlalchemy as sa
from flask import has_request_context, request

from app.common.bulk import copy_rows
from app.common.clock import now
from app.extensions import db

from .models import AuditEvent

READ_ACTIONS = frozenset({"view", "list", "search", "download", "export", "print", "login", "login_failed", "logout"})
"""The actions an entry point may record itself: reading, and a session starting or ending."""


def audit(user_id: int | None, action: str, object_type: str, object_id: Any, *,
          case_id: int | None = None, detail: dict[str, Any] | None = None) -> AuditEvent:
    """Add one audit row to the session (flushed with the caller's work, committed by its entry point)."""
    address = (request.remote_addr or "") if has_request_context() else "cli"
    event = AuditEvent(
        at=now(), user_id=user_id, action=action, object_type=object_type, object_id=str(object_id),
        case_id=case_id, address=address, detail=detail or {},
    )
    db.session.add(event)
    return event


AUDIT_COLUMNS = ("at", "user_id", "action", "object_type", "object_id", "case_id", "address", "detail")


@functools.cache
def _insert() -> sa.Insert:
    """Built once: an INSERT's construction costs more than sending it (``audit_statement``)."""
    table = cast(sa.Table, AuditEvent.__table__)
    return sa.insert(table).values({c: sa.bindparam(f"audit_{c}", type_=table.c[c].type) for c in AUDIT_COLUMNS})


def audit_statement(user_id: int | None, action: str, object_type: str, object_id: Any, *,
                    case_id: int | None = None, detail: dict[str, Any] | None = None) -> tuple[sa.Insert, dict[str, Any]]:
    """``audit`` as an INSERT and its parameters (named ``audit_*``), for the caller to send inside a statement it
    sends anyway (a completion's lock: ``tasks.operations.lock_for_completion``), one round trip fewer. The same row,
    under the same rule: the change's transaction commits or rolls back with it, so a command that refuses after
    sending it must not commit."""
    address = (request.remote_addr or "") if has_request_context() else "cli"
    values = {"at": now(), "user_id": user_id, "action": action, "object_type": object_type,
              "object_id": str(object_id), "case_id": case_id, "address": address, "detail": detail or {}}
    return _insert(), {f"audit_{c}": values[c] for c in AUDIT_COLUMNS}


def audit_many(rows: list[dict[str, Any]]) -> int:
    """``audit`` for a batch of changes made together (a scheduler's thousand cycle starts): one INSERT.

    Each row: ``user_id``, ``action``, ``object_type``, ``object_id`` (text), ``case_id``, ``detail``; the
    time and address are this call's, as ``audit`` sets them. Returns how many rows were added.
    """
    if not rows:
        return 0
    address = (request.remote_addr or "") if has_request_context() else "cli"
    at = now()
    copy_rows(AuditEvent, [{**row, "at": at, "address": address} for row in rows])
    return len(rows)
