"""Server-side validation of task form data against the form's JSON Schema.

The schema comes from the process version the case runs on, so a form edited
for a new version never rejects data meant for the old one.
"""

from __future__ import annotations

from typing import Any

import referencing.exceptions
from jsonschema.exceptions import ValidationError

from app.common.errors import WHOLE, Invalid, field_path
from app.common.safe_schema import form_problems, form_validator

# Formats are the 2020-12 ones: ``date-time`` and ``time`` as RFC 3339 (``rfc3339-validator``), ``date``,
# ``email``, ``uri`` (``rfc3986-validator``) ...; ``regex`` means "RE2 can run it" (``app.common.safe_schema``).
# A format whose library is missing passes silently in jsonschema, so ``tests/tasks/test_form_formats.py``
# pins the ones our forms use.


def _path(error: Any) -> str:
    """The field's path as every error names it (``relatives[0].phone``, ``app.common.errors.field_path``)."""
    parts: list[str | int] = list(error.absolute_path)
    if error.validator == "required" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return field_path(parts)


class FormInvalid(Invalid):
    """Form data that fails the step's form; ``errors`` is keyed by the path inside the form data, which the
    API puts under the body field holding the data (``within``)."""

    def within(self, field: str) -> Invalid:
        """The same refusal with each path under ``field`` (``phone`` -> ``data.phone``), for a JSON body."""
        errors = {field if path == WHOLE else f"{field}.{path}": messages for path, messages in self.errors.items()}
        return Invalid(self.message, errors, location="json")


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
    return [(_path(e), e) for e in errors] + _undeclared(schema, data)


OPEN_KEYWORDS = frozenset({"additionalProperties", "patternProperties", "unevaluatedProperties", "allOf", "anyOf",
                           "oneOf", "if", "then", "else", "$ref", "$dynamicRef", "dependentSchemas"})
"""Keywords with which a form says for itself which other fields it takes (or takes them from elsewhere)."""


def _undeclared(schema: dict[str, Any], data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The fields a form does not declare, each refused (unless the form says itself what else it takes).

    JSON Schema lets any other field through by default, and what a step submits becomes the process's variables:
    a field the form does not show could overwrite one that another department's step set (the situation that routes the
    case, a decision), or one a later script reads, and that step would then fail for good. The shipped forms close
    themselves with ``"additionalProperties": false``; a form that does not is closed here."""
    fields = schema.get("properties", {})  # a form of no fields takes none
    if not isinstance(fields, dict) or not OPEN_KEYWORDS.isdisjoint(schema):
        return []
    return [(field_path([name]), ValidationError(f"{name!r} is not a field of this step's form"))
            for name in data if name not in fields]


def validate_form_data(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Return ``data`` if valid; raise ``Invalid`` (HTTP 422) with errors per field otherwise."""
    if not isinstance(data, dict):
        raise FormInvalid("form data must be a JSON object", {WHOLE: ["expected an object"]})
    if schema is None:
        if data:
            raise FormInvalid("this step takes no form data", {WHOLE: ["no fields expected"]})
        return {}
    errors: dict[str, list[str]] = {}
    for path, error in form_errors(schema, data):
        errors.setdefault(path, []).append(error.message)
    if errors:
        raise FormInvalid("form data is not valid", errors)
    return data
