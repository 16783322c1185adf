"""JSON Schema validation of designer-written forms that cannot reach the network or hang on a regex.

A form is designer content, so it is untrusted (DESIGN.md, security posture):

* ``$ref`` resolves only inside the form. jsonschema 4.26 by default *fetches* a
  remote ``$ref`` (``http:``, and through ``urlopen`` also ``file:``); our
  validators use a ``referencing`` registry whose retrieve function refuses every
  URI, and ``form_problems`` refuses at save any ``$ref``/``$dynamicRef`` that is
  not a fragment of the form itself.
* ``pattern``, ``patternProperties`` (and the ``additionalProperties`` check that
  reads them) and ``format: regex`` run on RE2, which matches in linear time: the
  classic ``(a+)+$`` against ``"a" * 40 + "!"`` answers in microseconds instead of
  hours. Patterns RE2 cannot compile (back-references, look-around) are refused at
  save with the pattern named; at run time they fail validation, never the server.
* ``unevaluatedProperties`` would evaluate ``patternProperties`` with Python's
  ``re`` inside jsonschema, and a nested ``$schema`` would switch to a stock
  validator class: both are refused.

``form_problems`` is the one list of reasons; designer saves, deploys and every
run-time validation ask it, so an old version deployed before a rule existed is
refused at use with the same words.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import re2
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema import _keywords as stock_keywords
from jsonschema.exceptions import ValidationError

MAX_REGEX_MEMORY = 4 << 20
"""RE2's program + DFA memory per pattern; bigger patterns (``a{1000}{1000}``) are refused."""

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_REGEX_MEMORY
_OPTIONS.log_errors = False  # RE2 would print refused patterns (designer text) to stderr
_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose values are data, not schemas: their contents are never refs or patterns."""


class RegexRefused(ValueError):
    """A pattern RE2 cannot run in linear time (back-reference, look-around, too large)."""


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Any:
    """The RE2 program for ``pattern``, or ``RegexRefused`` saying why RE2 cannot run it."""
    if not isinstance(pattern, str):
        raise RegexRefused("a pattern must be a string")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise RegexRefused(reason) from None


def _refuse_retrieval(uri: str) -> referencing.Resource[Any]:
    """The registry's retrieve hook: nothing outside the form is ever fetched, read or looked up."""
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs field mypy misses on a KeyError subclass


_NO_RETRIEVAL: referencing.Registry[Any] = referencing.Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- keywords on RE2


def _search(pattern: str, text: str) -> bool:
    return compile_regex(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = _search(pattern, instance)
    except RegexRefused as exc:
        yield ValidationError(f"the form's pattern {pattern!r} cannot be used: {exc}")
        return
    if not matched:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any,
                        schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        try:
            compile_regex(pattern)
        except RegexRefused as exc:
            yield ValidationError(f"the form's pattern {pattern!r} cannot be used: {exc}")
            continue
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """Only the ``patternProperties`` case reads regexes; everything else is jsonschema's own keyword."""
    if "patternProperties" not in schema or not validator.is_type(instance, "object"):
        yield from stock_keywords.additionalProperties(validator, additional, instance, schema)
        return
    known = schema.get("properties", {})
    patterns = [p for p in schema["patternProperties"] if _compiles(p)]
    extras = sorted((key for key in instance if key not in known and not any(_search(p, key) for p in patterns)),
                    key=str)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        names = ", ".join(repr(extra) for extra in extras)
        yield ValidationError(f"{names} match none of the patterns {sorted(schema['patternProperties'])}")


def _compiles(pattern: str) -> bool:
    try:
        compile_regex(pattern)
    except RegexRefused:
        return False
    return True


def _format_checker() -> FormatChecker:
    """Draft 2020-12's format checks (not every draft's), with ``regex`` on RE2."""
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)

    @checker.checks("regex", raises=RegexRefused)
    def _is_regex(instance: object) -> bool:
        if isinstance(instance, str):
            compile_regex(instance)
        return True

    return checker


