"""Server-side validation of task form data against the form's JSON Schema.

The schema comes from the process version the case runs on, so a form edited
for a new version never rejects data meant for the old one.
"""

from __future__ import annotations

from typing import Any

import referencing.exceptions
from jsonschema.exceptions import ValidationError

from app.common.errors import Invalid
from app.common.safe_schema import form_problems, form_validator

# Formats are the 2020-12 ones: ``date-time`` and ``time`` as RFC 3339 (``rfc3339-validator``), ``date``,
# ``email``, ``uri`` (``rfc3986-validator``) ...; ``regex`` means "RE2 can run it" (``app.common.safe_schema``).
# A format whose library is missing passes silently in jsonschema, so ``tests/tasks/test_form_formats.py``
# pins the ones our forms use.


def _path(error: Any) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    if error.validator == "additionalProperties":
        return ".".join(parts) or "_schema"
    return ".".join(p for p in parts if p) or "_schema"


def form_errors(schema: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every validation error as (field path, jsonschema error); pages turn them into friendly text.

    A form that designer rules refuse (a remote ``$ref``, a regex RE2 cannot run) is
    refused here too, so a version deployed before the rule existed cannot fetch or hang.
    """
    problems = form_problems(schema)
    if problems:
        return [("_schema", ValidationError(f"this step's form cannot be used: {p}")) for p in problems]
    validator = form_validator(schema)
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    except referencing.exceptions.Unresolvable as exc:
        return [("_schema", ValidationError(f"this step's form refers to something it does not contain: {exc}"))]
    return [(_path(e), e) for e in errors]


def validate_form_data(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Return ``data`` if valid; raise ``Invalid`` (HTTP 422) with errors per field otherwise."""
    if not isinstance(data, dict):
        raise Invalid("form data must be a JSON object", {"_schema": ["expected an object"]})
    if schema is None:
        if data:
            raise Invalid("this step takes no form data", {"_schema": ["no fields expected"]})
        return {}
    errors: dict[str, list[str]] = {}
    for path, error in form_errors(schema, data):
        errors.setdefault(path, []).append(error.message)
    if errors:
        raise Invalid("form data is not valid", errors)
    return data
