"""Tell lower layers about deadlines: how a step's ``deadline`` and ``escalation`` properties are checked
at save and deploy (``app.processes.validation``, which sits below this package)."""

from __future__ import annotations

from app.engine import properties as P
from app.processes.validation import register_value_check

from .arithmetic import parse_deadline
from .ladder import parse_escalation


def check_deadline(value: str) -> None:
    """An ``=expression`` deadline is computed when the step opens; anything else must parse now."""
    if not P.is_expression(value):
        parse_deadline(value)


def connect() -> None:
    """Called once by ``create_app``; registering again replaces the checks."""
    register_value_check(P.DEADLINE, check_deadline)
    register_value_check(P.ESCALATION, parse_escalation)
