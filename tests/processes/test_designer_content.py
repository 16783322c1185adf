"""Designer content that could reach the server is refused at save and deploy, naming what and where.

Forms: a ``$ref`` outside the form, a pattern RE2 cannot run. Scripts and
expressions: constant operations whose result the sandbox would refuse at run
time (``10**10**10``) are refused before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from designer_helpers import four_in_one_demo

from app.engine import isolation
from app.processes.validation import validate_bundle

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
P = "/api/v1/processes"


def _form(**prop: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"ok": {"type": "boolean"}, "code": {"type": "string", **prop}}}


def _errors(forms: dict[str, Any]) -> list[str]:
    return [str(m) for m in validate_bundle({"mini.bpmn": MINI}, forms).errors]


@pytest.mark.parametrize(("ref", "words"), [
    ("http://169.254.169.254/latest/meta-data.json", "points outside the form"),
    ("file:///etc/passwd", "points outside the form"),
    ("https://json-schema.org/draft/2020-12/schema", "points outside the form"),
    ("other.json#/x", "points outside the form"),
    ("#/$defs/missing", "names no part of the form"),
])
def test_a_ref_outside_the_form_is_refused_naming_the_form_and_the_ref(ref: str, words: str) -> None:
    errors = _errors({"mini/t1.json": _form(**{"$ref": ref})})
    assert any("mini/t1.json" in e and repr(ref) in e and words in e for e in errors), errors


@pytest.mark.parametrize("sub_id", ["http://127.0.0.1:1/sub", "file:///etc/", "sub.json"])
def test_a_nested_id_that_would_move_where_refs_resolve_is_refused(sub_id: str) -> None:
    """Checked against the form, ``#/properties/ok`` exists; with the nested ``$id`` it would not."""
    form = _form()
    form["properties"]["code"] = {"$id": sub_id, "$ref": "#/properties/ok"}
    errors = _errors({"mini/t1.json": form})
    assert any("mini/t1.json" in e and "/properties/code" in e and repr(sub_id) in e for e in errors), errors
    assert _errors({"mini/t1.json": {**_form(), "$id": "https://forms.example/t1"}}) == []


def test_an_unused_form_with_a_remote_ref_is_refused_too() -> None:
    """A task may choose its form by expression, so every form of the bundle counts."""
    forms = {"mini/t1.json": _form(), "mini/spare.json": _form(**{"$ref": "http://example.org/x.json"})}
    assert any("mini/spare.json" in e and "outside the form" in e for e in _errors(forms))


@pytest.mark.parametrize("pattern", [r"(a)\1", r"^(?=.*\d)\w+$", "(a{1000}){1000}"])
def test_a_pattern_re2_cannot_run_is_refused_at_save(pattern: str) -> None:
    errors = _errors({"mini/t1.json": _form(pattern=pattern)})
    assert any("mini/t1.json" in e and repr(pattern) in e and "RE2" in e for e in errors), errors


def test_pattern_properties_and_nested_schema_switch_are_checked() -> None:
    forms = {"mini/t1.json": {"type": "object", "patternProperties": {r"(x)\1": {}},
                              "properties": {"ok": {"type": "boolean", "$schema": "http://json-schema.org/draft-07/schema#"}}}}
    errors = " ".join(_errors(forms))
    assert r"'(x)\\1'" in errors and "$schema" in errors


def test_safe_forms_with_local_refs_and_linear_patterns_pass() -> None:
    form = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "$defs": {"id": {"type": "string", "pattern": r"^\d{17}[\dX]$"}},
            "properties": {"ok": {"type": "boolean"}, "id": {"$ref": "#/$defs/id"},
                           "code": {"type": "string", "pattern": "^(a+)+$"}}}
    assert _errors({"mini/t1.json": form}) == []


def test_draft_save_reports_and_deploy_refuses_a_remote_ref(as_user: Any, ctx: Any) -> None:
    four_in_one_demo()
    api = as_user("designer")
    created = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": MINI}, "forms": {"mini/t1.json": _form()}})
    assert created.status_code == 201 and created.get_json()["valid"], created.get_json()
    draft_id = created.get_json()["id"]
    saved = api.client.put(f"{P}/drafts/{draft_id}/forms/mini/t1.json", headers=api.headers,
                           json={"schema": _form(**{"$ref": "http://127.0.0.1:9/x.json"})})
    assert saved.status_code == 200 and saved.get_json()["valid"] is False
    assert any("outside the form" in m["message"] and m["file"] == "mini/t1.json" for m in saved.get_json()["messages"])
    deploy = api.post(f"{P}/drafts/{draft_id}/deploy", json={"note": "try"})
    assert deploy.status_code == 422
    assert "outside the form" in str(deploy.get_json())


