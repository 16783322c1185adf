"""Bounds on what a request may carry, so bad input is a 4xx before it reaches the database.

Every id column is a PostgreSQL ``integer``; an id beyond it cannot exist, so a path with one is a 404
and a body or filter with one is a 422. Request JSON is parsed with a nesting limit and refuses lone
surrogates (they cannot be stored as UTF-8).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from flask.json.provider import DefaultJSONProvider
from marshmallow import ValidationError, fields, validate
from werkzeug.routing import IntegerConverter, Map

from app.common.api import domain_error_response
from app.common.errors import WHOLE, DomainError
from app.common.pages import error_page

MAX_ID = 2**31 - 1
"""The largest value of a PostgreSQL ``integer`` column (every id and foreign key)."""

MAX_COUNT = 1_000_000
"""Pages, counts and other small numbers in filters."""


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` for every route: a number beyond an id column is a 404, not a database overflow."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max,
                         signed=signed)


def Id(**kwargs: Any) -> fields.Integer:  # noqa: N802 - reads like a field class in schemas
    """An id in a body or query: a positive integer that fits the column (422 otherwise)."""
    kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
    return fields.Integer(strict=kwargs.pop("strict", False), **kwargs)


FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)
"""Dates outside these years are typing errors here, and near year 1 or 9999 shifting to UTC or adding a
day overflows Python's datetime: refused with 422 instead."""


def check_day(day: date | datetime) -> None:
    """Raise marshmallow's ``ValidationError`` for a day or moment outside FIRST_DAY..LAST_DAY."""
    value = day.date() if isinstance(day, datetime) else day
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")


def Day(**kwargs: Any) -> fields.Date:  # noqa: N802 - reads like a field class in schemas
    """A calendar day in a body or query, between FIRST_DAY and LAST_DAY (422 otherwise)."""
    return fields.Date(validate=check_day, **kwargs)


def Moment(**kwargs: Any) -> fields.AwareDateTime:  # noqa: N802
    """A date-time with an offset, between FIRST_DAY and LAST_DAY (422 otherwise)."""
    return fields.AwareDateTime(validate=check_day, **kwargs)


def bounded_int(raw: str | None, maximum: int = MAX_ID) -> int | None:
    """A page's query or form number: ``None`` unless it is plain digits within ``maximum``."""
    raw = (raw or "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return None
    value = int(raw)
    return value if value <= maximum else None


MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays a request body may have; forms nest a handful of levels."""

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


class JsonRefused(ValueError):
    """A request body that parses but must not be processed; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        """The path of the text at fault (``app.common.errors.field_path``), when one field is."""


def json_depth(text: str) -> int:
    """The deepest nesting in ``text``, counted without recursion (strings skipped)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: searched by ``re`` in C, not a Python loop over each character (every non-ASCII
JSON body's strings are checked; Chinese text made that loop ~1 % of a page test's time)."""


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (PostgreSQL refuses NUL; UTF-8 has no lone surrogates), or None."""
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    if _SURROGATE.search(text) is not None:
        return "a lone surrogate (\\ud800-\\udfff), not valid Unicode"
    return None


def _bad_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """(where, why) for the first string in ``value`` that cannot be stored."""
    if isinstance(value, str):
        why = unstorable(value)
        return (path or "$", why) if why else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _bad_text(key, f"{path}.{key!r}") or _bad_text(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _bad_text(item, f"{path}[{i}]")
            if found:
                return found
    return None


def loads_bounded(data: str | bytes) -> Any:
    """``json.loads`` for untrusted bodies: refuse deep nesting (400), NUL and lone surrogates (422)."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and json_depth(text) > MAX_JSON_DEPTH:
        raise JsonRefused(f"JSON nested too deep (more than {MAX_JSON_DEPTH} levels)", 400)
    value = json.loads(text)
    if "\\u" in text or not text.isascii():
        found = _bad_text(value)
        if found:
            where = found[0].lstrip(".")
            raise JsonRefused(f"text at {where} holds {found[1]}: it cannot be stored", 422,
                              field=WHOLE if where == "$" else where)
    return value


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider whose ``loads`` (``request.get_json``) refuses deep or broken text."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads_bounded(s)


def check_request_text() -> Any:
    """``before_request``: a JSON body too deep, or text no database column can hold (NUL, lone
    surrogates) in the JSON, the query or a form, is refused before any view or argument parser
    (webargs parses with plain ``json.loads``) sees it."""
    from flask import request

    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (why := unstorable(value)):
            return _refusal(f"path part {name!r} holds {why}: nothing has that name", 404)
    for source, values, status in (("query", request.args, 400), ("form", _form_fields(), 422)):
        for key, value in values.items(multi=True):
            if why := unstorable(key) or unstorable(value):
                return _refusal(f"{source} field {key!r} holds {why}: it cannot be stored", status,
                                None if unstorable(key) else {key: [f"holds {why}"]}, source)
    if not request.is_json or not request.content_length and not request.get_data(cache=True):
        return None
    try:
        loads_bounded(request.get_data(cache=True))
    except JsonRefused as exc:
        return _refusal(exc.message, exc.status, {exc.field: [exc.message]} if exc.field else None, "json")
    except ValueError:
        return None  # not JSON at all: the parser answers 400 as before
    return None


def _form_fields() -> Any:
    """The request's form fields (not its files) when it posts a form; empty otherwise."""
    from flask import request
    from werkzeug.datastructures import MultiDict

    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form
    return MultiDict()


def _refusal(message: str, status: int, errors: dict[str, list[str]] | None = None,
             location: str | None = None) -> Any:
    from flask import request

    error = DomainError(message, errors, location=location)
    error.status = status
    if request.path.startswith("/api/"):
        return domain_error_response(error)

    return error_page(status, message)


def bounded_ints(values: list[str]) -> list[int]:
    """The values of a repeated form field that are ids (see ``bounded_int``); the others are dropped."""
    return [n for n in map(bounded_int, values) if n is not None]
