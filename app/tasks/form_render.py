"""Turn a step's JSON Schema into page fields, and a submitted HTML form back into JSON data.

Widgets by schema shape: text; long text (``maxLength`` > 200 or ``x-widget: textarea``); numbers;
date / date-time; single choice (``enum`` with ``x-enumNames`` labels: radios up to four options,
else a drop-down); multiple choice (array of enums: checkboxes); yes/no (boolean); lines of text
(array of plain strings); repeated groups (array of objects: rows added and removed in the page).
Validation itself stays in ``app.tasks.forms`` (the same check the API runs); this module only
parses input and words the errors for people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from app.common.clock import county_zone, local
from app.extensions import db
from app.processes.models import ProcessInstance
from app.processes.queries import form_schema

from .form_options import choices
from .forms import form_errors
from .models import Task

LONG_TEXT = 200
RADIO_MAX = 4
ROW_TEMPLATE = "__i__"
_MISSING = object()


@dataclass
class Field:
    key: str
    name: str
    """The HTML name: ``situation``, ``relatives_contacted-0-name``."""
    path: str
    """The error path: ``relatives_contacted[0].name`` (``app.common.errors.field_path``)."""
    title: str
    description: str
    widget: str
    required: bool
    value: Any = None
    options: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    max_length: int | None = None
    rows: list[list[Field]] = field(default_factory=list)
    template: list[Field] = field(default_factory=list)
    """For a repeated group: one empty row whose names hold ``__i__``, cloned by the page's script."""


def widget_of(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items", {})
        if items.get("type") == "object":
            return "group"
        return "checkboxes" if choices(items) else "lines"
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "number"):
        return "number"
    if options := choices(prop):
        return "radio" if len(options) <= RADIO_MAX else "select"
    if prop.get("format") == "date":
        return "date"
    if prop.get("format") == "date-time":
        return "datetime"
    if prop.get("x-widget") == "textarea" or (prop.get("maxLength") or 0) > LONG_TEXT:
        return "textarea"
    return "text"


def _options(prop: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(v), label) for v, label in choices(prop) or choices(prop.get("items", {}))]


def _display(prop: dict[str, Any], value: Any) -> Any:
    """A stored value as the input shows it (date-times in the county's local time)."""
    if value is None:
        return None
    if prop.get("format") == "date-time" and isinstance(value, str):
        try:
            return local(datetime.fromisoformat(value)).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return value
    if widget_of(prop) == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value


def build_fields(schema: dict[str, Any] | None, data: dict[str, Any] | None = None,
                 errors: dict[str, list[str]] | None = None, prefix: str = "", path: str = "") -> list[Field]:
    if not schema:
        return []
    data = data or {}
    errors = errors or {}
    required = set(schema.get("required", []))
    fields: list[Field] = []
    for key, prop in schema.get("properties", {}).items():
        name, fpath = f"{prefix}{key}", f"{path}{key}"
        f = Field(key=key, name=name, path=fpath, title=str(prop.get("title", key)),
                  description=str(prop.get("description", "")), widget=widget_of(prop), required=key in required,
                  value=_display(prop, data.get(key)), options=_options(prop), errors=list(errors.get(fpath, [])),
                  max_length=prop.get("maxLength"))
        if f.widget == "group":
            item = prop.get("items", {})
            stored = data.get(key)
            rows = stored if isinstance(stored, list) else []
            f.rows = [build_fields(item, row if isinstance(row, dict) else {}, errors, f"{name}-{i}-", f"{fpath}[{i}].")
                      for i, row in enumerate(rows)]
            f.template = build_fields(item, {}, {}, f"{name}-{ROW_TEMPLATE}-", "")
            f.value = None
        fields.append(f)
    return fields


def _parse_scalar(prop: dict[str, Any], raw: str) -> Any:
    raw = raw.strip()
    if raw == "":
        return _MISSING
    kind = prop.get("type")
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    if prop.get("format") == "date-time":
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return raw
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=county_zone())
        return parsed.isoformat(timespec="seconds")
    return raw


