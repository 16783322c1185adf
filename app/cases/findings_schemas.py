"""Marshmallow schemas for late reports and findings on mandatory reporting (``findings_api``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.common.endpoints import page_of
from app.common.inputs import Day, Id, Moment

from .schemas import UnitOut


class PeriodArgs(Schema):
    """County-local days, both included; either may be left out (the dashboard's numbers link with both)."""

    start = Day(metadata={"description": "first county-local day (YYYY-MM-DD)"})
    end = Day(metadata={"description": "last county-local day (YYYY-MM-DD)"})


class FindingArgs(PeriodArgs):
    unanswered = fields.Boolean(load_default=False, metadata={"description": "only those the supervising unit "
                                                                             "has not answered yet"})


class FindingIn(Schema):
    case_id = Id(required=True, metadata={"description": "the case on which the failure came to light"})
    report_id = Id(metadata={"description": "the late report, for a delay found on one (a report of the case)"})
    kind = fields.String(required=True, validate=validate.OneOf(["failed", "delayed"]), metadata={
        "description": "failed (knew and did not report) or delayed (reported, but late)"})
    reporter_unit_id = Id(metadata={"description": "the mandatory reporter's unit (a school, clinic, village "
                                                   "committee, rescue centre or welfare institution of the case's "
                                                   "county); default: the unit of `report_id`'s filer"})
    person = fields.String(required=True, validate=validate.Length(min=1, max=100),
                           metadata={"description": "who knew: name and post"})
    knew_since = Moment(required=True, metadata={"description": "since when they knew (with an offset)"})
    facts = fields.String(required=True, validate=validate.Length(min=1, max=4000),
                          metadata={"description": "what was found: what they knew, did and when (their "
                                                   "conduct; the supervising unit reads it, not the child's file)"})


class FindingAnswerIn(Schema):
    response = fields.String(required=True, validate=validate.Length(min=1, max=4000),
                             metadata={"description": "what the supervising unit did about it"})


class FindingOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number", allow_none=True)
    report_id = fields.Integer(allow_none=True)
    reporter_unit = fields.Nested(UnitOut)
    person = fields.String()
    knew_since = fields.DateTime()
    facts = fields.String()
    supervising_unit = fields.Nested(UnitOut, metadata={"description": "where the finding was routed"})
    recorded_by = fields.String(attribute="recorded_by.display_name")
    recorded_at = fields.DateTime()
    response = fields.String(allow_none=True)
    responded_by = fields.Function(lambda f: f.responded_by.display_name if f.responded_by else None,
                                   allow_none=True)
    responded_at = fields.DateTime(allow_none=True)


FindingPage = page_of(FindingOut, "FindingPage")


class LateReportOut(Schema):
    report_id = fields.Integer(attribute="id")
    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number", allow_none=True)
    reporter_type = fields.String()
    reporter_name = fields.String()
    reporter_unit = fields.Nested(UnitOut, allow_none=True)
    situation = fields.String()
    learned_at = fields.DateTime()
    received_at = fields.DateTime()
    hours_to_report = fields.Function(lambda r: round((r.received_at - r.learned_at).total_seconds() / 3600, 1))


LateReportPage = page_of(LateReportOut, "LateReportPage")
