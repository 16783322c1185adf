"""What a timeline entry says, in the reader's language.

A timeline entry stores a short ``summary`` (step names as drawn in the BPMN,
codes as in the API) and a ``detail`` dict. Pages do not print the summary
as-is: it was written by whichever command recorded the entry, in no
particular language. ``timeline_text`` composes the sentence from the kind
and the detail with the reader's catalog, and falls back to the summary for
kinds it has no sentence for (and for entries recorded before a kind's detail
carried what the sentence needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext

from app.common.labels import label
from app.org.labels import department_name


def _get(entry: Any, key: str) -> Any:
    return entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)


def timeline_text(entry: Any) -> str:
    """The sentence for a ``TimelineEntry`` (or a dict with kind, summary and detail)."""
    kind, summary = _get(entry, "kind") or "", _get(entry, "summary") or ""
    detail: Mapping[str, Any] = _get(entry, "detail") or {}
    task = detail.get("task")
    if kind == "report_received" and detail.get("situation"):
        return gettext("From %(reporter)s: %(situation)s", reporter=label("reporter_type", detail.get("reporter_type")),
                       situation=label("situation", detail["situation"])) + _late(detail)
    if kind == "report_added" and detail.get("situation"):
        return gettext("Another report, from %(reporter)s: %(situation)s",
                       reporter=label("reporter_type", detail.get("reporter_type")),
                       situation=label("situation", detail["situation"])) + _late(detail)
    if kind == "case_closed" and detail.get("end_name"):
        return gettext("Ended: %(end)s", end=detail["end_name"])
    if not task:
        return str(summary)
    if kind == "task_completed":
        return gettext("%(task)s, completed late", task=task) if detail.get("late") else str(task)
    if kind == "task_unrouted":
        return gettext("%(task)s: no %(department)s serves this area", task=task,
                       department=department_name(detail.get("department_kind")))
    if kind == "task_cancelled":
        reason = detail.get("reason")
        return f"{task}: {reason}" if reason else gettext("%(task)s, withdrawn by the process", task=task)
    if kind == "task_reassigned" and detail.get("to"):
        return gettext("%(task)s, reassigned to %(user)s", task=task, user=detail["to"])
    if kind in ("task_overdue", "task_escalated") and detail.get("step"):
        return f"{task}: {label('escalation_step', detail['step'])}"
    if kind in ("task_claimed", "task_unclaimed"):
        return str(task)
    return str(summary)


def _late(detail: Mapping[str, Any]) -> str:
    """A late report says so, with the hours it took against the hours allowed (``cases.lateness``)."""
    if not detail.get("late"):
        return ""
    return gettext(" (late: reported %(taken)s hours after learning of it; the limit is %(allowed)s hours)",
                   taken=detail.get("hours_to_report"), allowed=detail.get("late_report_hours"))
