"""Marshmallow schemas for programme enrolment and duties (REST API)."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.cases.models import ChildTag
from app.cases.schemas import ChildIn
from app.common.endpoints import Instant, ObjectOut, page_of
from app.common.inputs import Day, Id

from .catalog import DUTIES
from .cycles import CADENCES
from .models import CycleStatus, DutyCycle, EndReason, KeyReason, StartReason
from .period_labels import period_label
from .roster_rows import describe


class EnrolIn(Schema):
    child = fields.Nested(ChildIn, required=True, metadata={"description": "an existing child ({id}) or a new one"})
    tags = fields.List(fields.String(validate=validate.OneOf([t.value for t in ChildTag])), required=True,
                       validate=validate.Length(min=1))
    key_reasons = fields.List(fields.String(validate=validate.OneOf([r.value for r in KeyReason])),
                              load_default=list)
    start_reason = fields.String(load_default=StartReason.NEW_CHILD_FOUND.value,
                                 validate=validate.OneOf([r.value for r in StartReason]))
    started_on = Day()
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class EndIn(Schema):
    end_reason = fields.String(required=True, validate=validate.OneOf([r.value for r in EndReason]))
    ended_on = Day()


class EnrolmentOut(Schema):
    id = fields.Integer()
    child_id = fields.Integer()
    case_id = fields.Integer()
    tags = fields.List(fields.String())
    key_reasons = fields.List(fields.String())
    started_on = fields.Date()
    start_reason = fields.String()
    ended_on = fields.Date(allow_none=True)
    end_reason = fields.String(allow_none=True)
    cycles_cancelled = fields.Integer()


class AssessNowIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500))


class DropoutIn(Schema):
    child_id = Id(required=True)
    school = fields.String(required=True, validate=validate.Length(min=1, max=200))
    left_on = Day()
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class EntrustmentIn(Schema):
    child_id = Id(required=True)
    caregiver_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    relation = fields.String(required=True, validate=validate.Length(min=1, max=40))
    is_relative = fields.Boolean(required=True)
    phone = fields.String(load_default="", validate=validate.Length(max=40))
    agreement_signed_on = Day(metadata={"description": "required for a non-relative (委托监护协议)"})
    filed_with_township = fields.Boolean(load_default=False)
    filed_with_village = fields.Boolean(load_default=False)


def _record(cycle: DutyCycle) -> dict[str, object] | None:
    task = cycle.task
    return task.data if task is not None and task.state == "completed" else None


class CycleOut(ObjectOut):
    """A duty cycle (``DutyCycle`` dumped as it is); its record is its completed task's data."""

    computed = {
        "duty_name": lambda cycle: DUTIES[cycle.duty].name_zh,
        "period_label": lambda cycle: period_label(cycle.period, cycle.period_start),
        "task_id": lambda cycle: cycle.task.id if cycle.task is not None else None,
        "record": _record,
    }

    id = fields.Integer()
    duty = fields.String()
    duty_name = fields.String()
    period = fields.String(metadata={"description": "the period's key: 2026-W48, 2026-11, 2026-Q4, 2026-H2, 2026 ..."})
    period_label = fields.String(metadata={"description": "the period in words, in the language asked for "
                                                          "(Accept-Language): 2026年第4季度 / Q4 2026"})
    child_id = fields.Integer(allow_none=True, metadata={"description": "null: a region's duty (its work file)"})
    trigger = fields.String()
    subject = fields.String()
    case_id = fields.Integer()
    status = fields.String()
    period_start = fields.DateTime()
    due_at = Instant(allow_none=True)
    started_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    missed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    record = fields.Dict(allow_none=True)


class CycleArgs(Schema):
    duty = fields.String(validate=validate.OneOf(sorted(DUTIES)))
    status = fields.String(validate=validate.OneOf([s.value for s in CycleStatus]))
    child_id = Id()
    region = fields.String(metadata={"description": "region code: its villages' children and its work file"})
    since = Day(data_key="from", metadata={
        "description": "first day (county time): cycles whose period overlaps [from, to], both days included"})
    until = Day(data_key="to", metadata={"description": "last day (county time), included"})
    unit_id = Id(metadata={"description": "cycles with a step in this unit's queue"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("the range ends before it starts", field_name="to")


CyclePage = page_of(CycleOut, "CyclePage")


class EntrustmentOut(Schema):
    id = fields.Integer()
    child_id = fields.Integer()
    caregiver_name = fields.String()
    relation = fields.String()
    is_relative = fields.Boolean()
    agreement_signed_on = fields.Date(allow_none=True)
    filed_with_township = fields.Boolean()
    filed_with_village = fields.Boolean()
    status = fields.String(metadata={"description": "pending_check, capable, inadequate, ended"})
    status_since = fields.DateTime()


class ProgrammeOut(Schema):
    child_id = fields.Integer()
    care_case_id = fields.Integer(allow_none=True)
    grade = fields.String(allow_none=True)
    help_tier = fields.String(allow_none=True)
    enrolments = fields.List(fields.Nested(EnrolmentOut))
    entrustments = fields.List(fields.Nested(EntrustmentOut))
    cycles = fields.List(fields.Nested(CycleOut))


class FrequencyIn(Schema):
    duty = fields.String(required=True)
    selector = fields.String(required=True, metadata={"description": "default, key, tag:<tag>, grade:<grade>"})
    cadence = fields.String(required=True, validate=validate.OneOf([*CADENCES, "none"]))


class FrequencyOut(Schema):
    duty = fields.String()
    selector = fields.String()
    cadence = fields.String()
    source = fields.String(metadata={"description": "default or county"})


class RosterFileIn(Schema):
    file = Upload(required=True, metadata={"description": "the county's ledger, .xlsx, in the layout of the export"})


class RosterProblemOut(ObjectOut):
    """A ``roster_rows.Problem``, its column named by the ledger's header."""

    computed = {"column": describe}

    code = fields.String(metadata={"description": "why the row is refused (see docs/conferences-and-duties.md)"})
    column = fields.String(metadata={"description": "the column's header in the ledger, empty for the row"})
    detail = fields.String()


class RosterRowOut(Schema):
    """A ``roster.RowResult``."""

    row = fields.Integer(metadata={"description": "the row's number in the sheet"})
    name = fields.String()
    outcome = fields.String(metadata={"description": "create, update, unchanged or refused"})
    child_id = fields.Integer(allow_none=True)
    changes = fields.List(fields.String(), metadata={"description": "for an update: the columns that change"})
    problems = fields.List(fields.Nested(RosterProblemOut))


class RosterImportOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    status = fields.String(metadata={"description": "checked (dry run done) or imported"})
    rows = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    uploaded_at = fields.DateTime()
    imported_at = fields.DateTime(allow_none=True)


class RosterReportOut(Schema):
    """A roster check or import: ``Beside(plan, roster_import=record)`` (``roster_api.report``)."""

    roster_import = fields.Nested(RosterImportOut, data_key="import")
    rows = fields.List(fields.Nested(RosterRowOut))
