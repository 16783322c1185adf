"""The OpenAPI document names each error an operation gives, with the body it really has (issue 10 part 7).

The fuzzer (tests/test_api_fuzz.py) checks generated requests against the document; these tests pin
the parts of the document it relies on, so a regression shows here by name, not as a fuzz failure.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from flask import Flask

METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return dict(resp.get_json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in METHODS]


def test_no_operation_hides_its_errors_behind_a_catch_all_default(document: dict[str, Any]) -> None:
    with_default = [f"{m.upper()} {p}" for m, p, op in _operations(document) if "default" in op["responses"]]
    assert with_default == []


def test_every_operation_documents_the_errors_its_declaration_implies(document: dict[str, Any]) -> None:
    missing = []
    for method, path, op in _operations(document):
        statuses = set(op["responses"])
        expected = {"400"}  # a query with NUL or lone surrogates, before any view
        if op.get("security"):
            expected |= {"401", "403", "429"}
        if "{" in path:
            expected.add("404")
        if op.get("requestBody"):
            expected.add("422")
        if not expected <= statuses:
            missing.append((method.upper(), path, sorted(expected - statuses)))
        if not any(s.startswith("2") for s in statuses):
            missing.append((method.upper(), path, ["2xx"]))
    assert missing == []


def test_every_4xx_of_every_operation_is_the_one_error_component(document: dict[str, Any]) -> None:
    """Integrations read one error shape (issue 16 part 4): each 4xx answers ``ApiError``, no inline variant."""
    one = {"$ref": "#/components/schemas/ApiError"}
    # RFC 6749 5.2 asks the token endpoint for `error` and `error_description`: the one shape plus those two
    oauth = {"$ref": "#/components/schemas/TokenError"}
    other = []
    for method, path, op in _operations(document):
        for status, response in op["responses"].items():
            if str(status).startswith("4"):
                content = _resolve(document, response).get("content", {})
                expected = oauth if path == "/api/v1/oauth/token" and str(status) in ("400", "401", "429") else one
                if list(content) != ["application/json"] or content["application/json"]["schema"] != expected:
                    other.append((method.upper(), path, status))
    assert other == []
    fields = document["components"]["schemas"]["ApiError"]["properties"]
    # the envelope, and the few refusals that say more than a message beside it (none of them required)
    assert set(fields) == {"code", "status", "message", "errors", "messages", "conflict", "completed_by_you"}
    assert set(document["components"]["schemas"]["ApiError"]["required"]) == {"code", "status", "message"}
    oauth_fields = document["components"]["schemas"]["TokenError"]["properties"]
    assert set(oauth_fields) == {*fields, "error", "error_description"}
    assert fields["errors"]["additionalProperties"]["additionalProperties"]["items"] == {"type": "string"}


def test_the_token_throttle_is_documented_with_its_retry_after(document: dict[str, Any]) -> None:
    response = _resolve(document, document["paths"]["/api/v1/tasks"]["get"]["responses"]["429"])
    assert "Retry-After" in response["headers"]
    exchange = _resolve(document, document["paths"]["/api/v1/oauth/token"]["post"]["responses"]["429"])
    assert "Retry-After" in exchange["headers"]  # refused client credentials count with refused tokens


def test_writes_document_409_and_reads_do_not(document: dict[str, Any]) -> None:
    ops = {(m, p): op for m, p, op in _operations(document)}
    assert "409" in ops[("post", "/api/v1/tasks/{task_id}/complete")]["responses"]
    assert "409" in ops[("post", "/api/v1/tasks/{task_id}/claim")]["responses"]
    assert "409" not in ops[("get", "/api/v1/tasks/{task_id}")]["responses"]


def _resolve(document: dict[str, Any], ref_or_obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in ref_or_obj:
        node: Any = document
        for part in ref_or_obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        ref_or_obj = node
    return ref_or_obj


def _error_body_validator(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    response = _resolve(document, document["paths"][path][method]["responses"][status])
    schema = response["content"]["application/json"]["schema"]
    return jsonschema.Draft4Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize(("method", "path", "status", "kwargs"), [
    ("get", "/api/v1/tasks/999", "401", {}),
    ("get", "/api/v1/tasks/999", "404", {"auth": True}),
    ("post", "/api/v1/tasks/999/complete", "422", {"auth": True, "json": {"data": "not an object"}}),
    ("get", "/api/v1/jobs/failed", "403", {"auth": True}),
    ("get", "/api/v1/tasks/999", "400", {"auth": True, "query_string": {"step": "a\x00b"}}),
])
def test_error_bodies_match_their_documented_schema(app: Flask, as_user: Any, document: dict[str, Any],
                                                    method: str, path: str, status: str,
                                                    kwargs: dict[str, Any]) -> None:
    api = as_user("police_t01")
    headers = api.headers if kwargs.pop("auth", False) else {}
    resp = api.client.open(path, method=method.upper(), headers=headers, **kwargs)
    assert str(resp.status_code) == status, resp.get_json()
    template = path.replace("999", "{task_id}")
    validator = _error_body_validator(document, template, method, status)
    validator.validate(resp.get_json())


def test_a_draft_upload_without_name_or_content_is_422_not_500(as_user: Any) -> None:
    designer = as_user("designer")
    draft = designer.post("/api/v1/processes/drafts", json={"process_key": "four_in_one"}).get_json()
    resp = designer.post(f"/api/v1/processes/drafts/{draft['id']}/files", json={"content": 3})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert set(resp.get_json()["errors"]["json"]) == {"name", "content"}


def test_an_element_name_with_control_characters_is_422_not_500(as_user: Any) -> None:
    designer = as_user("designer")
    draft = designer.post("/api/v1/processes/drafts", json={"process_key": "four_in_one"}).get_json()
    for body in ({"name": "警情\u0005研判"}, {"properties": {"deadline": "P1D\u0000"}}):
        resp = designer.client.patch(f"/api/v1/processes/drafts/{draft['id']}/elements/police_triage",
                                     json=body, headers=designer.headers)
        assert resp.status_code == 422, resp.get_data(as_text=True)
    resp = designer.client.patch(f"/api/v1/processes/drafts/{draft['id']}/elements/police_triage",
                                 json={"name": "警情研判\t（派出所）"}, headers=designer.headers)
    assert resp.status_code == 200, resp.get_json()


def test_deploying_earlier_content_again_is_a_documented_200(as_user: Any, document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/processes/drafts/{draft_id}/deploy"]["post"]["responses"]
    assert {"200", "201"} <= set(responses)
    designer = as_user("designer")
    draft = designer.post("/api/v1/processes/drafts", json={"process_key": "four_in_one"}).get_json()
    resp = designer.post(f"/api/v1/processes/drafts/{draft['id']}/deploy", json={"note": "同样的内容"})
    assert resp.status_code == 200, resp.get_json()  # the demo county deployed this content already
