"""Answers of the designer's test runs in the sandbox (``testruns``): the run as it is stored, with its ready
steps marked overdue on the run's own clock."""

from __future__ import annotations

from marshmallow import fields

from app.common.endpoints import ObjectOut, list_of

from .testruns import ready_forms, ready_steps, run_clock


class TestRunOut(ObjectOut):
    """A ``SandboxRun``."""

    computed = {"ready": ready_steps, "clock_at": lambda run: run_clock(run).isoformat(), "forms": ready_forms}

    id = fields.Integer()
    draft_id = fields.Integer()
    status = fields.String()
    content_hash = fields.String()
    start_data = fields.Dict()
    data = fields.Dict()
    path = fields.List(fields.Dict())
    ready = fields.List(fields.Dict(), metadata={"description": "the run's ready user tasks, with `overdue`"})
    clock_at = fields.String(metadata={"description": "the run's own clock (ISO 8601)"})
    timers = fields.List(fields.Dict())
    error = fields.String(allow_none=True)
    started_at = fields.DateTime()
    updated_at = fields.DateTime()
    forms = fields.Dict(metadata={"description": "form path -> JSON Schema, for the ready tasks"})


TestRunPage = list_of(TestRunOut, "TestRunPage")
