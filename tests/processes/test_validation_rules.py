"""Every validation rule of the designer, each message naming the element (id and name).

``validate_bundle`` never raises for bad input: whatever a designer uploads
comes back as messages, and only a bundle without errors can be deployed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.processes.validation import ValidationReport, validate_bundle

DATA = Path(__file__).resolve().parent.parent / "data"
FOREIGN = DATA / "foreign"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"ok": {"type": "boolean", "title": "到场"}}, "required": ["ok"]}
FORMS = {"mini/t1.json": FORM}


def _check(text: str, forms: dict | None = None, name: str = "mini.bpmn") -> ValidationReport:
    return validate_bundle({name: text}, FORMS if forms is None else forms)


def _errors(report: ValidationReport, rule: str | None = None) -> list[str]:
    return [str(m) for m in report.errors if rule is None or m.rule == rule]


def _about(report: ValidationReport, element_id: str) -> list[str]:
    return [m.message for m in report.errors if m.element_id == element_id]


def test_the_reference_bundle_is_valid_and_parsed() -> None:
    report = _check(MINI)
    assert report.ok and report.messages == [] and report.parsed is not None
    assert report.used_forms == FORMS


def test_entity_expansion_bomb_is_refused_without_expanding() -> None:
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
            + MINI.split("?>", 1)[1].replace('name="出警"', 'name="&lol3;"'))
    report = _check(bomb)
    assert not report.ok
    [message] = _errors(report)
    assert message.startswith("mini.bpmn: refused: XML with a DTD or entities is not accepted")
    assert "lollol" not in message


def test_external_entity_file_read_is_refused_and_the_file_never_shows(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
           + MINI.split("?>", 1)[1].replace('name="出警"', 'name="&xxe;"'))
    report = _check(xxe)
    text = " ".join(str(m) for m in report.messages)
    assert not report.ok and "refused" in text and "TOP-SECRET" not in text


@pytest.mark.parametrize(("script", "expected"), [
    ("import os\nscore = 1", "import os"),
    ("from subprocess import run\nscore = 1", "cannot import modules"),
    ("score = open('/etc/passwd').read()", 'calling "open" is not allowed'),
    ("score = ().__class__.__bases__", "__class__"),
])
def test_script_that_imports_or_opens_a_file_is_refused_naming_the_script_task(script: str, expected: str) -> None:
    report = _check(MINI.replace("score = 2 if ok else 1", script))
    messages = _about(report, "s1")
    assert any(expected in m and "restricted environment" in m for m in messages), messages
    assert report.errors[0].element_name == "calc"


def test_condition_and_expression_property_must_compile() -> None:
    report = _check(MINI.replace("score == 2", "score ==").replace('value="PT1H"', 'value="=__import__(1)"'))
    assert "condition does not compile" in _about(report, "f4")[0]
    assert any("property deadline does not compile" in m for m in _about(report, "t1"))


def test_lane_with_an_unknown_department_is_refused_naming_the_lane() -> None:
    report = _check(MINI.replace('name="township"', 'name="Sozialamt"'))
    [message] = _errors(report, "lane")
    assert "l_town (Sozialamt): lane 'Sozialamt' names no department kind" in message
    assert not report.ok


def test_task_outside_any_lane_and_an_unknown_department_property_are_refused() -> None:
    no_lane = MINI.replace("<bpmn:flowNodeRef>t2</bpmn:flowNodeRef>", "")
    assert "user task is in no lane" in _about(_check(no_lane), "t2")[0]
    odd = MINI.replace('<spiffworkflow:property name="deadline" value="3WD"/>',
                       '<spiffworkflow:property name="deadline" value="3WD"/>'
                       '<spiffworkflow:property name="department" value="fire_brigade"/>')
    assert "department 'fire_brigade' is not a department kind" in _about(_check(odd), "t2")[0]


def test_forms_must_exist_be_inside_forms_and_be_valid_object_schemas() -> None:
    assert _about(_check(MINI, {}), "t1") == ["form 'mini/t1.json' does not exist"]
    assert "not a valid JSON Schema" in _about(_check(MINI, {"mini/t1.json": {"type": "objekt"}}), "t1")[0]
    assert "must describe an object" in _about(_check(MINI, {"mini/t1.json": {"type": "string"}}), "t1")[0]
    sneaky = MINI.replace("mini/t1.json", "../../etc/passwd.json")
    assert "relative .json path" in _about(_check(sneaky, {"../../etc/passwd.json": FORM}), "t1")[0]


def test_a_form_field_named_typename_is_refused_at_any_depth() -> None:
    """The engine's stored state reserves the key (``app.engine.jsondata``): every submission would be refused."""
    top = {**FORM, "properties": {**FORM["properties"], "typename": {"type": "string"}}}
    deep = {**FORM, "properties": {**FORM["properties"], "visits": {"type": "array", "items": {
        "type": "object", "properties": {"typename": {"type": "string"}}}}}}
    for form in (top, deep):
        found = _about(_check(MINI, {"mini/t1.json": form}), "t1")
        assert found == ["form 'mini/t1.json' has a field named 'typename', a name the engine's stored state reserves "
                         "(every submission would be refused): rename it"]
    described = {**FORM, "properties": {**FORM["properties"], "kind": {"type": "string", "title": "typename"}}}
    assert _check(MINI, {"mini/t1.json": described}).ok  # only a field's name counts, not a title or a value


