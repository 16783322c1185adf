"""Marshmallow schemas for a user's own notifications (REST API)."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.common.endpoints import page_of


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "new_task, task_reassigned, reminder, overdue, escalation, "
                                                  "conference, report_added, police_handled ..."})
    title = fields.String()
    body = fields.String()
    case_id = fields.Integer(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "null: unread"})


class NotificationArgs(Schema):
    unread = fields.Boolean(metadata={"description": "true: only unread notifications; false: only read ones"})


NotificationPage = page_of(NotificationOut, "NotificationPage")


class MarkedOut(Schema):
    marked = fields.Integer(metadata={"description": "how many notifications changed from unread to read"})
