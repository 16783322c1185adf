"""The audit log in words: what each action, kind of record and detail field means, in the reader's language.

A row stores codes and ids (``view``, ``task 12``, ``{"basis": "county"}``) so it stays exact and cheap to
write; the page turns them into sentences a county's reviewer can read aloud: "Viewed · Task: 入户走访 ·
Access: county oversight". Names of people, units and records come from ``Names``, which the page fills
(the log imports neither users nor cases); free text a row carries (a file name, a cancel reason) is shown
only to a reader who may see the case, otherwise "hidden: need to know", as everywhere else.

``tests/audit/test_audit_words.py`` checks that every action written anywhere in ``app`` has words here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.common.labels import label

ACTIONS: dict[str, Any] = {
    "view": _l("Viewed"), "list": _l("Listed"), "search": _l("Searched"),
    "download": _l("Downloaded"), "export": _l("Exported"), "print": _l("Printed"),
    "login": _l("Signed in"), "login_failed": _l("Failed sign-in"), "logout": _l("Signed out"),
    "create": _l("Created a record"), "update": _l("Changed a record"), "claim": _l("Claimed a task"), "unclaim": _l("Released a task"),
    "delete": _l("Deleted a record"),
    "reassign": _l("Reassigned a task"), "complete": _l("Completed a task"), "comment": _l("Commented on a task"),
    "upload": _l("Attached a file"), "user_create": _l("Created an account"),
    "user_update": _l("Changed an account"), "password_reset": _l("Reset a password"),
    "sessions_end": _l("Ended all sessions"), "token_revoke": _l("Revoked an API token"),
    "tokens_revoke": _l("Revoked all API tokens"),
    "service_account_create": _l("Created a service account"),
    "service_account_rotate": _l("Gave a service account a new secret"),
    "service_account_revoke": _l("Revoked a service account"),
    "token_issue": _l("Issued a token to a service account"), "role_grant": _l("Granted a role"),
    "role_revoke": _l("Withdrew a role"), "process_deploy": _l("Deployed a process version"),
    "process_make_current": _l("Made a process version current"),
    "process_release_county": _l("Released a process to a county"),
    "process_migrate": _l("Moved a case to another process version"),
    "process_migration_rollback": _l("Moved a case back to the earlier process version"),
    "merge": _l("Merged two children's files"),
    "unmerge": _l("Undid a merge of children's files"),
    "webhook_create": _l("Registered a webhook subscriber"), "webhook_update": _l("Changed a webhook subscriber"),
    "webhook_secret": _l("Issued a new webhook secret"), "webhook_redeliver": _l("Sent a webhook event again"),
    "absence_set": _l("Set an absence and substitute"), "absence_end": _l("Ended an absence"),
    "handover": _l("Handed a task over for an absence"),
    "channels_change": _l("Changed where notifications go"),
    "admin_refused": _l("Refused: outside the administrator's jurisdiction"),
    "region_create": _l("Created a region"), "region_update": _l("Renamed a region"),
    "unit_create": _l("Created a unit"), "unit_update": _l("Renamed a unit"),
}
"""Every action ``audit(...)`` is called with; an unknown one (a newer release's) is shown as its code."""

OBJECTS: dict[str, Any] = {
    "case": _l("Case"), "task": _l("Task"), "attachment": _l("File"), "conference": _l("Case conference"),
    "user": _l("Account"), "api_token": _l("API token"), "audit": _l("Audit log"), "dashboard": _l("Dashboard"),
    "child_record": _l("Court-ready record"), "enrolment": _l("Care programme"), "programme": _l("Care programme"),
    "dropout": _l("School dropout"), "entrustment": _l("Entrusted care"), "process_spec": _l("Process version"),
    "process_instance": _l("Process of a case"), "child": _l("Child"), "report": _l("Report"),
    "child_merge": _l("Merge of children's files"), "roster": _l("Roster of children"),
    "roster_check": _l("Roster dry run"), "roster_import": _l("Roster import"),
    "webhook": _l("Webhook subscriber"), "webhook_delivery": _l("Webhook delivery"),
    "county_setting": _l("County setting"), "finding": _l("Finding on mandatory reporting"),
    "late_report": _l("Late reports"),
    "saved_view": _l("Saved inbox view"), "duty_cycle": _l("Duty cycles"),
    "service_account": _l("Service account"),
    "choice": _l("Choice of unit, jurisdiction or county"), "failed_jobs": _l("Failed background jobs"),
    "region": _l("Region"), "unit": _l("Unit"),
}

FIELDS: dict[str, Any] = {
    "absence_id": _l("Absence"), "starts_at": _l("From"), "ends_at": _l("Until"),
    "substitute_id": _l("Substitute"), "on_return": _l("At the end"), "handover": _l("Hand-over"),
    "basis": _l("Access"), "page": _l("Page"), "via": _l("Opened from"), "format": _l("Format"),
    "narratives": _l("With report narratives"), "name": _l("File name"), "size": _l("Size"),
    "task_id": _l("Task"), "task": _l("Task"), "comment_id": _l("Comment"),
    "from_user_id": _l("Previous assignee"), "to_user_id": _l("New assignee"), "to": _l("Reassigned to"), "user_id": _l("Account"), "username": _l("User name"),
    "roles": _l("Roles"), "role": _l("Role"), "unit_id": _l("Unit"), "region_id": _l("Jurisdiction"),
    "active": _l("Active"), "count": _l("Number"), "ended": _l("Ended"), "minutes": _l("Minutes recorded"),
    "cancelled": _l("Cancelled, because"), "rows": _l("Rows"), "filters": _l("Filters"),
    "channels": _l("Channels per kind"), "quiet": _l("Quiet hours"), "addresses": _l("Addresses changed"),
    "process_key": _l("Process"), "version": _l("Version"), "previous_version": _l("Previous version"),
    "from_version": _l("From version"), "to_version": _l("To version"), "note": _l("Note"),
    "county": _l("County"), "content_hash": _l("Content fingerprint"), "migration_id": _l("Migration"),
    "from_spec_id": _l("From process version"), "to_spec_id": _l("To process version"),
    "user": _l("User name"), "case": _l("Case"), "action": _l("Action"), "from": _l("From"),
    "start": _l("From"), "end": _l("To"), "kind": _l("Department"), "township": _l("Township"),
    "bucket": _l("Overdue for"), "step": _l("Step"), "overdue": _l("Overdue only"),
    "terms": _l("Search terms"), "added_to_open_case": _l("Added to the open case"),
    "kept_id": _l("Child file kept"), "merged_id": _l("Child file merged"), "case_ids": _l("Cases moved"),
    "reason": _l("Reason"), "counts": _l("Rows per outcome"), "roster_import": _l("Roster import"),
    "subscriber": _l("Subscriber"), "url": _l("Address"), "kinds": _l("Event kinds"), "event_id": _l("Event"),
    "changes": _l("Changed"), "setting": _l("Setting"), "value": _l("Value"), "ids": _l("Rows shown"),
    "answered": _l("Answered"), "unanswered": _l("Not answered yet only"),
    "view": _l("Saved view"), "shared_with": _l("Shared with"),
    "account": _l("Service account"), "client_id": _l("Client ID"), "scopes": _l("Scopes"),
    "tokens_revoked": _l("Tokens revoked"),
    "code": _l("Code"), "level": _l("Level"), "parent": _l("Parent region"), "title": _l("Official name"),
}
"""Detail keys as the rows store them; an unknown key is shown as its words (underscores to spaces)."""

BASES: dict[str, Any] = {
    "county": _l("county oversight"), "jurisdiction": _l("their jurisdiction"),
    "unit": _l("their unit has or had a task"), "reporter": _l("they reported it"),
    "conference": _l("invited to a case conference on it"), "manages": _l("runs the care programme"),
}
PAGES: dict[str, Any] = {
    "case": _l("case file"), "task": _l("task page"), "conference": _l("case conference"),
    "conference_new": _l("scheduling a case conference"), "conference_team": _l("conference team list"),
}

FREE_TEXT = frozenset({"name", "cancelled", "terms", "reason"})
"""Keys whose text was typed about a child (a file's name, why a conference was cancelled, what was searched for,
why two files were merged)."""
HIDDEN_KEYS = frozenset({"before", "after"})
"""Account changes: shown as one line per changed field instead."""


@dataclass
class Names:
    """Display names the page looked up for the ids on one page of rows (one query per kind)."""

    users: dict[int, str] = field(default_factory=dict)
    """id -> "display name (user name)"."""
    people: dict[int, tuple[str, str]] = field(default_factory=dict)
    """id -> (display name, user name), for the "who" column."""
    units: dict[int, str] = field(default_factory=dict)
    regions: dict[int, str] = field(default_factory=dict)
    tasks: dict[int, str] = field(default_factory=dict)
    records: dict[tuple[str, str], str] = field(default_factory=dict)
    """(object_type, object_id) -> name, for records other than users and tasks."""
    departments: dict[str, str] = field(default_factory=dict)
    """Department kind code -> name (dashboard export filters)."""


USER_KEYS = ("user_id", "from_user_id", "to_user_id", "substitute_id")


def ids_in(detail: Mapping[str, Any] | None, keys: Iterable[str]) -> set[int]:
    """Integer ids under ``keys`` in a row's detail, also inside an account change's before/after."""
    found: set[int] = set()
    for part in (detail or {}, *((detail or {}).get(k) or {} for k in HIDDEN_KEYS)):
        if isinstance(part, Mapping):
            found.update(v for k, v in part.items() if k in keys and isinstance(v, int) and not isinstance(v, bool))
    return found


def action_words(action: str) -> str:
    return str(ACTIONS[action]) if action in ACTIONS else action


def object_words(object_type: str) -> str:
    return str(OBJECTS[object_type]) if object_type in OBJECTS else object_type.replace("_", " ")


def _field(key: str) -> str:
    return str(FIELDS[key]) if key in FIELDS else key.replace("_", " ")


def _value(key: str, value: Any, names: Names) -> str:
    lookups: dict[str, Callable[[int], str | None]] = {
        "unit_id": names.units.get, "region_id": names.regions.get, "task_id": names.tasks.get,
        **dict.fromkeys(USER_KEYS, names.users.get),
    }
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if key in lookups and isinstance(value, int):
        return lookups[key](value) or f"#{value}"
    if key == "action":
        return action_words(str(value))
    if key == "kind":
        return names.departments.get(str(value), str(value))
    if key == "township" and str(value).isdigit():
        return names.regions.get(int(value), str(value))
    if key == "basis":
        return str(BASES.get(str(value), value))
    if key == "page":
        return str(PAGES.get(str(value), value))
    if key == "via":
        return str(PAGES.get(str(value), value))
    if key in ("roles", "role"):
        return "、".join(label("role", r) for r in (value if isinstance(value, list) else [value])) or "—"
    if key == "size" and isinstance(value, int):
        return f"{value} B" if value < 1024 else f"{value / 1024:.1f} KB"
    if key == "content_hash":
        return str(value)[:12]
    if isinstance(value, Mapping):
        return "; ".join(f"{_field(k)}: {_value(k, v, names)}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(_value(key, v, names) for v in value)
    return str(value)


def detail_lines(detail: Mapping[str, Any] | None, names: Names, free_text: bool) -> list[tuple[str, str]]:
    """(field, value) lines for a row's detail; account changes as "field: before → after" per changed field.

    ``free_text`` False (the reader may not see the row's case) hides what was typed about a child."""
    detail = detail or {}
    lines = []
    for key, value in detail.items():
        if key in HIDDEN_KEYS:
            continue
        shown = _value(key, value, names) if free_text or key not in FREE_TEXT else gettext("(hidden: need to know)")
        lines.append((_field(key), shown))
    before, after = detail.get("before"), detail.get("after")
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in dict.fromkeys([*before, *after]):
            if before.get(key) != after.get(key):
                lines.append((_field(key), f"{_value(key, before.get(key), names)} → {_value(key, after.get(key), names)}"))
    return lines


def record_words(object_type: str, object_id: str, names: Names) -> str:
    """The record a row is about, by name where the page found one: "Task: 入户走访"."""
    kind = object_words(object_type)
    if object_type == "user":
        name = names.users.get(int(object_id)) if object_id.isdigit() else object_id  # a failed sign-in's name
    elif object_type == "task" and object_id.isdigit():
        name = names.tasks.get(int(object_id))
    else:
        name = names.records.get((object_type, object_id))
    if name:
        return gettext("%(kind)s: %(name)s", kind=kind, name=name)
    if object_type in ("audit", "case") or object_id in ("", "-"):
        return kind
    return f"{kind} #{object_id}"
