"""Marshmallow schemas for conferences (REST API)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.endpoints import Instant
from app.common.inputs import Day, Id, Moment
from app.org.kinds import DEPARTMENT_KINDS

from .models import ConferenceMode

KINDS = validate.OneOf(sorted(DEPARTMENT_KINDS))


class UnitRefIn(Schema):
    unit_id = Id()
    department_kind = fields.String(validate=KINDS)

    @validates_schema
    def one_of(self, data: dict, **_: object) -> None:
        if not data.get("unit_id") and not data.get("department_kind"):
            raise ValidationError("unit_id or department_kind is required")


class AttendeeIn(Schema):
    user_id = Id()
    name = fields.String(validate=validate.Length(max=120))
    unit_id = Id()
    role = fields.String(load_default="", validate=validate.Length(max=60))


class ConferenceIn(Schema):
    case_id = Id(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scheduled_at = Moment(required=True, metadata={"description": "with an offset"})
    mode = fields.String(load_default=ConferenceMode.IN_PERSON.value,
                         validate=validate.OneOf([m.value for m in ConferenceMode]))
    place = fields.String(load_default="", validate=validate.Length(max=300),
                          metadata={"description": "a room, or how to join the call"})
    convening_unit_id = Id(metadata={"description": "defaults to your unit"})
    chair_id = Id()
    chair_name = fields.String(load_default="", validate=validate.Length(max=120))
    invited = fields.List(fields.Nested(UnitRefIn), required=True, validate=validate.Length(min=1, max=30))
    attendees = fields.List(fields.Nested(AttendeeIn), load_default=list, validate=validate.Length(max=100))
    previous_id = Id(metadata={"description": "the conference this one follows up"})


class DecisionIn(UnitRefIn):
    decision = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    deadline = fields.String(validate=validate.Length(max=40),
                             metadata={"description": "ISO 8601 duration (P7D) or working days (5WD)"})
    due_on = Day(metadata={"description": "or a date: due 17:30 county time that day"})

    @validates_schema
    def when(self, data: dict, **_: object) -> None:
        if not data.get("deadline") and not data.get("due_on"):
            raise ValidationError("deadline or due_on is required")


class AttendanceIn(Schema):
    attendee_id = Id(required=True)
    attended = fields.Boolean(required=True)


class MinutesIn(Schema):
    minutes = fields.String(required=True, validate=validate.Length(min=1, max=50_000))
    held_at = Moment()
    attended_unit_ids = fields.List(Id())
    attendance = fields.List(fields.Nested(AttendanceIn), load_default=list)
    decisions = fields.List(fields.Nested(DecisionIn), load_default=list, validate=validate.Length(max=100))


class DecisionsIn(Schema):
    decisions = fields.List(fields.Nested(DecisionIn), required=True, validate=validate.Length(min=1, max=100))


class CancelIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=300))


class ConferenceListArgs(Schema):
    case_id = Id()


class TeamArgs(Schema):
    unit_id = Id(metadata={"description": "defaults to your unit; coordinators may name any"})


class ConferenceUnitRef(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class ActionOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    decision = fields.String()
    department_kind = fields.String()
    unit = fields.Nested(ConferenceUnitRef, allow_none=True)
    deadline = fields.String()
    task_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "open, done, cancelled"})
    due_at = Instant(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    escalation_level = fields.Integer()
    outcome = fields.String(allow_none=True)


class ParticipantUnitOut(Schema):
    unit = fields.Nested(ConferenceUnitRef)
    role = fields.String()
    attended = fields.Boolean(allow_none=True)
    preparation = fields.Dict(allow_none=True)


class AttendeeOut(Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    user_id = fields.Integer(allow_none=True)
    unit = fields.String(allow_none=True)
    attended = fields.Boolean(allow_none=True)


class ConferenceOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    title = fields.String()
    status = fields.String()
    scheduled_at = fields.DateTime()
    mode = fields.String()
    place = fields.String()
    convening_unit = fields.Nested(ConferenceUnitRef)
    chair = fields.String()
    previous_id = fields.Integer(allow_none=True)
    follow_up_ids = fields.List(fields.Integer())
    units = fields.List(fields.Nested(ParticipantUnitOut))
    attendees = fields.List(fields.Nested(AttendeeOut))
    agenda = fields.Dict()
    minutes = fields.String()
    held_at = fields.DateTime(allow_none=True)
    cancel_reason = fields.String()
    actions = fields.List(fields.Nested(ActionOut))
    actions_open = fields.Integer()
    actions_overdue = fields.Integer()
    actions_done = fields.Integer()


class ConferenceBrief(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    title = fields.String()
    status = fields.String()
    scheduled_at = fields.DateTime()
    held_at = fields.DateTime(allow_none=True)
    previous_id = fields.Integer(allow_none=True)


class BriefConferenceRef(Schema):
    id = fields.Integer()
    title = fields.String()
    held_at = fields.DateTime()
    scheduled_at = fields.DateTime()


class ChangeOut(Schema):
    at = fields.DateTime()
    kind = fields.String()
    summary = fields.String()


class TeamCaseOut(Schema):
    case_id = fields.Integer()
    case_number = fields.String()
    subject = fields.String()
    case_status = fields.String()
    grade = fields.String(allow_none=True)
    help_tier = fields.String(allow_none=True)
    last_conference = fields.Nested(BriefConferenceRef, allow_none=True)
    next_conference = fields.Nested(BriefConferenceRef, allow_none=True)
    actions_open = fields.Integer()
    actions_overdue = fields.Integer()
    changes_since_last = fields.Integer()
    recent_changes = fields.List(fields.Nested(ChangeOut))
