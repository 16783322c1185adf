"""The ``spiffworkflow:properties`` Liandong reads on a user task, and how each is checked.

These are what the designer's side panel edits. Values starting with ``=`` are
expressions over the case data, evaluated when the task opens (routing a
conference action to the department chosen at the conference).
"""

from __future__ import annotations

from app.deadlines.ladder import (
    ESCALATION_EXAMPLE as ESCALATION_EXAMPLE,  # re-exported: the side panel's hint
)
from app.deadlines.ladder import parse_escalation as parse_escalation  # the rule lives with the ladders

FORM = "formJsonSchemaFilename"
UI_FORM = "formUiSchemaFilename"
DEADLINE = "deadline"
INSTRUCTIONS = "instructions"
DEPARTMENT = "department"
ESCALATION = "escalation"

SIDE_PANEL_PROPERTIES = (DEPARTMENT, FORM, DEADLINE, INSTRUCTIONS, ESCALATION)
"""What the side panel sets per user task (the lane itself is renamed to a department kind)."""


def is_expression(value: str) -> bool:
    return value.startswith("=")
