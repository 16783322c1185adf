"""The conference pages' forms as the bodies the REST API takes, and their errors in words for people.

The pages build the same bodies as ``POST /api/v1/conferences`` (and ``/minutes``, ``/actions``,
``/cancel``) and validate them with the same marshmallow schemas, so a page and an API call can never
disagree about what is valid. Times typed in the browser are county local time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from app.common.clock import county_zone, local, local_today
from app.common.inputs import bounded_int, bounded_ints

DECISION_FIELDS = ("decision", "department_kind", "deadline", "due_on")
ATTENDEE_FIELDS = ("name", "role")


def local_moment(value: str) -> str:
    """``2026-03-12T14:00`` typed in the county's time as ISO 8601 with its offset (left as typed if
    it is not a date-time, so the schema words the error)."""
    value = value.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=county_zone())
    return moment.isoformat()


def local_input(value: datetime | None) -> str:
    """A stored UTC time as a ``datetime-local`` input shows it."""
    return local(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def tomorrow_morning() -> str:
    """The schedule form's first suggestion: 09:00 tomorrow, county time."""
    day = local_today() + timedelta(days=1)
    return datetime.combine(day, time(9, 0)).strftime("%Y-%m-%dT%H:%M")


def rows(form: MultiDict[str, str], group: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a repeated group (``decisions-3-deadline``), renumbered from 0, empty rows left out."""
    indexes = sorted({n for k in form if k.startswith(f"{group}-") and k.count("-") == 2
                      and (n := bounded_int(k.split("-")[1], 1000)) is not None})
    out = []
    for i in indexes:
        row = {f: form.get(f"{group}-{i}-{f}", "").strip() for f in fields}
        if any(row.values()):
            out.append(row)
    return out


def decisions_body(decision_rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Decision rows as ``DecisionIn`` items: a unit by department kind, a deadline or a due date."""
    return [{k: v for k, v in row.items() if v} for row in decision_rows]


def schedule_body(form: MultiDict[str, str], case_id: int) -> dict[str, Any]:
    """The schedule form as the body of ``POST /api/v1/conferences``."""
    body: dict[str, Any] = {
        "case_id": case_id, "title": form.get("title", "").strip(),
        "scheduled_at": local_moment(form.get("scheduled_at", "")), "mode": form.get("mode") or "in_person",
        "place": form.get("place", "").strip(), "chair_name": form.get("chair_name", "").strip(),
        "invited": [{"department_kind": kind} for kind in form.getlist("invited") if kind],
        "attendees": [{"user_id": u} for u in bounded_ints(form.getlist("attendee_users"))]
                     + [{k: v for k, v in row.items() if v} for row in rows(form, "attendees", ATTENDEE_FIELDS)],
    }
    for key in ("convening_unit_id", "chair_id", "previous_id"):
        if (number := bounded_int(form.get(key))) is not None:
            body[key] = number
    return body


def minutes_body(form: MultiDict[str, str], attendee_ids: list[int]) -> dict[str, Any]:
    """The minutes form as the body of ``POST /api/v1/conferences/<id>/minutes``."""
    body: dict[str, Any] = {
        "minutes": form.get("minutes", "").strip(),
        "attended_unit_ids": bounded_ints(form.getlist("attended_units")),
        "attendance": [{"attendee_id": a, "attended": form.get(f"attended-{a}") == "1"} for a in attendee_ids],
        "decisions": decisions_body(rows(form, "decisions", DECISION_FIELDS)),
    }
    if form.get("held_at", "").strip():
        body["held_at"] = local_moment(form["held_at"])
    return body


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``decisions.0.deadline`` -> messages."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.update(flatten(value, f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
    return out


def _worded(path: str) -> str | None:
    words = {
        "title": gettext("Give the conference a title (at most 200 characters)."),
        "scheduled_at": gettext("Choose a date and time in the future."),
        "held_at": gettext("Not a valid date and time."),
        "minutes": gettext("Write the minutes."),
        "reason": gettext("Say why the conference is called off (at most 300 characters)."),
        "decision": gettext("Write the decision."),
        "deadline": gettext("Write a deadline as working days (5WD) or a duration (P7D), or choose a due date."),
        "due_on": gettext("Not a valid date."),
        "department_kind": gettext("Choose the unit that carries it out."),
        "place": gettext("At most 300 characters."),
        "chair_name": gettext("At most 120 characters."),
    }
    if path == "invited":
        return gettext("Invite at least one other unit.")
    return words.get(path.rsplit(".", 1)[-1])


def friendly(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Field path -> messages for people, in their language; reasons only the server knows (which unit
    serves the case's area) are kept as the operation gave them."""
    out: dict[str, list[str]] = {}
    for path, messages in errors.items():
        if path.endswith("._schema"):  # a decision's "a unit is required" / "a deadline is required"
            base = path[:-len("._schema")]
            for message in messages:
                field = "department_kind" if "unit" in str(message) else "deadline"
                out.setdefault(f"{base}.{field}", []).append(_worded(field) or str(message))
            continue
        worded = _worded(path)
        out.setdefault(path, []).extend([worded] if worded else [str(m) for m in messages])
    return out


__all__ = ["decisions_body", "flatten", "friendly", "local_input", "local_moment", "minutes_body", "rows",
           "schedule_body", "tomorrow_morning"]
