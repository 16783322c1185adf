"""The ``spiffworkflow:properties`` Liandong reads on a user task, and how each is checked.

These are what the designer's side panel edits. Values starting with ``=`` are
expressions over the case data, evaluated when the task opens (routing a
conference action to the department chosen at the conference).
"""

from __future__ import annotations

from app.tasks.deadlines import DeadlineSyntaxError, parse_deadline
from app.tasks.ladder import ANCHORS, AUDIENCES, LadderStep

FORM = "formJsonSchemaFilename"
UI_FORM = "formUiSchemaFilename"
DEADLINE = "deadline"
INSTRUCTIONS = "instructions"
DEPARTMENT = "department"
ESCALATION = "escalation"

SIDE_PANEL_PROPERTIES = (DEPARTMENT, FORM, DEADLINE, INSTRUCTIONS, ESCALATION)
"""What the side panel sets per user task (the lane itself is renamed to a department kind)."""

ESCALATION_EXAMPLE = "holder@remind; unit_head@due; coordinator+supervisor@due+1WD"


def is_expression(value: str) -> bool:
    return value.startswith("=")


def parse_escalation(text: str) -> list[LadderStep]:
    """Parse a task's own escalation ladder into the deadlines module's ``LadderStep`` values.

    ``<audience>[+<audience>...]@<remind|due>[+<delay>]``, steps separated by ``;``, e.g.
    ``holder@remind; unit_head@due; coordinator+supervisor@due+1WD``. Audiences, anchors and
    delays are the ones ``app.tasks.ladder`` uses for stored ladders (DESIGN.md: the ladder is
    data, per process or department kind); this property overrides them for one step.
    Raises ``ValueError`` naming the bad part.
    """
    steps: list[LadderStep] = []
    overdue_marked = False
    for raw in text.replace("；", ";").split(";"):
        part = raw.strip()
        if not part:
            continue
        who, at, when = part.partition("@")
        audiences = tuple(a.strip() for a in who.split("+") if a.strip())
        anchor, plus, delay = (x.strip() for x in when.strip().partition("+"))
        if not at or not audiences:
            raise ValueError(f"escalation step {part!r}: expected <who>@<when>, e.g. {ESCALATION_EXAMPLE}")
        unknown = [a for a in audiences if a not in AUDIENCES]
        if unknown:
            raise ValueError(f"escalation step {part!r}: unknown audience {unknown[0]!r}; who one of "
                             f"{', '.join(AUDIENCES)}")
        if anchor not in ANCHORS:
            raise ValueError(f"escalation step {part!r}: <when> must be remind, due or due+<deadline>")
        if plus:
            try:
                parse_deadline(delay)
            except DeadlineSyntaxError as exc:
                raise ValueError(f"escalation step {part!r}: {exc}") from exc
        marks_overdue = anchor == "due" and not overdue_marked
        overdue_marked = overdue_marked or marks_overdue
        name = "remind" if anchor == "remind" else ("overdue" if marks_overdue else "escalation")
        steps.append(LadderStep(level=len(steps) + 1, name=name, anchor=anchor, delay=delay,
                                audiences=audiences, marks_overdue=marks_overdue))
    if not steps:
        raise ValueError("the escalation ladder is empty")
    return steps
