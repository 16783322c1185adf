"""The restricted environment every BPMN script, condition, timer and DMN expression runs in.

SpiffWorkflow 3.2.0 runs process Python through plain ``eval``/``exec`` with full
builtins. A BPMN author is not trusted with the worker process, so we replace
that environment (DESIGN.md: the engine boundary):

* code is compiled with RestrictedPython plus a stricter policy (no imports, no
  ``try``/``with``/``class``, no calls to introspection builtins, no ``_names``);
* attribute, item, iteration and write access go through guards;
* the only names in scope are the task's own data, the helper allow-list and a
  small set of safe builtins - no modules, no app objects, no DB handles;
* a step budget (executed lines) and a wall-time budget are enforced with a
  ``sys.settrace`` tracer that chains to any tracer already installed (coverage).

What is bounded and what is not
-------------------------------
Bounded: executed lines of script code (``step_budget``; a loop that jumps to
itself, ``while True: pass``, emits no line events in CPython 3.11, so such code
objects are traced per opcode and each iteration counts as a line); wall time,
checked at every counted line and every Python-level call (``time_budget``);
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
import builtins
import dis
import functools
import keyword
import operator
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import date, datetime, timedelta
from types import CodeType, FrameType, MappingProxyType
from typing import Any, Literal, cast

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

__all__ = [
    "DEFAULT_HELPERS", "MAX_DATA_SIZE", "MAX_INT_BITS", "MAX_RENDER_SIZE", "MAX_SEQUENCE_LENGTH",
    "RestrictedScriptEnvironment", "ScriptBudgetExceeded", "ScriptError", "ScriptForbidden",
    "ScriptNameConflict", "ScriptSyntaxError", "check_source", "find_script_error", "make_script_engine",
]

Mode = Literal["eval", "exec"]
Helpers = Mapping[str, Callable[..., Any]]
_Tracer = Callable[[FrameType, str, Any], Any]

SCRIPT_FILENAME = "<string>"
"""SpiffWorkflow looks for this filename in tracebacks to report the failing script line."""

MAX_SEQUENCE_LENGTH = 1_000_000
"""Longest str/bytes/list/tuple (and ``range``) a script may build in one operation."""

MAX_INT_BITS = 100_000
"""Largest integer (in bits) ``*``, ``**``, ``<<`` and ``pow`` may produce (about 30,000 digits)."""

MAX_RENDER_SIZE = 2_000_000
"""Most items + characters ``str``/``repr``/f-strings/``%``/``print`` may render from one value."""

MAX_DATA_SIZE = 10_000_000
"""Most items + characters the task data may hold after a script (it is persisted as JSON)."""

MAX_ROUND_DIGITS = 1_000
"""Largest ``ndigits`` for ``round`` (``round(5, -10**9)`` would compute ``10**(10**9)``)."""


# --------------------------------------------------------------------------- errors


class ScriptError(Exception):
    """Base for every error the sandbox itself raises (the platform maps these)."""


class ScriptForbidden(ScriptError):
    """The script uses something process scripts may not use (import, dunders, ``open`` ...)."""


class ScriptBudgetExceeded(ScriptError):
    """The script ran too many lines, too long, or tried to build too large a value."""


class ScriptSyntaxError(ScriptError, SyntaxError):
    """The source is not valid Python; a ``SyntaxError`` so SpiffWorkflow reports its line."""


class ScriptNameConflict(ScriptError, ValueError):
    """Task data would hide a helper (SpiffWorkflow raises ``ValueError`` here; so do we)."""


def find_script_error(exc: BaseException | None) -> ScriptError | None:
    """The first ``ScriptError`` in ``exc``'s cause/context chain or SpiffWorkflow's ``.exception``.

    SpiffWorkflow wraps script failures in ``WorkflowTaskException`` (keeping the
    original in ``__context__``/``.exception``); the platform uses this to tell a
    sandbox refusal from an ordinary script bug.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ScriptError):
            return current
        wrapped = getattr(current, "exception", None)
        pending.extend([
            current.__cause__, current.__context__,
            wrapped if isinstance(wrapped, BaseException) else None,
        ])
    return None


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

FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "vformat", "mro", "from_bytes"}) | INSPECT_ATTRIBUTES
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


