"""The restricted environment every BPMN script, condition, timer and DMN expression runs in.

SpiffWorkflow 3.2.0 runs process Python through plain ``eval``/``exec`` with full
builtins. A BPMN author is not trusted with the worker process, so we replace
that environment (DESIGN.md: the engine boundary):

* code is compiled with RestrictedPython plus a stricter policy (no imports, no
  ``try``/``with``/``class``, no calls to introspection builtins, no ``_names``);
* attribute, item, iteration and write access go through guards;
* the only names in scope are the task's own data, the helper allow-list and a
  small set of safe builtins - no modules, no app objects, no DB handles;
* a step budget (executed lines) and a time budget (CPU seconds of the running
  thread) are enforced with a ``sys.settrace`` tracer that chains to any tracer
  already installed (coverage).

What is bounded and what is not
-------------------------------
Bounded: executed lines of script code (``step_budget``; a loop that jumps to
itself, ``while True: pass``, emits no line events in CPython 3.11, so such code
objects are traced per opcode and each iteration counts as a line); the running
thread's CPU time, read every ``CLOCK_EVERY`` counted lines and Python-level calls
(``time_budget``: CPU, not wall, time, so a busy machine does not refuse a script
that is fine, and the clock, a system call, is not paid on every line);
integer size through ``*``, ``**``, ``<<``, ``pow`` and ``int()`` (``MAX_INT_BITS``);
str/bytes/list/tuple growth through ``+``, ``*``, ``+=``, ``*=``, ``[*a, *b]``,
slice assignment, ``list.extend``, ``sum``,
``str.join/replace/ljust/rjust/center/zfill/expandtabs/translate`` (checked before)
and ``upper/lower/casefold/title/capitalize/swapcase/encode/decode`` (checked
after; they grow at most ~4x) (``MAX_SEQUENCE_LENGTH``); ``range`` length;
``round`` digits; rendering through ``str``, ``repr``, f-strings, ``%`` formatting
and ``print`` (``MAX_RENDER_SIZE``, which also catches aliasing bombs such as
``[[0] * 10**6] * 10**6``); the size of the task data a script leaves behind
(``MAX_DATA_SIZE``; it is persisted as JSON).

Not bounded: a single C-level operation cannot be interrupted by the tracer, so
one call that is slow on bounded-size inputs (sorting a million items, or
``max``/``==`` over structures built by appending the same big list many times)
runs to completion; memory is only bounded through the growth paths above, not
globally. Workers must still run with a job timeout and a memory limit as the
last line of defence. Helpers are trusted code: their lines are not counted
(time is still checked on their Python calls) and they must not return objects
that expose dangerous public attributes. The line-event behaviour is CPython
3.11's; ``tests/engine/test_sandbox.py`` covers the loop shapes to re-check on
an upgrade.
"""

from __future__ import annotations

import ast
import dis
import functools
import keyword
import sys
from collections.abc import Callable, Mapping, MutableMapping
from types import CodeType, MappingProxyType
from typing import Any, Literal, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .fast_lane import FAST_GUARDS, after_script, gate
from .isolation import note_element
from .sandbox_budget import Budget, ScriptCodes, configure_budgets, default_budgets
from .sandbox_builtins import _BASE_BUILTINS, _check_reserved
from .sandbox_guards import _check_render_size
from .sandbox_helpers import DEFAULT_HELPERS, add_days, contains_any, days_between
from .sandbox_limits import (
    FORBIDDEN_ATTRIBUTES,
    MAX_DATA_SIZE,
    MAX_INT_BITS,
    MAX_RENDER_SIZE,
    MAX_SEQUENCE_LENGTH,
    SCRIPT_FILENAME,
    ScriptBudgetExceeded,
    ScriptError,
    ScriptForbidden,
    ScriptNameConflict,
    ScriptSyntaxError,
    find_script_error,
)

__all__ = [
    "DEFAULT_HELPERS", "MAX_DATA_SIZE", "MAX_INT_BITS", "MAX_RENDER_SIZE", "MAX_SEQUENCE_LENGTH",
    "RestrictedScriptEnvironment", "ScriptBudgetExceeded", "ScriptError", "ScriptForbidden",
    "ScriptNameConflict", "ScriptSyntaxError", "add_days", "check_source", "configure_budgets", "contains_any",
    "check_data_size", "days_between",
    "find_script_error", "make_script_engine",
]

Mode = Literal["eval", "exec"]
Helpers = Mapping[str, Callable[..., Any]]


# --------------------------------------------------------------------------- compile-time policy

