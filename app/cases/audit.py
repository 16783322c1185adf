"""Audit rows for every view and change of a child's data.

Rows are only ever inserted; the app has no code path that updates or
deletes them.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from app.common.clock import now
from app.extensions import db

from .models import AuditEvent


def audit(user_id: int | None, action: str, object_type: str, object_id: Any, *,
          case_id: int | None = None, detail: dict[str, Any] | None = None) -> AuditEvent:
    address = (request.remote_addr or "") if has_request_context() else "cli"
    event = AuditEvent(
        at=now(), user_id=user_id, action=action, object_type=object_type, object_id=str(object_id),
        case_id=case_id, address=address, detail=detail or {},
    )
    db.session.add(event)
    return event