ScriptCodes = Mapping[CodeType, bool]
"""Every code object of one script (module, lambdas, comprehensions, defs) -> needs opcode tracing."""


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
    """Compile ``source`` with the sandbox policy; ``(code, [])`` or ``(None, messages)``."""
    try:
        tree = cast("ast.Module | ast.Expression", ast.parse(source, SCRIPT_FILENAME, mode))
    except SyntaxError as exc:
        raise ScriptSyntaxError(exc.msg, (SCRIPT_FILENAME, exc.lineno or 1, exc.offset or 0, exc.text or "",
                                          exc.end_lineno or exc.lineno or 1, exc.end_offset or 0)) from None
    compile_ = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compile_(tree, SCRIPT_FILENAME, policy=_SandboxPolicy)
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


# --------------------------------------------------------------------------- runtime size guards

_SEQUENCES = (str, bytes, list, tuple)


def _too_big(what: str, size: int, limit: int) -> ScriptBudgetExceeded:
    return ScriptBudgetExceeded(f"{what} would have size {size:,}, over the sandbox limit of {limit:,}")


def _check_length(size: int, what: str = "result") -> None:
    if size > MAX_SEQUENCE_LENGTH:
        raise _too_big(what, size, MAX_SEQUENCE_LENGTH)


_SCALARS = frozenset({int, float, bool, type(None), complex})
_TEXTS = (str, bytes)
_CONTAINERS = (list, tuple, set, frozenset, dict)


def _check_render_size(value: Any, limit: int = MAX_RENDER_SIZE, what: str = "rendered text") -> None:
    """Items + characters ``value`` renders to, stopping as soon as ``limit`` is passed.

    Shared sub-containers are sized once (by id) but counted at every occurrence,
    so aliasing bombs like ``[[0] * 10**6] * 10**6`` are caught after a few items;
    flat containers of scalars and strings are sized at C speed.
    """
    memo: dict[int, int] = {}

    def size(obj: Any) -> int:
        if type(obj) in _TEXTS:
            return 1 + len(obj)
        if not isinstance(obj, _CONTAINERS):
            return 1
        known = memo.get(id(obj))
        if known is not None:
            return known
        items: Any = [*obj.keys(), *obj.values()] if isinstance(obj, dict) else obj
        kinds = set(map(type, items))
        total = 1 + len(items)
        if not kinds <= _SCALARS:
            if kinds <= _SCALARS | set(_TEXTS):
                total += builtins.sum(len(item) for item in items if type(item) in _TEXTS)
            else:
                total = 1
                for item in items:
                    total += size(item)
                    if total > limit:
                        break
        if total > limit:
            raise ScriptBudgetExceeded(f"{what} would be larger than the sandbox limit of {limit:,} items")
        memo[id(obj)] = total
        return total

    try:
        size(value)
    except RecursionError:
        raise ScriptBudgetExceeded(f"{what}: value is nested too deeply (or contains itself)") from None


def _materialize(value: Any) -> Any:
    return value if isinstance(value, (*_SEQUENCES, dict, set, frozenset, range)) else list(value)


def _guard_add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        _check_length(len(a) + len(b), "concatenation")
    return a + b


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        _check_length(len(a) * b, "repetition")
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _check_length(len(b) * a, "repetition")
    elif isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise _too_big("integer product (bits)", a.bit_length() + b.bit_length(), MAX_INT_BITS)


def _guard_mul(a: Any, b: Any) -> Any:
    _check_mul(a, b)
    return a * b


def _check_pow(base: Any, exp: Any) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        bits = exp * base.bit_length()
        if bits > MAX_INT_BITS:
            raise _too_big("power (bits)", bits, MAX_INT_BITS)


def _guard_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        _check_pow(base, exp)
        return base**exp
    for value in (base, exp, mod):
        if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
            raise _too_big("pow() argument (bits)", value.bit_length(), MAX_INT_BITS)
    return builtins.pow(base, exp, mod)


def _guard_starred(value: Any) -> Any:
    value = _materialize(value)
    _check_length(len(value), "unpacked sequence")
    return value


def _guard_lshift(a: Any, n: Any) -> Any:
    if isinstance(a, int) and isinstance(n, int) and a and a.bit_length() + n > MAX_INT_BITS:
        raise _too_big("shift (bits)", a.bit_length() + n, MAX_INT_BITS)
    return a << n


_FORMAT_NUMBER = re.compile(r"\d+")


