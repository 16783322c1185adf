"""The JSON Schema form renderer: every shipped form renders, and what a browser posts parses back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flows.scenarios import SCENARIOS
from werkzeug.datastructures import MultiDict

from app.tasks.form_render import build_fields, friendly_errors, parse_form, widget_of
from app.tasks.forms import validate_form_data

FORMS = Path(__file__).resolve().parents[2] / "forms" / "four_in_one"


def _schema(bpmn_id: str) -> dict[str, Any]:
    return json.loads((FORMS / f"{bpmn_id}.json").read_text(encoding="utf-8"))


def _as_posted(schema: dict[str, Any], data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """What a browser sends for ``data`` from the rendered form (date-times as local wall time)."""
    pairs: list[tuple[str, str]] = []
    for f in build_fields(schema, data, prefix=prefix):
        value = data.get(f.key)
        if value is None:
            continue
        if f.widget == "group":
            for i, row in enumerate(value):
                pairs += _as_posted(schema["properties"][f.key]["items"], row, f"{f.name}-{i}-")
        elif f.widget == "checkboxes":
            pairs += [(f.name, str(v)) for v in value]
        elif f.widget == "boolean":
            pairs.append((f.name, "true" if value else "false"))
        else:
            pairs.append((f.name, str(f.value)))
    return pairs


STEPS = sorted({(step.bpmn_id, json.dumps(step.data, sort_keys=True))
                for scenario in SCENARIOS.values() for step in scenario.steps})


@pytest.mark.parametrize(("bpmn_id", "data_json"), STEPS)
def test_posted_form_parses_back_to_the_scenario_data(ctx: Any, bpmn_id: str, data_json: str) -> None:
    schema, data = _schema(bpmn_id), json.loads(data_json)
    parsed = parse_form(schema, MultiDict(_as_posted(schema, data)))
    assert parsed == data
    assert validate_form_data(schema, parsed) == data


def test_widgets_cover_every_shape_of_the_shipped_forms(ctx: Any) -> None:
    seen = set()
    for path in FORMS.glob("*.json"):
        for prop in json.loads(path.read_text(encoding="utf-8"))["properties"].values():
            seen.add(widget_of(prop))
    assert {"text", "textarea", "date", "datetime", "radio", "select", "checkboxes", "boolean", "group"} <= seen
    assert widget_of({"type": "string", "x-widget": "textarea"}) == "textarea"
    assert widget_of({"type": "integer"}) == "number"
    assert widget_of({"type": "array", "items": {"type": "string"}}) == "lines"


def test_enum_names_are_the_chinese_labels_and_required_marked(ctx: Any) -> None:
    fields = {f.key: f for f in build_fields(_schema("police_triage"))}
    assert fields["situation"].title == "研判确认的情形" and fields["situation"].required
    assert ("living_alone", "脱离监护单独居住生活") in fields["situation"].options
    assert fields["dispatched_at"].widget == "datetime" and fields["triage_notes"].widget == "textarea"
    group = {f.key: f for f in build_fields(_schema("police_guardian_incapable"))}["relatives_contacted"]
    assert [f.name for f in group.template][:2] == ["relatives_contacted-__i__-name", "relatives_contacted-__i__-relation"]


def test_errors_land_on_their_fields_in_words_and_input_is_kept(ctx: Any) -> None:
    schema = _schema("police_guardian_incapable")
    posted = MultiDict([("incapacity_reason", "serious_illness"), ("relatives_contacted-0-name", "刘某"),
                        ("relatives_contacted-0-phone", "138"), ("guardian_incapable_notes", "x" * 2001)])
    data = parse_form(schema, posted)
    errors = friendly_errors(schema, data)
    assert errors["parents_reached"] == ["必填。"] or errors["parents_reached"] == ["Required."]
    assert "relatives_contacted[0].relation" in errors and "relatives_contacted[0].outcome" in errors
    assert "guardian_incapable_notes" in errors
    fields = {f.key: f for f in build_fields(schema, data, errors)}
    assert fields["parents_reached"].errors and fields["incapacity_reason"].value == "serious_illness"
    row = {f.key: f for f in fields["relatives_contacted"].rows[0]}
    assert row["name"].value == "刘某" and row["relation"].errors


def test_numbers_and_bad_values_are_kept_for_the_error_message(ctx: Any) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "title": "N"},
                                                "at": {"type": "string", "format": "date-time"}}}
    assert parse_form(schema, MultiDict([("n", "12"), ("at", "2026-03-10T09:30")])) == {
        "n": 12, "at": "2026-03-10T09:30:00+08:00"}
    data = parse_form(schema, MultiDict([("n", "twelve")]))
    assert data == {"n": "twelve"} and friendly_errors(schema, data)["n"]