def test_a_han_character_class_is_a_valid_pattern() -> None:
    """RE2 knows Unicode scripts; Python's ``re`` (the old meta-schema check) refused them."""
    assert _errors({"mini/t1.json": _form(pattern=r"^\p{Han}{2,4}$")}) == []


@pytest.mark.parametrize(("script", "words"), [
    ("score = 10**10**10", "power (bits)"),
    ("score = 'a' * 10**10", "repetition"),
    ("score = pow(10, 10**9)", "power (bits)"),
    ("while True:\n    score = 1", "never ends"),
])
def test_a_script_certain_to_be_refused_is_refused_at_save_deploy_and_test_run(
        as_user: Any, ctx: Any, script: str, words: str) -> None:
    four_in_one_demo()
    api = as_user("designer")
    bpmn = MINI.replace("score = 2 if ok else 1", script)
    created = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": bpmn}, "forms": {"mini/t1.json": _form()}})
    body = created.get_json()
    assert created.status_code == 201 and body["valid"] is False
    [message] = [m for m in body["messages"] if m["level"] == "error"]
    assert message["element_id"] == "s1" and message["element_name"] == "calc"
    assert "would be refused when it runs" in message["message"] and words in message["message"]
    assert api.post(f"{P}/drafts/{body['id']}/deploy", json={"note": "x"}).status_code == 422
    run = api.post(f"{P}/drafts/{body['id']}/test-runs", json={"data": {}})
    assert run.status_code == 422 and "s1 (calc)" in run.get_json()["message"]


def test_a_hash_flood_in_a_script_is_refused_by_the_sandbox_not_the_backstop(as_user: Any) -> None:
    """50,000 ints sharing one hash: ``set()`` over them is minutes of C time the tracer cannot stop."""
    four_in_one_demo()
    api = as_user("designer")
    flood = "M = 2**61 - 1\nkeys = [i * M for i in range(50000)]\nscore = len(set(keys))"
    bpmn = MINI.replace("score = 2 if ok else 1", flood)
    created = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": bpmn}, "forms": {"mini/t1.json": _form()}})
    assert created.status_code == 201 and created.get_json()["valid"], created.get_json()
    run = api.post(f"{P}/drafts/{created.get_json()['id']}/test-runs", json={"data": {}}).get_json()
    [task] = run["ready"]
    # set() over the keys would outlast the backstop's 3 CPU seconds (its message says so); the wall limit is only
    # a hang guard, wide for a busy machine. The sandbox's own message shows it refused before the C call.
    with isolation.limits(cpu_seconds=3, wall_seconds=60):
        done = api.post(f"{P}/test-runs/{run['id']}/tasks/{task['id']}/complete",
                        json={"lane": "police", "data": {"ok": True}})
    assert done.status_code == 422, done.get_json()
    message = done.get_json()["message"]
    assert "s1" in message and "share one hash" in message, message


@pytest.mark.parametrize(("old", "new"), [
    ("score = 2 if ok else 1", "score = " + "+".join(["1"] * 100_000)),  # the policy walk recurses
    ("score = 2 if ok else 1", "score = " + "-" * 100_000 + "1"),  # the parser overflows (MemoryError)
    ("score == 2", "score == x" + "[0]" * 50_000),  # a gateway condition
])
def test_deeply_nested_code_is_refused_at_save_and_test_run_not_a_500(as_user: Any, old: str, new: str) -> None:
    four_in_one_demo()
    api = as_user("designer")
    created = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": MINI.replace(old, new)},
                                            "forms": {"mini/t1.json": _form()}})
    body = created.get_json()
    assert created.status_code == 201 and body["valid"] is False
    assert any("nested too deeply" in m["message"] and m["level"] == "error" for m in body["messages"]), body
    run = api.post(f"{P}/drafts/{body['id']}/test-runs", json={"data": {}})
    assert run.status_code == 422 and "nested too deeply" in str(run.get_json())


@pytest.mark.parametrize("depth", [50, 100])
def test_moderately_nested_code_still_saves(depth: int) -> None:
    bpmn = MINI.replace("score = 2 if ok else 1", "score = " + "+".join(["1"] * depth))
    assert [str(m) for m in validate_bundle({"mini.bpmn": bpmn}, {"mini/t1.json": _form()}).errors] == []
