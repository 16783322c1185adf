"""Where audit rows are written (``app.audit.operations``): a change by the operation that makes it, a read
(or a session starting or ending) by the entry point that shows it. Checked over the source, so a new
``audit(...)`` in the wrong place fails here rather than in a review."""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

import pytest

from app.audit.operations import READ_ACTIONS

ROOT = Path(__file__).resolve().parents[2]


def _entry_patterns() -> list[str]:
    """The layering contract's entry points (pyproject.toml), so both checks mean the same modules."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers")
    return list(layers["entry_points"])


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _literals(node: ast.expr | None) -> list[str | None]:
    """The actions an argument can be: a literal, either branch of ``a if c else b``, else None (unknown)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return [*_literals(node.body), *_literals(node.orelse)]
    return [None]


AUDIT_WRITERS = ("audit", "audit_statement")
"""The functions that write an audit row (``audit_statement``: the same row, sent inside the caller's statement)."""


def audit_calls(source: str) -> list[tuple[str | None, int]]:
    """(action, line) of every ``audit(...)`` call; action None when it is not a literal."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in AUDIT_WRITERS:
            for action in _literals(node.args[1] if len(node.args) > 1 else None):
                calls.append((action, node.lineno))
    return calls


def _writers() -> list[tuple[str, bool, str | None, int]]:
    patterns = _entry_patterns()
    found = []
    for path in sorted([*(ROOT / "app").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]):
        module = _module(path)
        if module == "app.audit.operations":
            continue
        entry = any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns)
        for action, line in audit_calls(path.read_text(encoding="utf-8")):
            found.append((f"{module}:{line}", entry, action, line))
    return found


def test_entry_points_audit_reads_and_sessions_only():
    wrong = [(where, action) for where, entry, action, _ in _writers() if entry and action not in READ_ACTIONS]
    assert wrong == []


def test_operations_audit_the_changes_they_make_never_a_read():
    wrong = [(where, action) for where, entry, action, _ in _writers()
             if not entry and (action is None or action in READ_ACTIONS)]
    assert wrong == []


def test_both_kinds_are_written_somewhere():
    writers = _writers()
    assert any(entry for _, entry, _, _ in writers) and any(not entry for _, entry, _, _ in writers)


@pytest.mark.parametrize(("source", "expected"), [
    ('audit(u, "view", "case", 1)', [("view", 1)]),
    ('audit(u, action, "case", 1)', [(None, 1)]),
    ('audit(u, "grant" if on else "revoke", "user", 1)', [("grant", 1), ("revoke", 1)]),
    ('audit_statement(u, "complete", "task", 1)', [("complete", 1)]),
    ('x.audit(u, "view")', []),
])
def test_the_scanner_reads_calls(source, expected):
    assert audit_calls(source) == expected