def _check_format_spec(spec: str | bytes) -> None:
    text = spec.decode("latin-1") if isinstance(spec, bytes) else spec
    for number in _FORMAT_NUMBER.findall(text):
        if len(number) > 7 or int(number) > MAX_SEQUENCE_LENGTH:
            raise _too_big("format width/precision", int(number), MAX_SEQUENCE_LENGTH)


def _guard_mod(a: Any, b: Any) -> Any:
    if isinstance(a, (str, bytes)):
        if (isinstance(a, str) and "*" in a) or (isinstance(a, bytes) and b"*" in a):
            raise ScriptForbidden('"*" widths in %-formatting are not allowed in process scripts')
        _check_format_spec(a)
        _check_render_size(b)
    return a % b


def _guard_format(value: Any, conversion: str, spec: str) -> str:
    """f-string fields: apply ``!r``/``!s``/``!a`` and the format spec after size checks."""
    _check_render_size(value)
    if conversion == "r":
        value = repr(value)
    elif conversion == "s":
        value = str(value)
    elif conversion == "a":
        value = ascii(value)
    _check_format_spec(spec)
    return format(value, spec)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
    "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand, "//=": operator.ifloordiv,
    "@=": operator.imatmul,
}


def _guard_inplace(op: str, target: Any, value: Any) -> Any:
    """``x op= y`` with the same size checks as the plain operators."""
    if op == "+=":
        if isinstance(target, list):
            value = _materialize(value)
            _check_length(len(target) + len(value), "concatenation")
        elif isinstance(target, _SEQUENCES) and isinstance(value, _SEQUENCES):
            _check_length(len(target) + len(value), "concatenation")
    elif op == "*=":
        _check_mul(target, value)
    elif op == "**=":
        _check_pow(target, value)
    elif op == "<<=":
        return _guard_lshift(target, value)
    elif op == "%=":
        return _guard_mod(target, value)
    return _INPLACE[op](target, value)


# Size-guarded methods: each gets the owning object, the bound method and the call's arguments.

def _width_guard(owner: Any, method: Callable[..., Any], width: Any, *args: Any) -> Any:
    if isinstance(width, int):
        _check_length(width, "padded string")
    return method(width, *args)


def _expandtabs_guard(owner: Any, method: Callable[..., Any], tabsize: Any = 8) -> Any:
    if isinstance(tabsize, int):
        _check_length(len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * tabsize,
                      "expanded string")
    return method(tabsize)


def _replace_guard(owner: Any, method: Callable[..., Any], old: Any, new: Any, count: Any = -1) -> Any:
    if isinstance(old, type(owner)) and isinstance(new, type(owner)) and isinstance(count, int):
        hits = len(owner) + 1 if not old else owner.count(old)
        if count >= 0:
            hits = min(hits, count)
        _check_length(len(owner) + hits * max(0, len(new) - len(old)), "replaced string")
    return method(old, new, count)


def _join_guard(owner: Any, method: Callable[..., Any], iterable: Any) -> Any:
    items = list(iterable)
    size = len(owner) * max(0, len(items) - 1)
    size += sum(len(item) for item in items if isinstance(item, (str, bytes)))
    _check_length(size, "joined string")
    return method(items)


def _translate_guard(owner: Any, method: Callable[..., Any], table: Any, *args: Any) -> Any:
    widest = 1
    if isinstance(table, dict):
        widest = max([1, *(len(v) for v in table.values() if isinstance(v, (str, bytes)))])
    _check_length(len(owner) * widest, "translated string")
    return method(table, *args)


def _extend_guard(owner: Any, method: Callable[..., Any], iterable: Any) -> Any:
    items = _materialize(iterable)
    _check_length(len(owner) + len(items), "extended list")
    return method(items)