FORBIDDEN_CALLS = frozenset({
    "open", "compile", "globals", "locals", "vars", "dir", "getattr", "setattr", "delattr",
    "hasattr", "type", "breakpoint", "input", "help", "exit", "quit", "memoryview", "object",
    "super", "classmethod", "staticmethod", "property", "id", "hash", "bytearray", "reload",
    "execfile", "file", "copyright", "credits", "license",
})
"""Builtins a script may not call; ``eval``/``exec``/``__import__`` RestrictedPython refuses itself.

Only *calls* are refused at compile time: task data may well have a field named
``open`` or ``type`` that a condition reads. None of these exist at runtime either.
"""

"""Public attribute names that lead to escapes or bypass a guard.

``str.format`` reads arbitrary attributes; ``mro`` finds ``object``; ``int.from_bytes``
builds an unbounded integer.
"""

_GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "_add_", ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Mod: "_mod_",
}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, tightened for process scripts and with size-guarded operators."""

    def _refuse(self, node: ast.AST, what: str) -> ast.AST:
        self.error(node, what)
        return node

    def visit_Import(self, node: ast.Import) -> Any:
        names = ", ".join(alias.name for alias in node.names)
        return self._refuse(node, f'"import {names}" is not allowed: process scripts cannot import modules')

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return self._refuse(
            node, f'"from {node.module or "."} import ..." is not allowed: process scripts cannot import modules')

    def visit_Try(self, node: ast.Try) -> Any:
        return self._refuse(node, "try/except is not allowed in process scripts (it could swallow sandbox limits)")

    def visit_TryStar(self, node: ast.AST) -> Any:
        return self._refuse(node, "try/except* is not allowed in process scripts")

    def visit_With(self, node: ast.With) -> Any:
        return self._refuse(node, "with-statements are not allowed in process scripts")

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        return self._refuse(node, "class definitions are not allowed in process scripts")

    def visit_Global(self, node: ast.Global) -> Any:
        return self._refuse(node, "global statements are not allowed in process scripts")

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self.error(node, f'calling "{node.func.id}" is not allowed in process scripts')
        return super().visit_Call(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr in FORBIDDEN_ATTRIBUTES - INSPECT_ATTRIBUTES:
            self.error(node, f'".{node.attr}" is not allowed in process scripts (use an f-string)'
                       if node.attr.startswith(("format", "vformat")) else
                       f'".{node.attr}" is not allowed in process scripts')
        return super().visit_Attribute(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        visited = super().visit_BinOp(node)
        assert isinstance(visited, ast.BinOp)
        guard = _GUARDED_BINOPS.get(type(visited.op))
        if guard is None:
            return visited
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[visited.left, visited.right], keywords=[])
        copy_locations(call, visited)
        return call

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """``f"{x!r:>{n}}"`` becomes ``f"{_format_(x, 'r', f'>{n}')}"`` so width and size are checked."""
        visited = super().visit_FormattedValue(node)
        assert isinstance(visited, ast.FormattedValue)
        node = visited
        spec: ast.expr = node.format_spec if node.format_spec is not None else ast.Constant(value="")
        conversion = chr(node.conversion) if node.conversion and node.conversion > 0 else ""
        call = ast.Call(func=ast.Name(id="_format_", ctx=ast.Load()),
                        args=[node.value, ast.Constant(value=conversion), spec], keywords=[])
        copy_locations(call, node)
        rewritten = ast.FormattedValue(value=call, conversion=-1, format_spec=None)
        copy_locations(rewritten, node)
        return rewritten

    def visit_Starred(self, node: ast.Starred) -> Any:
        """``[*a, *a]`` would double a list per line unchecked; ``*a`` becomes ``*_starred_(a)``."""
        visited = super().visit_Starred(node)
        assert isinstance(visited, ast.Starred)
        if isinstance(visited.ctx, ast.Load):
            call = ast.Call(func=ast.Name(id="_starred_", ctx=ast.Load()), args=[visited.value], keywords=[])
            copy_locations(call, visited.value)
            visited.value = call
        return visited

    def visit_Set(self, node: ast.Set) -> Any:
        """``{*keys}`` fills a table in one C call: its starred parts also get the hash-spread check."""
        visited = super().visit_Set(node)
        assert isinstance(visited, ast.Set)
        for element in visited.elts:
            if (isinstance(element, ast.Starred) and isinstance(element.value, ast.Call)
                    and isinstance(element.value.func, ast.Name) and element.value.func.id == "_starred_"):
                element.value.func.id = "_starred_keys_"
        return visited

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """Allow ``data["k"] += 1`` (RestrictedPython refuses it) when re-evaluating is side-effect free."""
        target = node.target
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and isinstance(target.slice, (ast.Name, ast.Constant))):
            return super().visit_AugAssign(node)
        load = self.visit(_located(ast.Subscript(value=ast.Name(id=target.value.id, ctx=ast.Load()),
                                                 slice=_copy_simple(target.slice), ctx=ast.Load()), node))
        store = self.visit(_located(ast.Subscript(value=ast.Name(id=target.value.id, ctx=ast.Load()),
                                                  slice=_copy_simple(target.slice), ctx=ast.Store()), node))
        value = self.visit(node.value)
        call = ast.Call(func=ast.Name(id="_inplacevar_", ctx=ast.Load()),
                        args=[ast.Constant(value=IOPERATOR_TO_STR[type(node.op)]), load, value], keywords=[])
        assign = ast.Assign(targets=[store], value=call)
        for new in (load, store, call, assign):
            copy_locations(new, node)
        return assign


def _located(new: ast.expr, reference: ast.stmt) -> ast.expr:
    """Give a synthesized subtree ``reference``'s source position (RestrictedPython copies it on)."""
    for child in ast.walk(new):
        if "lineno" in child._attributes:
            ast.copy_location(child, reference)
    return new


