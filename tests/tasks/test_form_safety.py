"""A designer's form cannot make the server fetch anything or spend seconds on a regex.

The forms validated here come from process designers (untrusted). Before the fix
jsonschema fetched a remote ``$ref`` with ``urlopen`` (``http:`` and ``file:``) and
ran ``pattern`` on Python's backtracking ``re``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from webhelpers import serving

from app.common.errors import Invalid
from app.tasks.forms import form_errors, validate_form_data

BOMB_PATTERN = "^(a+)+$"
BOMB_TEXT = "a" * 40 + "!"


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Recorder.hits.append(self.path)
        body = b'{"type": "string", "maxLength": 1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    """A real HTTP server a hostile form points at; it records every request it gets."""
    _Recorder.hits = []
    with serving(HTTPServer(("127.0.0.1", 0), _Recorder)) as base:
        yield base


def _schema(ref: str) -> dict:
    return {"type": "object", "properties": {"name": {"$ref": ref}}}


def test_remote_ref_is_never_fetched_and_the_data_is_refused(peer: str) -> None:
    with pytest.raises(Invalid) as caught:
        validate_form_data(_schema(f"{peer}/evil.json"), {"name": "xx"})
    assert _Recorder.hits == []
    assert "outside the form" in str(caught.value.errors["_schema"])


def test_file_ref_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "string", "description": "TOP-SECRET"}')
    errors = form_errors(_schema(secret.as_uri()), {"name": "x"})
    assert [path for path, _ in errors] == ["_schema"]
    assert "TOP-SECRET" not in str([e.message for _, e in errors])
    assert "outside the form" in errors[0][1].message


def test_ref_inside_the_form_still_works() -> None:
    schema = {"type": "object", "$defs": {"short": {"type": "string", "maxLength": 2}},
              "properties": {"name": {"$ref": "#/$defs/short"}}}
    assert validate_form_data(schema, {"name": "ab"}) == {"name": "ab"}
    with pytest.raises(Invalid) as caught:
        validate_form_data(schema, {"name": "abc"})
    assert list(caught.value.errors) == ["name"]


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"code": {"type": "string", "pattern": BOMB_PATTERN}}},
    {"type": "object", "patternProperties": {BOMB_PATTERN: {"type": "string"}}, "additionalProperties": False},
    {"type": "object", "properties": {"code": {"type": "string", "format": "regex"}}},
], ids=["pattern", "patternProperties", "format-regex"])
def test_backtracking_pattern_is_answered_in_milliseconds(schema: dict) -> None:
    data = {BOMB_TEXT: "x"} if "patternProperties" in schema else {"code": BOMB_TEXT}
    started = time.perf_counter()
    errors = form_errors(schema, data)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"validation took {elapsed:.2f}s"
    if "format" not in str(schema):
        assert errors  # the text matches neither pattern


def test_patterns_keep_their_meaning_on_re2() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": r"^\d{17}[\dX]$"}},
              "patternProperties": {"^x_": {"type": "integer"}}, "additionalProperties": False}
    assert form_errors(schema, {"id": "11010119900307123X", "x_n": 3}) == []
    paths = sorted(path for path, _ in form_errors(schema, {"id": "1", "x_n": "a", "other": 1}))
    assert paths == ["_schema", "id", "x_n"]


def test_pattern_re2_cannot_run_fails_validation_not_the_server() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": r"(a)\1"}}}
    with pytest.raises(Invalid) as caught:
        validate_form_data(schema, {"a": "aa"})
    assert "cannot be used" in str(caught.value.errors)
