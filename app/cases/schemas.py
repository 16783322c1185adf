"""Marshmallow schemas for reports and cases (REST API)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.cases.models import ChildTag, ReporterType, Situation
from app.common.idempotency import KEY_DESCRIPTION, KEY_LENGTH
from app.common.inputs import Day, Id


class GuardianIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    relation = fields.String(required=True, validate=validate.Length(min=1, max=40),
                             metadata={"description": "e.g. father, mother, grandmother"})
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    working_away = fields.Boolean(load_default=False)
    lives_with_child = fields.Boolean(load_default=False)


class ChildIn(Schema):
    id = Id(metadata={"description": "an existing child's id; the other fields are then ignored"})
    name = fields.String(validate=validate.Length(min=1, max=100))
    sex = fields.String(validate=validate.OneOf(["male", "female"]))
    birth_date = Day()
    id_number = fields.String(validate=validate.Length(max=32))
    village = fields.String(metadata={"description": "village region code"})
    address = fields.String(load_default="", validate=validate.Length(max=300))
    tags = fields.List(fields.String(validate=validate.OneOf([t.value for t in ChildTag])), load_default=list)
    guardians = fields.List(fields.Nested(GuardianIn), load_default=list)

    @validates_schema
    def new_child_is_complete(self, data: dict[str, Any], **_: Any) -> None:
        """Without ``id`` the report brings a new child, who needs a name, sex and village."""
        if data.get("id") is None:
            missing = {name: ["required for a new child (or give the id of a known child)"]
                       for name in ("name", "sex", "village") if not data.get(name)}
            if missing:
                raise ValidationError(missing)


class ReportInfoIn(Schema):
    reporter_type = fields.String(required=True, validate=validate.OneOf([t.value for t in ReporterType]))
    reporter_name = fields.String(load_default="", validate=validate.Length(max=100))
    reporter_phone = fields.String(load_default="", validate=validate.Length(max=40))
    situation = fields.String(required=True, validate=validate.OneOf([s.value for s in Situation]))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))


class ReportIn(Schema):
    child = fields.Nested(ChildIn, required=True)
    report = fields.Nested(ReportInfoIn, required=True)
    idempotency_key = fields.String(validate=validate.Length(min=KEY_LENGTH[0], max=KEY_LENGTH[1]),
                                    metadata={"description": KEY_DESCRIPTION + " For a report the first result "
                                              "is its case (`created: false`)."})
    confirm_duplicate = fields.Boolean(load_default=False, metadata={
        "description": "file the report although the same person reported the same child minutes ago "
                       "(a report without a key is otherwise held and answered with `possible_duplicate_of`)"})


class DuplicateOut(Schema):
    """The earlier ``Report`` a held or flagged report repeats."""

    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number")
    report_id = fields.Integer(attribute="id")
    received_at = fields.DateTime()


class ReportAccepted(Schema):
    """What filing did (``operations.Accepted`` dumped as it is)."""

    case_id = fields.Integer(attribute="case.id")
    case_number = fields.String(attribute="case.number")
    created = fields.Boolean(metadata={"description": "false: nothing new was filed; the case is the first "
                                                      "result of this key, or the possible duplicate"})
    status = fields.String(attribute="case.status")
    possible_duplicate_of = fields.Nested(DuplicateOut, allow_none=True, metadata={
        "description": "a report the same person filed in the last minutes about the same child (setting "
                       "LIANDONG_DUPLICATE_REPORT_MINUTES, default 10). Without `confirm_duplicate` nothing "
                       "was filed (200, `created: false`, the case is that report's); with it the new case "
                       "was opened and flagged (201)"})


class UnitOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class GuardianOut(Schema):
    name = fields.String()
    relation = fields.String()
    phone = fields.String()
    working_away = fields.Boolean()
    lives_with_child = fields.Boolean()


class ChildOut(Schema):
    id = fields.Integer()
    name = fields.String()
    sex = fields.String()
    birth_date = fields.Date(allow_none=True)
    id_number = fields.String(allow_none=True)
    village = fields.String()
    township = fields.String()
    tags = fields.List(fields.String())
    guardians = fields.List(fields.Nested(GuardianOut))


class OpenTaskOut(Schema):
    id = fields.Integer()
    bpmn_id = fields.String()
    name = fields.String()
    unit = fields.Nested(UnitOut, allow_none=True)
    assignee = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()


class TimelineOut(Schema):
    at = fields.DateTime()
    kind = fields.String()
    summary = fields.String()
    actor = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    detail = fields.Dict()


class TimerIncidentOut(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    case_id = fields.Integer()
    bpmn_id = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "no_due_time (the timer's time cannot be computed) or "
                                                  "fire_failed (firing it failed; it backs off)"})
    reason = fields.String()
    attempts = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class InstanceOut(Schema):
    id = fields.Integer()
    process = fields.String()
    version = fields.Integer()
    status = fields.String()
    end_event = fields.String(allow_none=True)
    incidents = fields.List(fields.Nested(TimerIncidentOut), metadata={
        "description": "open timer incidents (shown to admins, process designers and coordinators)"})


class ReportOut(Schema):
    id = fields.Integer()
    reporter_type = fields.String()
    reporter_name = fields.String()
    reporter_unit = fields.String(allow_none=True)
    situation = fields.String()
    description = fields.String(allow_none=True, metadata={
        "description": "the report's narrative; null without need to know for harm details"})
    received_at = fields.DateTime()


class CaseOut(Schema):
    id = fields.Integer()
    number = fields.String()
    kind = fields.String(metadata={"description": "protection (from a report), care (a child's programme file), "
                                                  "work (a township's or the county's work file)"})
    title = fields.String()
    status = fields.String()
    situation = fields.String()
    grade = fields.String(allow_none=True)
    help_tier = fields.String(allow_none=True)
    opened_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    child = fields.Nested(ChildOut, allow_none=True)
    reports = fields.List(fields.Nested(ReportOut))
    open_tasks = fields.List(fields.Nested(OpenTaskOut))
    instances = fields.List(fields.Nested(InstanceOut))
    timeline = fields.List(fields.Nested(TimelineOut))
    access = fields.String(metadata={"description": "why you may see this case: county, jurisdiction, unit, reporter"})