def test_a_form_field_named_as_a_script_function_or_sandbox_guard_is_refused() -> None:
    for name in ("__builtins__", "_getattr_", "len", "max", "ValueError", "add_days"):
        form = {**FORM, "properties": {**FORM["properties"], name: {"type": "string"}}}
        assert _about(_check(MINI, {"mini/t1.json": form}), "t1") == [
            f"form 'mini/t1.json' has a field named {name!r}, a name scripts use for a function or a guard of the "
            "sandbox (every submission would be refused): rename it"]
    nested = {**FORM, "properties": {**FORM["properties"], "visit": {"type": "object", "properties": {
        "_getattr_": {"type": "string"}}}}}
    assert _check(MINI, {"mini/t1.json": nested}).ok  # only the form's own fields become script variables


def test_deadlines_and_escalation_ladders_must_parse() -> None:
    report = _check(MINI.replace('value="3WD"', 'value="three days"'))
    assert "invalid deadline 'three days'" in _about(report, "t2")[0]
    ladder = MINI.replace('<spiffworkflow:property name="deadline" value="3WD"/>',
                          '<spiffworkflow:property name="deadline" value="3WD"/>'
                          '<spiffworkflow:property name="escalation" value="{}"/>')
    assert _check(ladder.format("holder@remind; unit_head@due; coordinator+supervisor@due+1WD")).ok
    assert "who one of" in _about(_check(ladder.format("mayor@due")), "t2")[0]
    assert "invalid deadline" in _about(_check(ladder.format("unit_head@due+soon")), "t2")[0]


@pytest.mark.parametrize(("expression", "expected"), [
    ("P3D", 'write the ISO value in quotes, "P3D"'),
    ('"P3Q"', "not a valid ISO 8601 duration"),
    ('"in three days"', "not an ISO 8601 duration"),
    ("1 +", "does not compile"),
])
def test_bad_timer_expressions_are_refused_naming_the_timer(expression: str, expected: str) -> None:
    text = (DATA / "timer_task.bpmn").read_text(encoding="utf-8").replace('"P3D"', expression)
    report = validate_bundle({"t.bpmn": text}, {})
    [message] = _about(report, "late")
    assert expected in message and report.errors[0].element_name == "三天未上门"


def test_gateway_back_edge_loop_is_refused_naming_the_flows() -> None:
    loop = MINI.replace('<bpmn:sequenceFlow id="f5" sourceRef="gw" targetRef="end2"/>',
                        '<bpmn:sequenceFlow id="f5" sourceRef="gw" targetRef="t1"/>')
    report = _check(loop)
    [message] = _errors(report, "loop")
    assert "loop over sequence flows f5, f2, f3" in message
    assert "t1 → s1 → gw → t1" in message
    assert report.errors[0].element_id == "f5"


