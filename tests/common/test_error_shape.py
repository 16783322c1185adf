"""One error shape for every API 4xx (issue 16, part 4): a message, and the fields at fault by location
(``json``, ``query``, ``form``, ``files``, ``headers``) and path (``report.situation``, ``data.x[0].y``),
whoever refuses: webargs, an operation's domain error, the task form's JSON Schema, the input guard."""

from __future__ import annotations

import io
from typing import Any

import jsonschema
import pytest
from helpers import open_tasks, report_payload, submit_report

from app.common.errors import field_path, flat_messages
from app.tasks.forms import FormInvalid, form_errors, validate_form_data


@pytest.fixture
def error_validator(client: Any) -> Any:
    """The document's one error component, to check each answer against."""
    document = client.get("/api/v1/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/ApiError", "components": document["components"]}
    return jsonschema.Draft4Validator(schema)


def _refused(resp: Any, status: int, validator: Any) -> dict[str, Any]:
    body = resp.get_json()
    assert resp.status_code == status, body
    validator.validate(body)
    assert body["code"] == status and body["status"] and body["message"]
    return dict(body)


def test_paths_name_fields_with_dots_and_indices_in_brackets() -> None:
    assert field_path(["relatives", 0, "phone"]) == "relatives[0].phone"
    assert field_path([]) == "_schema" and field_path(["_schema"]) == "_schema"
    nested = {"report": {"situation": ["unknown"]}, "child": {"guardians": {1: {"phone": ["too long"]}}},
              "_schema": ["whole"]}
    assert flat_messages(nested) == {"report.situation": ["unknown"], "child.guardians[1].phone": ["too long"],
                                     "_schema": ["whole"]}


def test_a_body_failing_its_schema_names_the_nested_field_under_json(as_user: Any, error_validator: Any) -> None:
    body = report_payload()
    body["report"]["situation"] = "no-such-situation"
    body["child"]["guardians"][0]["phone"] = 5
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    errors = _refused(resp, 422, error_validator)["errors"]
    assert set(errors) == {"json"}
    assert {"report.situation", "child.guardians[0].phone"} <= set(errors["json"]), errors


def test_a_bad_query_parameter_is_under_query(as_user: Any, error_validator: Any) -> None:
    resp = as_user("police_t01").get("/api/v1/tasks", query_string={"per_page": 0})
    assert set(_refused(resp, 422, error_validator)["errors"]) == {"query"}
    assert "per_page" in resp.get_json()["errors"]["query"]


def test_an_operations_refusal_has_the_same_shape(as_user: Any, error_validator: Any) -> None:
    resp = as_user("reporter_school").post("/api/v1/reports", json=report_payload(village="t99v99"))
    body = _refused(resp, 422, error_validator)
    assert body["message"] == "unknown village" and list(body["errors"]["json"]) == ["child.village"]


def test_text_no_column_can_hold_names_its_field(as_user: Any, error_validator: Any) -> None:
    body = report_payload()
    body["report"]["description"] = "a\x00b"
    resp = as_user("reporter_school").post("/api/v1/reports", json=body)
    assert "report.description" in _refused(resp, 422, error_validator)["errors"]["json"]
    resp = as_user("police_t01").get("/api/v1/tasks", query_string={"step": "a\x00b"})
    assert "step" in _refused(resp, 400, error_validator)["errors"]["query"]


def test_task_form_errors_are_paths_in_the_body_and_nothing_changes(as_user: Any, error_validator: Any) -> None:
    submit_report(as_user("reporter_school"))
    police = as_user("police_t01")
    [task] = [t for t in open_tasks(police) if t["bpmn_id"] == "police_triage"]
    police.post(f"/api/v1/tasks/{task['id']}/claim")
    resp = police.post(f"/api/v1/tasks/{task['id']}/complete",
                       json={"data": {"situation": "living_alone", "dispatched_at": "昨天", "surprise": 1}})
    errors = _refused(resp, 422, error_validator)["errors"]["json"]
    assert {"data.dispatched_at", "data.urgency", "data"} <= set(errors), errors  # extra field: the object's
    bad_key = police.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}},
                                 headers={**police.headers, "Idempotency-Key": "x"})
    assert list(_refused(bad_key, 422, error_validator)["errors"]) == ["headers"]
    assert police.get(f"/api/v1/tasks/{task['id']}").get_json()["state"] == "open"


def test_an_upload_refusal_names_the_file_under_files(as_user: Any, error_validator: Any) -> None:
    submit_report(as_user("reporter_school"))
    police = as_user("police_t01")
    [task] = [t for t in open_tasks(police) if t["bpmn_id"] == "police_triage"]
    resp = police.client.post(f"/api/v1/tasks/{task['id']}/attachments", headers=police.headers,
                              data={"file": (io.BytesIO(b""), "visit.jpg"), "idempotency_key": "upload-empty-0001"},
                              content_type="multipart/form-data")
    assert _refused(resp, 422, error_validator)["errors"] == {"files": {"file": ["the file is empty"]}}


def test_a_form_row_error_has_its_index_in_brackets_on_pages_and_under_data_in_the_api() -> None:
    schema = {"type": "object", "properties": {"rows": {"type": "array", "items": {
        "type": "object", "required": ["phone"], "properties": {"phone": {"type": "string"}}}}}}
    assert [path for path, _ in form_errors(schema, {"rows": [{"phone": "1"}, {}]})] == ["rows[1].phone"]
    with pytest.raises(FormInvalid) as caught:
        validate_form_data(schema, {"rows": [{}]})
    assert caught.value.errors.keys() == {"rows[0].phone"}
    assert caught.value.within("data").errors.keys() == {"data.rows[0].phone"}
    with pytest.raises(FormInvalid) as whole:
        validate_form_data(schema, ["not", "an", "object"])
    assert whole.value.within("data").errors.keys() == {"data"}
