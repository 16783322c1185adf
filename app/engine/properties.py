"""The ``<spiffworkflow:property name=...>`` extension properties Liandong reads on a user task, named once.

Every Python reader takes the names from here (the engine's plain task types, the task projection,
validation, test runs, migration); the designer's side panel gets them from the server
(``SIDE_PANEL_PROPERTIES`` in the page's setup JSON, ``tests/processes/test_property_names.py``).
The engine is the lowest package every one of them may import. Values starting with ``=`` are
expressions over the case data, evaluated when the task opens (routing a conference action to the
department chosen at the conference).
"""

from __future__ import annotations

FORM = "formJsonSchemaFilename"
"""The JSON Schema form the step shows (a path inside the bundle's ``forms/``)."""
UI_FORM = "formUiSchemaFilename"
DEADLINE = "deadline"
"""An ISO 8601 duration or ``NWD`` working days (``app.deadlines.arithmetic``)."""
INSTRUCTIONS = "instructions"
DEPARTMENT = "department"
"""A department kind that overrides the lane."""
ESCALATION = "escalation"
"""The step's own escalation ladder (``app.deadlines.ladder.parse_escalation``)."""

SIDE_PANEL_PROPERTIES = (DEPARTMENT, FORM, DEADLINE, INSTRUCTIONS, ESCALATION)
"""What the side panel sets per user task (the lane itself is renamed to a department kind)."""

EXPRESSION_PREFIX = "="
"""A property value starting with ``=`` is an expression over the task data (e.g. ``=action_department``)."""


def is_expression(value: str) -> bool:
    return value.startswith(EXPRESSION_PREFIX)
