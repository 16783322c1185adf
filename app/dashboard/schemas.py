"""Marshmallow schemas for the dashboard API."""

from __future__ import annotations

from operator import itemgetter

from marshmallow import Schema, fields, validate

from app.common.endpoints import MAX_PER_PAGE, ObjectOut
from app.common.inputs import MAX_COUNT, Day, Id

from .queries import AGEING


class PeriodArgs(Schema):
    start = Day(metadata={"description": "first county-local day (default: 29 days ago)"})
    end = Day(metadata={"description": "last county-local day, inclusive (default: today)"})


class DrillDownArgs(Schema):
    """The drill-down's filters; ``page``/``per_page`` are the pager's (``@blp.paginate``)."""

    kind = fields.String(metadata={"description": "department kind code, or 'none' for unrouted tasks"})
    township = Id(metadata={"description": "township region id"})
    bucket = fields.String(validate=validate.OneOf([key for key, _, _, _ in AGEING]))
    step = fields.String(metadata={"description": "BPMN id of the step"})
    overdue = fields.Boolean(load_default=True)
    due = fields.String(validate=validate.OneOf(["soon"]), metadata={
        "description": "'soon': open tasks due within the next 7 days (not overdue) instead of overdue ones"})


class ExportArgs(PeriodArgs, DrillDownArgs):
    """An export is one file, not a paginated answer: the drill-down's page is an ordinary parameter here."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_COUNT))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class ColumnOut(ObjectOut):
    """A ``Table``'s column: its ``(key, label)``."""

    computed = {"key": itemgetter(0), "label": itemgetter(1)}

    key = fields.String()
    label = fields.String()


class TableOut(Schema):
    """A ``dashboard.queries.Table``."""

    key = fields.String()
    title = fields.String()
    columns = fields.List(fields.Nested(ColumnOut))
    rows = fields.List(fields.Dict())


class DashboardOut(Schema):
    at = fields.DateTime()
    start = fields.DateTime()
    end = fields.DateTime()
    panels = fields.Dict(keys=fields.String(), values=fields.Nested(TableOut))


class TasksOut(TableOut):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class CountiesOut(TableOut):
    at = fields.DateTime()
    start = fields.DateTime()
    end = fields.DateTime()
