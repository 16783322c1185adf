"""Checking form schemas is cached by their JSON text, a bundle's report by its exact content, and the
messages stay exactly what they were.

Every bundle validation checks every form under ``forms/`` against the JSON Schema meta-schema
(~8 ms each); without the cache loading the demo took seconds in every test that needed it. A draft is
validated at each save and again at deploy, and ``demo load`` validates every unchanged folder again.
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
    validation.forget_reports()  # the whole report is kept too: this is about the forms' own cache
    calls: list[Any] = []
    real = validation._check_schema
    monkeypatch.setattr(validation, "_check_schema", lambda schema: calls.append(schema) or real(schema))
    second = validate_bundle({"mini.bpmn": MINI}, forms).as_dicts()

    assert second == first
    assert calls == []
    assert [m["message"] for m in first if m["rule"] == "form"] == [
        f"form 'unused/bad.json' is not a valid JSON Schema: {_uncached(forms['unused/bad.json'])}"]


def _counting_describe(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Spy on the engine's element model, the first step of every validation that is not served whole."""
    calls: list[Any] = []
    real = validation.engine.describe_bundle
    monkeypatch.setattr(validation.engine, "describe_bundle", lambda files: calls.append(files) or real(files))
    return calls


def test_the_same_bundle_is_validated_once_and_each_caller_gets_a_copy_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    forms = {"mini/t1.json": {**GOOD, "title": "report cache"}}
    validation.forget_reports()
    calls = _counting_describe(monkeypatch)
    first = validate_bundle({"mini.bpmn": MINI}, forms)
    assert first.ok and first.parsed is not None and len(calls) == 1

    first.messages.append(validation.Message("added by a caller"))  # a caller may change what it got
    first.used_forms["mini/t1.json"]["title"] = "changed by a caller"
    first.parsed.spec_json.clear()
    second = validate_bundle({"mini.bpmn": MINI}, forms)

    assert len(calls) == 1, "served from the kept report"
    assert second.ok and second.messages == []
    assert second.used_forms == {"mini/t1.json": {**GOOD, "title": "report cache"}}
    assert second.parsed is not None and second.parsed.spec_json and second.parsed.process_id == first.parsed.process_id
    assert forms["mini/t1.json"]["title"] == "report cache"


def test_other_content_other_order_or_changed_rules_are_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    validation.forget_reports()
    calls = _counting_describe(monkeypatch)
    forms = {"mini/t1.json": GOOD, "unused/a.json": {"type": "objekt"}, "unused/b.json": GOOD}
    good = validate_bundle({"mini.bpmn": MINI}, forms)
    broken = validate_bundle({"mini.bpmn": MINI.replace("</bpmn:process>", "", 1)}, forms)
    reordered = validate_bundle({"mini.bpmn": MINI}, dict(reversed(forms.items())))
    assert len(calls) == 3
    assert good.ok and not broken.ok and broken.errors
    assert [m.message for m in reordered.messages] == [m.message for m in good.messages]

    validation.register_value_check(validation.P.DEADLINE, validation._value_check(validation.P.DEADLINE))
    validate_bundle({"mini.bpmn": MINI}, forms)
    assert len(calls) == 4, "a report kept under the old rules is not served"


def test_content_json_would_blur_is_kept_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tuple or an int key reads like a list or a string key in JSON text: never served the other's report."""
    validation.forget_reports()
    calls = _counting_describe(monkeypatch)
    variants = [{"mini/t1.json": {**GOOD, "required": ["ok"]}}, {"mini/t1.json": {**GOOD, "required": ("ok",)}},
                {"mini/t1.json": {**GOOD, "properties": {"1": GOOD}}}, {"mini/t1.json": {**GOOD, "properties": {1: GOOD}}}]
    for forms in variants:
        validate_bundle({"mini.bpmn": MINI}, forms)
    assert len(calls) == 4
    assert validate_bundle({"mini.bpmn": MINI}, variants[1]).used_forms == variants[1]
    assert len(calls) == 4, "each is kept under its own content"


def test_a_bundle_too_large_to_keep_is_validated_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    validation.forget_reports()
    calls = _counting_describe(monkeypatch)
    forms = {"mini/t1.json": {**GOOD, "description": "x" * validation.KEPT_BUNDLE_BYTES}}
    assert validate_bundle({"mini.bpmn": MINI}, forms).messages == validate_bundle({"mini.bpmn": MINI}, forms).messages
    assert len(calls) == 2


def test_only_the_last_few_reports_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    validation.forget_reports()
    calls = _counting_describe(monkeypatch)
    bundles = [{"mini/t1.json": {**GOOD, "title": f"form {n}"}} for n in range(validation.REPORTS_KEPT + 1)]
    for forms in bundles:
        validate_bundle({"mini.bpmn": MINI}, forms)
    validate_bundle({"mini.bpmn": MINI}, bundles[-1])
    assert len(calls) == validation.REPORTS_KEPT + 1, "the newest is kept"
    validate_bundle({"mini.bpmn": MINI}, bundles[0])
    assert len(calls) == validation.REPORTS_KEPT + 2, "the oldest was dropped"
