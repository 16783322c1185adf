"""Static checks of what a BPMN author wrote, answered the way the engine will read it at run time.

Timer expressions are Python in SpiffWorkflow 3.2.0: ``"P5D"`` (in quotes) is a
five-day duration, a bare ``P5D`` is a variable that does not exist, and the
mistake only shows when the timer is reached (spiff-arena#1075). Literal
timer values are parsed here with the engine's own ISO parsers so deploy can
refuse what would fail later.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .sandbox import check_source

_ISO_LIKE = re.compile(r"^(R\d*/)?(P[0-9TYMWDHS.,]+|\d{4}-\d{2}-\d{2})", re.IGNORECASE)


def _parse_literal(kind: str, value: str) -> str | None:
    """None when the engine can read ``value`` for a timer of ``kind``; otherwise why not."""
    text = value.strip()
    try:
        if kind == "timeDuration":
            if not text.upper().startswith("P"):
                return f"{value!r} is not an ISO 8601 duration (e.g. \"PT2H\", \"P3D\")"
            parsed = TimerEventDefinition.parse_iso_duration(text)
            if not parsed:
                return f"{value!r} is an empty duration"
            return None
        if kind == "timeDate":
            if "W" in text.upper():
                TimerEventDefinition.parse_iso_week(text)
                return None
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                return (f"{value!r} has no UTC offset; the engine would read it in the server's local time "
                        "(write e.g. \"2026-05-01T09:00:00+08:00\")")
            return None
        if kind == "timeCycle":
            if not text.upper().startswith("R"):
                return f"{value!r} is not an ISO 8601 repeating interval (e.g. \"R3/PT1H\")"
            TimerEventDefinition.parse_iso_recurring_interval(text)
            return None
    except Exception:  # the engine's parsers raise bare Exception/ValueError/AttributeError
        kind_words = {"timeDuration": "ISO 8601 duration", "timeDate": "ISO 8601 date-time",
                      "timeCycle": "ISO 8601 repeating interval"}[kind]
        return f"{value!r} is not a valid {kind_words}"
    return f"unknown timer kind {kind!r}"


def check_timer(kind: str, expression: str) -> list[str]:
    """Problems with a timer expression (``kind`` is timeDuration, timeDate or timeCycle)."""
    source = expression.strip()
    if not source:
        return ["the timer has no expression"]
    problems = check_source(source, "eval")
    if problems:
        if _ISO_LIKE.match(source):
            return [f"timer expressions are Python: write the ISO value in quotes, \"{source}\""]
        return [f"does not compile in the restricted environment: {p}" for p in problems]
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError):
        if _ISO_LIKE.match(source):
            return [f"timer expressions are Python: write the ISO value in quotes, \"{source}\""]
        return []  # an expression over task data: checked when the timer starts
    if not isinstance(value, str):
        return [f"a timer expression must give a string, not {type(value).__name__} ({source})"]
    problem = _parse_literal(kind, value)
    return [problem] if problem else []
