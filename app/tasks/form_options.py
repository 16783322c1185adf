"""Choice options of a task form as standard JSON Schema, in the caller's language, for other systems.

Shipped and designed forms name their options with ``enum`` and the labels in ``x-enumNames`` (Chinese),
a keyword only some form libraries know. The API serves each choice as ``oneOf`` of ``{"const", "title"}``
(JSON Schema 2020-12's own way to title values, which every validator and form generator reads), with the
title in the language ``Accept-Language`` asks for: Chinese by default, English from
``form_labels_en.json`` (the English of every label a shipped form uses, checked by
``tests/tasks/test_form_options.py``); a label with no English yet stays as written. A form written with
``oneOf``/``const``/``title`` already is served the same way. Validation keeps the stored form: the two
say the same (``enum`` of distinct values is ``oneOf`` of their ``const``).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import request

LABELS_EN = Path(__file__).with_name("form_labels_en.json")
ACCEPT_LANGUAGE = {
    "in": "header", "name": "Accept-Language", "required": False, "schema": {"type": "string"},
    "description": "the language of the form's option titles: `zh` (the default) or `en`",
}
"""The OpenAPI parameter of an operation that answers a form."""


@cache
def english_labels() -> dict[str, str]:
    """Chinese option label -> its English (read once per process)."""
    return dict(json.loads(LABELS_EN.read_text(encoding="utf-8")))


def api_locale() -> str:
    """``zh`` or ``en``, from the request's ``Accept-Language`` (``zh`` when it names neither)."""
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh")
    return "en" if best.startswith("en") else "zh"


SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_ONE = ("items", "additionalProperties", "contains", "not", "if", "then", "else", "propertyNames")
"""The keywords whose values are schemas (so a property *named* ``enum`` is a field, not a keyword)."""


def choices(prop: Any) -> list[tuple[Any, str]]:
    """A choice field's (value, label) as written: ``enum`` with ``x-enumNames``, or ``oneOf`` of ``const``
    with ``title`` (a form written the standard way renders on the task page the same); ``[]`` otherwise."""
    if not isinstance(prop, dict):
        return []
    if isinstance(prop.get("enum"), list):
        names = prop.get("x-enumNames")
        names = names if isinstance(names, list) else []
        return [(v, str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(prop["enum"])]
    options = prop.get("oneOf")
    if isinstance(options, list) and options and all(isinstance(o, dict) and "const" in o for o in options):
        return [(o["const"], str(o.get("title", o["const"]))) for o in options]
    return []


def option_titled(schema: Any, locale: str = "zh") -> Any:
    """A copy of ``schema`` with every ``enum`` (+ ``x-enumNames``) as ``oneOf`` of ``const``/``title`` and
    every such title in ``locale``. The stored schema (shared, cached) is never changed."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: option_titled(sub, locale) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_option(sub, locale) if key == "oneOf" else option_titled(sub, locale) for sub in value]
        elif key in SCHEMA_ONE:
            out[key] = option_titled(value, locale)
        elif key not in ("enum", "x-enumNames"):
            out[key] = value
    values = schema.get("enum")
    if isinstance(values, list) and "oneOf" not in schema:
        names = schema.get("x-enumNames")
        names = names if isinstance(names, list) else []
        out["oneOf"] = [{"const": value, "title": _title(names[i] if i < len(names) else value, locale)}
                        for i, value in enumerate(values)]
    elif values is not None:
        out["enum"] = values  # beside a oneOf of its own: left as written
    return out


def _option(option: Any, locale: str) -> Any:
    """One ``oneOf`` branch: a titled value gets its title in ``locale``; any other branch is a schema."""
    if isinstance(option, dict) and "const" in option:
        return {**option_titled(option, locale), "title": _title(option.get("title", option["const"]), locale)}
    return option_titled(option, locale)


def _title(label: Any, locale: str) -> str:
    text = str(label)
    return english_labels().get(text, text) if locale == "en" else text