def _copy_simple(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Name):
        return ast.Name(id=node.id, ctx=ast.Load())
    assert isinstance(node, ast.Constant)
    return ast.Constant(value=node.value)


def _has_self_jump(code: CodeType) -> bool:
    """A backward jump to itself (``while True: pass``) is a loop CPython 3.11 emits no line events for."""
    return any(ins.opname.startswith("JUMP_BACKWARD") and ins.argval == ins.offset
               for ins in dis.get_instructions(code))


def _collect_codes(code: CodeType, found: dict[CodeType, bool] | None = None) -> ScriptCodes:
    """The script's code objects: exactly the frames the tracer counts (helpers and guards are not)."""
    found = {} if found is None else found
    found[code] = _has_self_jump(code)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            _collect_codes(const, found)
    return MappingProxyType(found)


def _policy_errors(source: str, mode: Mode) -> tuple[CodeType | None, list[str]]:
    """Compile ``source`` with the sandbox policy; ``(code, [])`` or ``(None, messages)``.

    Deep nesting (``1+1+...`` 200 times, ``-`` 100,000 times) overflows the parser
    (``MemoryError``) or the recursive policy walk (``RecursionError``): that is the
    designer's code being refused, a syntax error, not a server failure.
    """
    try:
        tree = cast("ast.Module | ast.Expression", ast.parse(source, SCRIPT_FILENAME, mode))
        compile_ = compile_restricted_eval if mode == "eval" else compile_restricted_exec
        result = compile_(tree, SCRIPT_FILENAME, policy=_SandboxPolicy)
    except SyntaxError as exc:
        raise ScriptSyntaxError(exc.msg, (SCRIPT_FILENAME, exc.lineno or 1, exc.offset or 0, exc.text or "",
                                          exc.end_lineno or exc.lineno or 1, exc.end_offset or 0)) from None
    except (RecursionError, MemoryError):
        raise ScriptSyntaxError("the code is nested too deeply (split it into several statements)",
                                (SCRIPT_FILENAME, 1, 0, "", 1, 0)) from None
    if result.errors:
        return None, list(result.errors)
    assert result.code is not None
    return result.code, []


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: Mode) -> tuple[CodeType, ScriptCodes]:
    """Restricted-compile once per distinct source (conditions are evaluated very often)."""
    if not isinstance(source, str):
        raise ScriptForbidden(f"process code must be a string, not {type(source).__name__}")
    code, errors = _policy_errors(source, mode)
    if code is None:
        raise ScriptForbidden("; ".join(errors))
    return code, _collect_codes(code)


def check_source(source: str, mode: Literal["eval", "exec"]) -> list[str]:
    """Compile-only validation for deploy: human-readable problems, empty when the code is fine."""
    try:
        _, errors = _policy_errors(source, mode)
    except ScriptSyntaxError as exc:
        where = f"Line {exc.lineno}: " if exc.lineno else ""
        text = f" at {exc.text.strip()!r}" if exc.text and exc.text.strip() else ""
        return [f"{where}SyntaxError: {exc.msg}{text}"]
    return errors



# --------------------------------------------------------------------------- environment


def _check_helpers(helpers: Helpers) -> dict[str, Callable[..., Any]]:
    checked: dict[str, Callable[..., Any]] = {}
    for name, func in helpers.items():
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"helper name {name!r} must be a plain identifier not starting with '_'")
        if not callable(func):
            raise ValueError(f"helper {name!r} is not callable")
        checked[name] = func
    return checked


class RestrictedScriptEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's ``TaskDataEnvironment`` semantics, run through the sandbox.

    ``execute`` runs a script with the task data as its globals (assignments land
    in the data), then strips helpers, functions and ``__builtins__`` from it.
    ``evaluate`` returns an expression's value without touching the data.
    """

    def __init__(self, helpers: Helpers | None = None, step_budget: int | None = None,
                 time_budget: float | None = None) -> None:
        checked = _check_helpers(helpers or {})
        super().__init__(environment_globals=checked)
        self.helpers: dict[str, Callable[..., Any]] = checked
        default_steps, default_seconds = default_budgets()
        self.step_budget = default_steps if step_budget is None else step_budget
        self.time_budget = default_seconds if time_budget is None else time_budget
        # Helpers live in the builtins, so task data shadows them in expressions and
        # nothing but ``__builtins__`` has to be added to (and removed from) the data.
        self._builtins: dict[str, Any] = {**_BASE_BUILTINS, **FAST_GUARDS, **checked}

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """Value of ``expression`` over external context overlaid with the task data."""
        code, codes = _compile(expression, "eval")
        _check_reserved(context, external_context or {})
        gate(expression, "eval", context, external_context or {})
        scope: dict[str, Any] = {**(external_context or {}), **context, "__builtins__": self._builtins}
        return self._run(code, codes, scope)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run ``script`` with ``context`` (the task data) as globals; its assignments stay there."""
        external = dict(external_context or {})
        self.check_for_overwrite(context, external)
        code, codes = _compile(script, "exec")
        _check_reserved(context, external)
        gate(script, "exec", context, external)
        before = set(context)
        context.update(external)
        context["__builtins__"] = self._builtins
        try:
            self._run(code, codes, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external, before)
        check_data_size(context)
        after_script(context)
        return True

    def check_for_overwrite(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> None:
        """Fail fast when task data hides a helper, as SpiffWorkflow does (a ``ValueError``)."""
        clashes = (set(self.helpers) | set(external_context)) & set(context)
        if clashes:
            raise ScriptNameConflict(
                "You have task data that overwrites a predefined function(s). Please change the "
                f"following variable or field name(s) to something else: {sorted(clashes)}")

    def _remove_globals_and_functions_from_context(
            self, context: MutableMapping[str, Any], external_context: Mapping[str, Any] | None = None,
            before: set[str] | None = None) -> None:
        """Strip what the run added that is not data: builtins, callables, helpers, temporaries."""
        external = external_context or {}
        for key in list(context):
            value = context[key]
            if (key == "__builtins__" or callable(value) or key in self.helpers or key in external
                    or (key.startswith("_") and before is not None and key not in before)):
                context.pop(key)

    def _run(self, code: CodeType, codes: ScriptCodes, scope: dict[str, Any]) -> Any:
        previous = sys.gettrace()
        budget = Budget(codes, self.step_budget, self.time_budget, previous)
        sys.settrace(budget.global_trace)
        try:
            # ``eval`` runs exec-mode code objects too (returning None).
            return eval(code, scope)
        finally:
            sys.settrace(previous)


class _NamingScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Notes the element before each script or expression, so the backstop can name what it stopped."""

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        note_element(_element_id(task))
        return super().evaluate(task, expression, external_context)

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        note_element(_element_id(task))
        return super().execute(task, script, external_context)


def _element_id(task: Any) -> str:
    spec = getattr(task, "task_spec", None)
    return str(getattr(spec, "bpmn_id", None) or getattr(spec, "name", "") or "")


def check_data_size(data: Mapping[str, Any]) -> None:
    """``ScriptBudgetExceeded`` when task data holds more than ``MAX_DATA_SIZE`` items and characters: what a script
    may leave behind, and what the engine lets a step store (``runtime._check_data``)."""
    _check_render_size(dict(data), MAX_DATA_SIZE, "task data")


def make_script_engine(helpers: Helpers | None = None, step_budget: int | None = None,
                       time_budget: float | None = None) -> PythonScriptEngine:
    """A SpiffWorkflow script engine running everything in the sandbox.

    ``helpers`` are added to ``DEFAULT_HELPERS`` (and may replace one of them); the
    budgets default to the process's (``configure_budgets``). Re-attach a fresh engine after every deserialization (DESIGN.md).
    """
    merged = {**DEFAULT_HELPERS, **(helpers or {})}
    return _NamingScriptEngine(environment=RestrictedScriptEnvironment(merged, step_budget, time_budget))
