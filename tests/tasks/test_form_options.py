"""A task form's choices as standard JSON Schema (``oneOf`` of ``const``/``title``) in the language asked for
(issue 16, part 4): Chinese by default, English with ``Accept-Language: en``; the page forms unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from helpers import open_tasks, submit_report

from app.tasks.form_options import english_labels, option_titled
from app.tasks.form_render import build_fields

FORMS = Path(__file__).resolve().parents[2] / "forms"


def _labels(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        found |= {str(n) for n in node.get("x-enumNames", [])}
        for value in node.values():
            found |= _labels(value)
    elif isinstance(node, list):
        for value in node:
            found |= _labels(value)
    return found


def _no_keyword(node: Any, keyword: str) -> bool:
    if isinstance(node, dict):
        return keyword not in node and all(_no_keyword(v, keyword) for v in node.values())
    return all(_no_keyword(v, keyword) for v in node) if isinstance(node, list) else True


def test_every_option_label_of_a_shipped_form_has_its_english() -> None:
    shipped = set().union(*(_labels(json.loads(f.read_text(encoding="utf-8"))) for f in FORMS.rglob("*.json")))
    assert len(shipped) > 100
    assert sorted(shipped - set(english_labels())) == []


def test_choices_become_const_and_title_and_accept_the_same_values() -> None:
    schema = {"type": "object", "required": ["how"], "properties": {
        "how": {"type": "string", "enum": ["phone", "in_person"], "x-enumNames": ["电话", "当面"]},
        "enum": {"type": "string", "title": "a field named enum"},
        "rows": {"type": "array", "items": {"type": "string", "enum": ["a"]}}}}
    zh, en = option_titled(schema), option_titled(schema, "en")
    assert zh["properties"]["how"]["oneOf"] == [{"const": "phone", "title": "电话"}, {"const": "in_person", "title": "当面"}]
    assert en["properties"]["how"]["oneOf"] == [{"const": "phone", "title": "Phone"},
                                                {"const": "in_person", "title": "In person"}]
    assert en["properties"]["rows"]["items"]["oneOf"] == [{"const": "a", "title": "a"}]  # no label: the value
    assert en["properties"]["enum"] == schema["properties"]["enum"]  # a property, not the keyword
    assert _no_keyword(en, "x-enumNames") and "enum" not in en["properties"]["how"]
    assert "x-enumNames" in schema["properties"]["how"]  # the stored form is untouched
    for value, ok in (({"how": "phone"}, True), ({"how": "letter"}, False)):
        assert jsonschema.Draft202012Validator(en).is_valid(value) is ok
        assert jsonschema.Draft202012Validator(schema).is_valid(value) is ok


def test_a_form_written_with_one_of_gets_its_titles_localised() -> None:
    written = {"type": "string", "oneOf": [{"const": "phone", "title": "电话"}, {"const": "x", "title": "新选项"}]}
    assert option_titled(written, "en")["oneOf"] == [{"const": "phone", "title": "Phone"},
                                                    {"const": "x", "title": "新选项"}]


def test_the_api_answers_the_form_in_the_language_asked_for(as_user: Any) -> None:
    submit_report(as_user("reporter_school"))
    police = as_user("police_t01")
    [task] = [t for t in open_tasks(police) if t["bpmn_id"] == "police_triage"]
    url = f"/api/v1/tasks/{task['id']}"
    default = police.get(url)
    english = police.client.get(url, headers={**police.headers, "Accept-Language": "en-GB,en;q=0.9"})
    assert default.headers["Content-Language"] == "zh" and english.headers["Content-Language"] == "en"
    assert "Accept-Language" in english.headers["Vary"]
    zh_form, en_form = default.get_json()["form_schema"], english.get_json()["form_schema"]
    assert _no_keyword(zh_form, "x-enumNames") and _no_keyword(en_form, "x-enumNames")
    situations = {o["const"]: o["title"] for o in en_form["properties"]["situation"]["oneOf"]}
    assert situations["living_alone"] == "Living alone without guardianship"
    assert {o["const"]: o["title"] for o in zh_form["properties"]["situation"]["oneOf"]}["living_alone"] == "脱离监护单独居住生活"


def test_the_page_form_keeps_its_options(ctx: Any) -> None:
    schema = {"type": "object", "properties": {
        "how": {"type": "string", "enum": ["phone", "in_person"], "x-enumNames": ["电话", "当面"]}}}
    [field] = build_fields(schema)
    assert field.widget == "radio" and field.options == [("phone", "电话"), ("in_person", "当面")]
    [written] = build_fields(option_titled(schema))  # a form written the standard way renders the same
    assert written.widget == "radio" and written.options == field.options
    many = {"type": "array", "items": {"oneOf": [{"const": f"v{i}", "title": f"选项{i}"} for i in range(6)]}}
    [listed] = build_fields({"type": "object", "properties": {"many": many}})
    assert listed.widget == "checkboxes" and listed.options[5] == ("v5", "选项5")
