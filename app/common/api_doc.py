"""The OpenAPI document names every error an operation can answer, not a catch-all ``default``.

Integrations are generated from ``/api/v1/openapi.json`` and the fuzzer (``tests/test_api_fuzz.py``)
checks every answer against it, so each operation lists the statuses it really gives. The ones that
follow from how an operation is declared are added here, once, by an apispec plugin:

- 401 on every operation with bearer security (``@blp.endpoint`` authenticates before anything else),
  403 (every such operation decides who may act: role, unit, need to know; DESIGN.md: a missing
  basis means no access) and 429 with ``Retry-After`` (too many refused tokens from one address,
  ``app/org/throttle.py``);
- 404 on every operation with a path parameter (an id or key that names nothing);
- 400 on every operation: a query holding text no column can hold (NUL, lone surrogates) is refused
  before any view (``app/common/inputs.py``), as is a body that is not JSON or nests too deep;
- 422 on every operation with a JSON body (fails its schema);
- 422 on every operation with query parameters (fails their schema).

409 is documented by ``@blp.endpoint`` on every write (a write that meets a concurrent change, or a state that forbids
it); anything else an operation answers is declared on its view with ``@blp.alt_response``.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from apispec import BasePlugin
from marshmallow import Schema, fields, validate

from app.common.downloads import DOWNLOAD_CONTENT_TYPE

LOCATIONS = ("json", "query", "form", "files", "headers", "cookies", "path")
"""Where the fields at fault of an error are (webargs' location names): the first key of ``errors``."""


class ApiError(Schema):
    """Every API error (each 4xx and 5xx of every operation): what went wrong for a person, and the fields at
    fault by location and path. flask-smorest's envelope (``code``, ``status``, ``message``, ``errors`` by
    webargs location), with each location's errors flat by the field's path (docs/api.md, "Errors")."""

    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    status = fields.String(required=True, metadata={"description": "the HTTP status name"})
    message = fields.String(required=True, metadata={"description": "what went wrong, for a person"})
    errors = fields.Dict(
        keys=fields.String(validate=validate.OneOf(LOCATIONS)),
        values=fields.Dict(keys=fields.String(), values=fields.List(fields.String())),
        metadata={"description": "the fields at fault: location (`json`, `query`, `form`, `files`, `headers`) -> "
                                 "field path (`child.village`, `data.relatives[0].phone`; `_schema` for the whole "
                                 "input) -> messages. Present when fields are at fault.",
                  "example": {"json": {"child.village": ["no village with code '999'"]}}})
    messages = fields.List(fields.Dict(), metadata={
        "description": "a process draft that cannot be deployed or test-run: the validation messages, each naming "
                       "its element (level, rule, element_id, element_name, file, message, text)"})
    conflict = fields.Dict(metadata={
        "description": "409 on a completion: the task as you sent it and as it is now, field by field"})
    completed_by_you = fields.String(metadata={
        "description": "409 on a repeated completion: when you completed the step (ISO 8601)"})


BINARY = {"type": "string", "format": "binary"}
"""The schema of a file body (downloads, exports)."""


def download_responses(blp: Any) -> Any:
    """``@download_responses(blp)``: the view answers 200 with a file as an attachment (``file_download``)."""
    return blp.alt_response(200, success=True, content_type=DOWNLOAD_CONTENT_TYPE, schema=BINARY,
                            description="the file, as an attachment")


HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


class ErrorResponsesPlugin(BasePlugin):
    """Adds the error responses an operation's declaration implies (module docstring)."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            implied = implied_errors(path or "", operation)
            for status, name in implied.items():
                if status not in responses and str(status) not in responses:
                    responses[status] = name


TOO_MANY_REFUSED_TOKENS = {
    "description": "too many refused tokens from this address; wait the seconds in Retry-After",
    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}},
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
}


def implied_errors(path: str, operation: dict[str, Any]) -> dict[int, Any]:
    """Status -> response (a component name or an inline response), for what the declaration implies."""
    errors: dict[int, Any] = {400: "BAD_REQUEST"}
    if operation.get("security"):
        errors[401] = "UNAUTHORIZED"
        errors[403] = "FORBIDDEN"
        errors[429] = TOO_MANY_REFUSED_TOKENS
    if "{" in path:
        errors[404] = "NOT_FOUND"
    if operation.get("requestBody"):
        errors[422] = "UNPROCESSABLE_ENTITY"
    if any(isinstance(p, dict) and p.get("in") == "query" for p in operation.get("parameters", [])):
        errors[422] = "UNPROCESSABLE_ENTITY"
    return errors


def document_response(view: Any, status: int, name: str) -> None:
    """Record on ``view`` (as ``@blp.alt_response(status, response=name)`` would) that it may answer ``status``."""
    doc = deepcopy(getattr(view, "_apidoc", {}))
    doc.setdefault("response", {}).setdefault("responses", {}).setdefault(status, []).append(name)
    view._apidoc = doc