FORMAT_CHECKER = _format_checker()
"""jsonschema's format checks, with ``regex`` meaning "RE2 can run it"."""

FormValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)
"""Draft 2020-12 with every regex on RE2 (build it through ``form_validator``, which adds the registry)."""


# --------------------------------------------------------------------------- save-time problems


def _walk(node: Any, path: str, top: bool) -> Iterator[tuple[str, str, Any]]:
    """(json path, keyword, value) of every keyword in the schema, not descending into data values."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                continue
            yield path, key, (value, top)
            if key in _DATA_KEYWORDS or key.startswith("x-"):
                continue
            yield from _walk(value, f"{path}/{key}", False)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}/{index}", False)


def _ref_problem(ref: Any, resolver: Any) -> str | None:
    if not isinstance(ref, str):
        return None  # the meta-schema check words this one
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or parts.path or not ref.startswith("#"):
        return (f"$ref {ref!r} points outside the form: a form may refer only to its own parts "
                "(\"#/$defs/name\"); no network, files or shared registries")
    try:
        resolver.lookup(ref)
    except referencing.exceptions.Unresolvable:
        return f"$ref {ref!r} names no part of the form"
    return None


def _problems(schema: Any) -> list[str]:
    if not isinstance(schema, dict):
        return []
    found: list[str] = []
    resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
    resolver = _NO_RETRIEVAL.resolver_with_root(resource)
    has_pattern_properties = has_unevaluated = False
    for path, key, (value, top) in _walk(schema, "", True):
        where = path or "/"
        if key in ("$ref", "$dynamicRef"):
            problem = _ref_problem(value, resolver)
            if problem:
                found.append(f"at {where}: {problem}")
        elif key == "$id" and not top:
            # A nested $id moves the base its refs resolve against: "#/properties/x" checked
            # against the form here would point into the sub-schema when the form is used.
            found.append(f"at {where}: $id {value!r} is not allowed inside a form (refs resolve "
                         "against the whole form; use $defs and \"#/$defs/name\")")
        elif key == "$schema" and (not top or value != _DRAFT_2020_12):
            found.append(f"at {where}: $schema {value!r} is not allowed (forms are JSON Schema 2020-12; "
                         "leave $schema out or set it once, at the top)")
        elif key == "pattern" and isinstance(value, str):
            found.extend(_regex_problem(where, value))
        elif key == "patternProperties" and isinstance(value, dict):
            has_pattern_properties = True
            for pattern in value:
                found.extend(_regex_problem(where, pattern))
        elif key == "unevaluatedProperties":
            has_unevaluated = True
    if has_pattern_properties and has_unevaluated:
        found.append("unevaluatedProperties cannot be combined with patternProperties in a form "
                     "(use additionalProperties)")
    return found


def _regex_problem(where: str, pattern: str) -> list[str]:
    try:
        compile_regex(pattern)
    except RegexRefused as exc:
        return [f"at {where}: pattern {pattern!r} cannot be used ({exc}); patterns run on RE2, which has "
                "no back-references or look-around but never takes more than linear time"]
    return []


@functools.lru_cache(maxsize=1024)
def _problems_of_text(text: str) -> tuple[str, ...]:
    return tuple(_problems(json.loads(text)))


def form_problems(schema: Any) -> list[str]:
    """Why ``schema`` may not be used as a form (remote ``$ref``, a regex RE2 refuses ...); empty when fine."""
    try:
        text = json.dumps(schema, ensure_ascii=False, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError):
        return _problems(schema)
    return list(_problems_of_text(text))


def form_validator(schema: Any) -> Any:
    """A validator for ``schema`` that never fetches anything and runs every regex on RE2."""
    return FormValidator(schema, registry=_NO_RETRIEVAL, format_checker=FORMAT_CHECKER)
