"""Checking form schemas is cached by their JSON text, and the messages stay exactly what they were.

Every bundle validation checks every form under ``forms/`` against the JSON Schema meta-schema
(~8 ms each); without the cache loading the demo took seconds in every test that needed it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from app.processes import validation
from app.processes.validation import schema_problem, validate_bundle

MINI = (Path(__file__).resolve().parent.parent / "data" / "mini.bpmn").read_text(encoding="utf-8")
GOOD = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
BAD_SCHEMAS: list[Any] = [
    {"type": "objekt"},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": "zero"}}},
    {"type": "object", "required": "ok", "properties": {"ok": {"enum": "yes"}}},
    ["not", "a", "schema"],
    5,
]


def _uncached(schema: Any) -> str | None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    return None


@pytest.mark.parametrize("schema", [GOOD, True, *BAD_SCHEMAS])
def test_the_cached_answer_is_the_meta_schema_check(schema: Any) -> None:
    assert schema_problem(schema) == _uncached(schema)
    assert schema_problem(schema) == _uncached(schema)  # the second answer comes from the cache


def test_values_json_would_blur_are_checked_as_they_are() -> None:
    """A tuple or an int key would look like a list or a string key in JSON text: never served from the cache."""
    assert schema_problem({"type": "object", "required": ("ok",)}) == _uncached({"type": "object", "required": ("ok",)})
    assert schema_problem({"type": "object", "properties": {1: GOOD}}) == _uncached({"type": "object",
                                                                                    "properties": {1: GOOD}})


def test_a_second_validation_of_the_same_forms_checks_no_schema_again(monkeypatch: pytest.MonkeyPatch) -> None:
    forms = {"mini/t1.json": {**GOOD, "title": "t1 (cache test)"}, "unused/bad.json": {"type": "objekt", "x": 1},
             "unused/good.json": {**GOOD, "title": "unused (cache test)"}}
    first = validate_bundle({"mini.bpmn": MINI}, forms).as_dicts()
    calls: list[Any] = []
    real = validation._check_schema
    monkeypatch.setattr(validation, "_check_schema", lambda schema: calls.append(schema) or real(schema))
    second = validate_bundle({"mini.bpmn": MINI}, forms).as_dicts()

    assert second == first
    assert calls == []
    assert [m["message"] for m in first if m["rule"] == "form"] == [
        f"form 'unused/bad.json' is not a valid JSON Schema: {_uncached(forms['unused/bad.json'])}"]