_STR_METHOD_GUARDS: dict[str, Callable[..., Any]] = {
    "ljust": _width_guard, "rjust": _width_guard, "center": _width_guard, "zfill": _width_guard,
    "expandtabs": _expandtabs_guard, "replace": _replace_guard, "join": _join_guard,
    "translate": _translate_guard,
}
def _result_guard(owner: Any, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Methods whose output is a small multiple of the input (``"ß".upper()`` is ``"SS"``): check after."""
    result = method(*args, **kwargs)
    if isinstance(result, (str, bytes)):
        _check_length(len(result), "string")
    return result


_STR_METHOD_GUARDS.update(dict.fromkeys(
    ("upper", "lower", "casefold", "title", "capitalize", "swapcase", "encode", "decode"), _result_guard))

_LIST_METHOD_GUARDS: dict[str, Callable[..., Any]] = {"extend": _extend_guard}


def _method_guard(obj: Any, name: str) -> Callable[..., Any] | None:
    if isinstance(obj, (str, bytes)):
        return _STR_METHOD_GUARDS.get(name)
    if isinstance(obj, list):
        return _LIST_METHOD_GUARDS.get(name)
    return None


_MISSING = object()


def _guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """``a.b`` in a script: no ``_`` names, no escape hatches, size-guarded growth methods."""
    if not isinstance(name, str):
        raise TypeError("attribute name must be a string")
    if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES:
        raise ScriptForbidden(f'attribute "{name}" is not accessible in process scripts')
    value = getattr(obj, name) if default is _MISSING else getattr(obj, name, default)
    guard = _method_guard(obj, name)
    if guard is not None:
        # A closure, not functools.partial: a partial would expose the unguarded method as ``.args``.
        return lambda *args, **kwargs: guard(obj, value, *args, **kwargs)
    if isinstance(obj, type) and issubclass(obj, (str, bytes, list)) and (
            name in _STR_METHOD_GUARDS or name in _LIST_METHOD_GUARDS):
        # Unbound use such as ``str.join(sep, items)``: route through the bound, guarded path.
        return lambda owner, *args, **kwargs: _guarded_getattr(owner, name)(*args, **kwargs)
    return value


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


class _GuardedListWriter:
    """What ``_write_(a_list)`` returns: item writes pass through, slice growth is size-checked."""

    __slots__ = ("_target",)
    _target: list[Any]

    def __init__(self, target: list[Any]) -> None:
        object.__setattr__(self, "_target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = _materialize(value)
            removed = len(range(*key.indices(len(self._target))))
            _check_length(len(self._target) - removed + len(value), "list")
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("attribute-less object (assign or del)")

    def __delattr__(self, name: str) -> None:
        raise TypeError("attribute-less object (assign or del)")


def _guarded_write(obj: Any) -> Any:
    """``a[k] = v`` / ``a.b = v``: dicts as is, lists through the size check, nothing else writable."""
    if type(obj) is list:
        return _GuardedListWriter(obj)
    return full_write_guard(obj)


def _guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class _BoundedPrinter:
    """``print`` in a script: output is kept (bounded) only for ``printed``; it never reaches a stream."""

    def __init__(self, _getattr_: Any = None) -> None:
        self.parts: list[str] = []
        self.size = 0

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", **_ignored: Any) -> None:
        for obj in objects:
            _check_render_size(obj)
        text = str(sep).join(str(obj) for obj in objects) + str(end)
        if self.size < MAX_SEQUENCE_LENGTH:
            self.parts.append(text[: MAX_SEQUENCE_LENGTH - self.size])
            self.size += len(text)

    def __call__(self) -> str:
        return "".join(self.parts)


class _GuardedStrType(type):
    """Metaclass making the script's ``str`` a size-checked constructor that is still ``str`` for isinstance."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, str)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, str)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if args:
            _check_render_size(args[0])
        return str(*args, **kwargs)


class _GuardedStr(str, metaclass=_GuardedStrType):
    """``str`` as process scripts see it."""


class _GuardedIntType(type):
    """The script's ``int``: ``int("f" * 10**6, 16)`` is linear, but the result would make ``//`` crawl."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, int)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, int)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        result = int(*args, **kwargs)
        if result.bit_length() > MAX_INT_BITS:
            raise _too_big("integer (bits)", result.bit_length(), MAX_INT_BITS)
        return result


class _GuardedInt(int, metaclass=_GuardedIntType):
    """``int`` as process scripts see it."""


def _guarded_repr(value: Any) -> str:
    _check_render_size(value)
    return repr(value)


def _guarded_round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise _too_big("round() digits", abs(ndigits), MAX_ROUND_DIGITS)
    return builtins.round(number, ndigits)


def _guarded_sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    items = list(iterable)
    if isinstance(start, (list, tuple)):
        _check_length(len(start) + builtins.sum(len(i) for i in items if isinstance(i, (list, tuple))),
                      "sum of sequences")
    return builtins.sum(items, start)


def _limited_range(*args: Any) -> range:
    result = range(*args)
    _check_length(len(result), "range")
    return result


_SAFE_EXCEPTIONS = (
    ArithmeticError, AssertionError, AttributeError, Exception, IndexError, KeyError, LookupError,
    NameError, NotImplementedError, OverflowError, RuntimeError, StopIteration, TypeError,
    UnboundLocalError, ValueError, ZeroDivisionError,
)

_BASE_BUILTINS: dict[str, Any] = {
    # Constants and plain types / functions (from RestrictedPython's safe/limited/utility sets).
    "None": None, "True": True, "False": False,
    "abs": abs, "all": all, "any": any, "bin": bin, "bool": bool, "callable": callable, "chr": chr,
    "dict": dict, "divmod": divmod, "enumerate": enumerate, "filter": filter, "float": float,
    "frozenset": frozenset, "hex": hex, "isinstance": isinstance, "len": len, "list": list,
    "map": map, "max": max, "min": min, "oct": oct, "ord": ord, "reversed": reversed, "set": set,
    "sorted": sorted, "tuple": tuple, "zip": zip,
    # Size-guarded replacements.
    "pow": _guard_pow, "range": _limited_range, "repr": _guarded_repr, "round": _guarded_round,
    "str": _GuardedStr, "int": _GuardedInt, "sum": _guarded_sum,
    # RestrictedPython's hooks (names starting with "_" cannot be written by scripts).
    "_getattr_": _guarded_getattr, "_getitem_": _guarded_getitem, "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _guarded_write, "_inplacevar_": _guard_inplace, "_apply_": _guarded_apply,
    "_print_": _BoundedPrinter,
    "_add_": _guard_add, "_mul_": _guard_mul, "_pow_": _guard_pow, "_lshift_": _guard_lshift,
    "_mod_": _guard_mod, "_format_": _guard_format, "_starred_": _guard_starred,
}
_BASE_BUILTINS.update({exc.__name__: exc for exc in _SAFE_EXCEPTIONS})
_RESERVED_NAMES = frozenset(name for name in _BASE_BUILTINS if name.startswith("_")) | {"__builtins__"}
"""Task data must not carry these keys: in scope they would shadow the guards."""


def _check_reserved(*scopes: Mapping[str, Any]) -> None:
    for scope in scopes:
        if not _RESERVED_NAMES.isdisjoint(scope):
            clash = sorted(_RESERVED_NAMES.intersection(scope))
            raise ScriptForbidden(f"task data may not contain the reserved name(s) {clash}")


# Deliberately absent: __import__, __build_class__, open, eval, exec, compile, getattr & co, type,
# object, id, hash, globals/locals/vars/dir, input, math (factorial is an uninterruptible C loop),
# random (non-deterministic replays), string/DateTime/same_type/test/reorder, BaseException,
# SystemExit, KeyboardInterrupt, GeneratorExit (a script must not be able to stop the worker).


# --------------------------------------------------------------------------- default helpers


def _parse_iso(value: str) -> date | datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def days_between(iso_a: str, iso_b: str) -> int:
    """Whole days from ``iso_a`` to ``iso_b`` (negative when b is earlier).

    Two dates (``"2026-03-10"``) compare as calendar dates; datetimes must carry
    an offset (naive times would be read in server-local time) and count whole
    24-hour periods.
    """
    a, b = _parse_iso(iso_a), _parse_iso(iso_b)
    if isinstance(a, datetime) or isinstance(b, datetime):
        if not (isinstance(a, datetime) and isinstance(b, datetime)):
            raise ValueError("days_between: compare two dates or two datetimes, not one of each")
        if a.tzinfo is None or b.tzinfo is None:
            raise ValueError("days_between: datetimes need a UTC offset, e.g. 2026-03-10T09:00:00+08:00")
    return (b - a).days  # type: ignore[operator]


def add_days(iso_date: str, n: int) -> str:
    """``iso_date`` plus ``n`` days, in the same ISO form (date stays date, offset is kept)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("add_days: n must be a whole number of days")
    return (_parse_iso(iso_date) + timedelta(days=n)).isoformat()


def contains_any(seq: Any, items: Iterable[Any]) -> bool:
    """True when any of ``items`` is in ``seq`` (a list, set, dict's keys, or substrings of a string)."""
    return any(item in seq for item in items)


DEFAULT_HELPERS: dict[str, Callable[..., Any]] = {
    "days_between": days_between,
    "add_days": add_days,
    "contains_any": contains_any,
}
"""Pure helpers every process may call; the engine adds its own (``now_utc`` ...) on top."""


# --------------------------------------------------------------------------- budget


class _Budget:
    """One run's line and time budget, as a ``sys.settrace`` tracer chained to the previous one."""

    def __init__(self, codes: ScriptCodes, step_budget: int, time_budget: float,
                 previous: Any) -> None:
        self.codes = codes
        self.step_budget = step_budget
        self.time_budget = time_budget
        self.previous = previous
        self.steps = 0
        self.deadline = time.monotonic() + time_budget

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScriptBudgetExceeded(
                f"script ran longer than its time budget of {self.time_budget:g}s ({self.steps:,} lines)")

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.step_budget:
            raise ScriptBudgetExceeded(f"script ran more than its budget of {self.step_budget:,} lines")
        self._check_time()

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> _Tracer | None:
        chained = self.previous(frame, event, arg) if self.previous is not None else None
        self._check_time()
        needs_opcodes = self.codes.get(frame.f_code)
        if needs_opcodes is not None:
            # ``while True: pass`` jumps to itself and emits no line events in CPython 3.11;
            # only such frames pay for opcode events, which let us count its iterations.
            frame.f_trace_opcodes = needs_opcodes
            return self._local(chained)
        return chained

    def _local(self, chained: _Tracer | None) -> _Tracer:
        """Per-frame tracer: a step per line, or per backward jump that ran no new line."""
        last_offset = -1
        line_seen = False

        def trace(frame: FrameType, event: str, arg: Any) -> _Tracer:
            nonlocal chained, last_offset, line_seen
            if event == "opcode":
                offset = frame.f_lasti
                if offset <= last_offset:
                    if not line_seen:
                        self._step()
                    line_seen = False
                last_offset = offset
                return trace
            if chained is not None:
                chained = chained(frame, event, arg)
            if event == "line":
                line_seen = True
                self._step()
            return trace
        return trace


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

    def __init__(self, helpers: Helpers | None = None, step_budget: int = 100_000,
                 time_budget: float = 2.0) -> None:
        checked = _check_helpers(helpers or {})
        super().__init__(environment_globals=checked)
        self.helpers: dict[str, Callable[..., Any]] = checked
        self.step_budget = step_budget
        self.time_budget = time_budget
        # Helpers live in the builtins, so task data shadows them in expressions and
        # nothing but ``__builtins__`` has to be added to (and removed from) the data.
        self._builtins: dict[str, Any] = {**_BASE_BUILTINS, **checked}

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """Value of ``expression`` over external context overlaid with the task data."""
        code, codes = _compile(expression, "eval")
        _check_reserved(context, external_context or {})
        scope: dict[str, Any] = {**(external_context or {}), **context, "__builtins__": self._builtins}
        return self._run(code, codes, scope)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run ``script`` with ``context`` (the task data) as globals; its assignments stay there."""
        external = dict(external_context or {})
        self.check_for_overwrite(context, external)
        code, codes = _compile(script, "exec")
        _check_reserved(context, external)
        before = set(context)
        context.update(external)
        context["__builtins__"] = self._builtins
        try:
            self._run(code, codes, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external, before)
        _check_render_size(dict(context), MAX_DATA_SIZE, "task data")
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
        budget = _Budget(codes, self.step_budget, self.time_budget, previous)
        sys.settrace(budget.global_trace)
        try:
            # ``eval`` runs exec-mode code objects too (returning None).
            return eval(code, scope)
        finally:
            sys.settrace(previous)


def make_script_engine(helpers: Helpers | None = None, step_budget: int = 100_000,
                       time_budget: float = 2.0) -> PythonScriptEngine:
    """A SpiffWorkflow script engine running everything in the sandbox.

    ``helpers`` are added to ``DEFAULT_HELPERS`` (and may replace one of them).
    Re-attach a fresh engine after every deserialization (DESIGN.md).
    """
    merged = {**DEFAULT_HELPERS, **(helpers or {})}
    return PythonScriptEngine(environment=RestrictedScriptEnvironment(merged, step_budget, time_budget))