def test_timer_on_a_task_that_flows_back_to_the_task_is_a_loop() -> None:
    text = (DATA / "timer_task.bpmn").read_text(encoding="utf-8").replace(
        'sourceRef="late" targetRef="chase"', 'sourceRef="late" targetRef="visit"')
    report = validate_bundle({"t.bpmn": text}, {})
    assert any("f3" in m for m in _errors(report, "loop"))


def test_no_executable_process_and_a_bpmn_schema_error_name_the_element() -> None:
    report = _check(MINI.replace('isExecutable="true"', 'isExecutable="false"'))
    assert "mini (Mini): process mini (Mini) is not executable" in _errors(report, "executable")[0]
    broken = _check(MINI.replace('<bpmn:endEvent id="end"/>', '<bpmn:endEvent id="end" color="red"/>'))
    [schema] = [m for m in broken.errors if m.rule == "schema"]
    assert schema.element_id == "end" and "color" in schema.message


@pytest.mark.parametrize(("file", "expected"), [
    ("camunda7_leave.bpmn", [
        ("Activity_review", "uses a form from another engine (camunda:formKey=embedded:app:forms/review.html)"),
        ("Activity_review", "user task is in no lane"),
        ("Activity_notify", "script format 'javascript' is not supported"),
        ("Flow_yes", "is a JUEL expression from another engine"),
        ("Flow_no", "(e.g. not approved)"),
    ]),
    ("camunda8_intake.bpmn", [
        ("Task_intake", "uses a form from another engine (zeebe:formDefinition=formId=intake-form)"),
        ("Timer_overdue", 'write the ISO value in quotes, "P1D"'),
        ("Task_escalate", "a service task calls another system"),
    ]),
    ("bpmnio_new_diagram.bpmn", [("Process_1", "is not executable")]),
    ("signavio_referral.bpmn", [
        ("sid-process-1", "is not executable"),
        ("sid-lane-police", "lane 'Polizei' names no department kind"),
    ]),
    ("trisotech_assessment.bpmn", [
        ("_flow_again", "is written in FEEL"),
        ("_flow_again", "loop over sequence flows _flow_again, _flow_2"),
    ]),
])
def test_foreign_modeler_files_get_reasons_not_server_errors(file: str, expected: list[tuple[str, str]]) -> None:
    report = validate_bundle({file: (FOREIGN / file).read_text(encoding="utf-8")}, {})
    assert not report.ok and report.parsed is None
    for element_id, text in expected:
        assert any(text in m for m in _about(report, element_id)), (element_id, text, report.as_dicts())
    # what can be shown is still described, so the viewer and the side panel can open it
    assert report.model.processes and report.model.elements


def test_foreign_extras_that_liandong_ignores_are_warnings_only() -> None:
    report = validate_bundle({"c.bpmn": (FOREIGN / "camunda7_leave.bpmn").read_text(encoding="utf-8")}, {})
    warnings = [m for m in report.messages if m.level == "warning"]
    assert {m.element_id for m in warnings} == {"Activity_review"}
    assert any("camunda:assignee is ignored" in m.message for m in warnings)


def test_a_fixed_foreign_file_becomes_deployable() -> None:
    """The Trisotech diagram, once its lane is kept, its loop removed and its condition in Python, runs."""
    text = (FOREIGN / "trisotech_assessment.bpmn").read_text(encoding="utf-8")
    text = text.replace("grade = null", "grade is None").replace(' language="http://www.omg.org/spec/FEEL/20140401"', "").replace(
        'targetRef="_task_assess">', 'targetRef="_end_a">').replace(
        '<semantic:incoming>_flow_again</semantic:incoming>\n', "", 1)
    report = validate_bundle({"t.bpmn": text}, {})
    assert report.errors == [], report.as_dicts()
    assert report.ok and report.parsed is not None and report.parsed.process_id == "_assess_process"