def _parse_object(schema: dict[str, Any], form: MultiDict[str, str], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        widget = widget_of(prop)
        value: Any
        if widget == "checkboxes":
            value = [v for v in form.getlist(name) if v]
        elif widget == "lines":
            value = [line.strip() for line in form.get(name, "").splitlines() if line.strip()]
        elif widget == "group":
            pattern = re.compile(rf"^{re.escape(name)}-(\d+)-")
            indexes = sorted({int(m.group(1)) for k in form if (m := pattern.match(k))})
            rows = [_parse_object(prop.get("items", {}), form, f"{name}-{i}-") for i in indexes]
            value = [row for row in rows if row]
        else:
            value = _parse_scalar(prop, form.get(name, ""))
        if value is not _MISSING:
            out[key] = value
    return out


def parse_form(schema: dict[str, Any] | None, form: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted form as JSON data for ``operations.complete`` (empty inputs are left out)."""
    return _parse_object(schema, form, "") if schema else {}


def friendly(error: Any) -> str:
    """One jsonschema error in words a liaison understands, in their language."""
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return gettext("Required.")
    if kind == "enum":
        return gettext("Choose one of the options.")
    if kind == "maxLength":
        return gettext("At most %(n)s characters.", n=value)
    if kind == "minLength":
        return gettext("At least %(n)s characters.", n=value)
    if kind == "minItems":
        return gettext("Choose at least %(n)s.", n=value)
    if kind == "uniqueItems":
        return gettext("Each option only once.")
    if kind in ("minimum", "exclusiveMinimum"):
        return gettext("Must be at least %(n)s.", n=value)
    if kind in ("maximum", "exclusiveMaximum"):
        return gettext("Must be at most %(n)s.", n=value)
    if kind == "format":
        return gettext("Enter a valid date.") if value == "date" else gettext("Enter a valid date and time.")
    if kind == "type":
        if value in ("integer", "number"):
            return gettext("Enter a number.")
        if value == "boolean":
            return gettext("Choose yes or no.")
        return gettext("Not a valid value.")
    if kind == "additionalProperties":
        return gettext("This form does not take that field.")
    return str(error.message)


def friendly_errors(schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, list[str]]:
    """Field path -> messages, from the same validator ``operations.complete`` uses."""
    if not schema:
        return {}
    out: dict[str, list[str]] = {}
    for path, error in form_errors(schema, data):
        out.setdefault(path, []).append(friendly(error))
    return out


def schema_of(task: Task) -> dict[str, Any] | None:
    """The form schema of the process version the task's case runs on."""

    instance = db.session.get(ProcessInstance, task.instance_id)
    return form_schema(instance.spec, task.form) if instance and task.form else None


def step_values(task: Task, show_text: bool) -> list[tuple[str, str]]:
    """A completed step's data as (label, value) for people; free text hidden without need to know."""
    return readable(schema_of(task), task.data, show_text)


def readable(schema: dict[str, Any] | None, data: dict[str, Any] | None, show_text: bool = True) -> list[tuple[str, str]]:
    """Form data as (label, value) in the reader's language, skipping empty answers (a step's record, a
    conflict's two sides)."""
    data = data or {}
    out = []
    for f in build_fields(schema or {}, data):
        value = data.get(f.key)
        if value in (None, "", []):
            continue
        labels = dict(f.options)
        if f.widget == "boolean":
            text = gettext("Yes") if value else gettext("No")
        elif f.widget in ("radio", "select"):
            text = labels.get(str(value), str(value))
        elif f.widget == "checkboxes":
            text = "、".join(labels.get(str(v), str(v)) for v in value)
        elif f.widget == "group":
            text = gettext("%(num)s entries", num=len(value))
        elif f.widget in ("text", "textarea", "lines") and not show_text:
            text = gettext("(hidden: need to know)")
        elif f.widget == "datetime":
            text = str(f.value).replace("T", " ")
        else:
            text = str(f.value if f.value is not None else value)
        out.append((f.title, text))
    return out


PLAIN_WIDGETS = ("boolean", "number", "radio", "select", "checkboxes", "date", "datetime")
"""Answers that are choices, numbers, dates or yes/no: never a narrative."""


def step_data(task: Task, show_text: bool) -> dict[str, Any]:
    """A step's stored data for the API: without free text (and groups, which may hold it) unless
    ``show_text``; a key the form does not describe is treated as free text."""
    data = dict(task.data or {})
    if show_text:
        return data
    props = (schema_of(task) or {}).get("properties", {})
    return {k: v for k, v in data.items() if isinstance(props.get(k), dict) and widget_of(props[k]) in PLAIN_WIDGETS}
