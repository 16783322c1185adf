"""Which process code is provably cheap: the static half of the engine's fast lane (``fast_lane.py``).

The process backstop (``isolation.py``) exists because one C-level operation on bounded inputs can
still hold the GIL for hours: ``b == c`` over a million aliased rows, hashing a tuple made of one
tuple repeated. Such values have to be *built* first, and building them takes a loop, a comprehension,
repetition (``[row] * n``), a function of our own, or many statements that each double an aliased value.
Code that can do none of that cannot build them, and then every operation it runs costs at most a small
multiple of the size of its inputs, which the fast lane caps at run time.

``unbounded_reason`` accepts a small language and says why anything else is refused:

* no loops, comprehensions, generator expressions, lambdas, ``def``, ``*``-unpacking, walrus, ``del`` of
  items, or stores into items or attributes (no mutation, so no value can come to contain itself);
* calls only to the bounded builtins and methods listed below (no ``map``/``filter``/``range``/``zip``, no
  mutating method such as ``append``); ``contains_any`` only with a constant list;
* ``*``, ``**``, ``<<`` and ``%`` are accepted only because the fast lane's guards take numbers alone
  there (anything else leaves the fast lane for the pool); f-string format specs must be constants;
* constants of at most ``MAX_CONSTANT`` characters, source of at most ``MAX_SOURCE`` characters;
* an abstract size bound: every value is at most *factor* x the largest input (task data, capped by the
  fast lane), the factor of ``a + b`` or ``[a, b]`` being the sum of theirs. Every operation's inputs
  must stay within ``MAX_FACTOR`` and all operations of the code together within ``MAX_TOTAL``, so
  ``a = [x, x]; b = [a, a]; ...`` (doubling an aliased value per line) is refused after a few lines.

Everything shipped in ``bpmn/`` is conditions over answers, names and DMN literals: all accepted
(``tests/engine/test_fast_lane.py``).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field

MAX_SOURCE = 20_000
"""Characters of one script or expression the fast lane takes (a longer one goes to the pool)."""
MAX_CONSTANT = 10_000
"""Characters of one string constant, and digits of one number."""
MAX_FACTOR = 16
"""Largest size factor (x the largest input) of any value or any one operation's inputs."""
MAX_TOTAL = 256
"""Sum of the size factors over every operation of the code (what one run can cost at most)."""

BOUNDED_CALLS: dict[str, float] = {
    # name -> factor of the result per factor of the arguments (0: a scalar)
    "len": 0, "bool": 0, "abs": 0, "int": 0, "float": 0, "round": 0, "divmod": 0, "chr": 0, "ord": 0,
    "hex": 0, "bin": 0, "oct": 0, "isinstance": 0, "any": 0, "all": 0, "callable": 0,
    "days_between": 0, "add_days": 0,
    "min": 1, "max": 1, "sorted": 1, "list": 1, "tuple": 1, "set": 1, "frozenset": 1, "dict": 1,
    "str": 1, "repr": 1, "sum": 1,
}
"""Builtins and default helpers a bounded script may call (each costs at most linear time in its input
apart from ``sorted``, n log n, with n capped by the fast lane)."""
BOUNDED_METHODS: dict[str, float] = {
    "lower": 1, "upper": 1, "casefold": 1, "strip": 1, "lstrip": 1, "rstrip": 1, "title": 1,
    "capitalize": 1, "swapcase": 1, "startswith": 0, "endswith": 0, "isdigit": 0, "isalpha": 0,
    "isnumeric": 0, "isdecimal": 0, "isspace": 0, "isalnum": 0, "islower": 0, "isupper": 0,
    "count": 0, "find": 0, "rfind": 0, "index": 0, "rindex": 0,
    "split": 2, "rsplit": 2, "splitlines": 2, "partition": 2, "rpartition": 2,
    "get": 1, "keys": 1, "values": 1, "items": 2,
}
"""Methods that do not change their object and whose result is at most a small multiple of it."""
_NUMERIC_ONLY = (ast.Mult, ast.Pow, ast.LShift, ast.Mod)
_AUG_OPS = (ast.Add, ast.Sub)


class _Unbounded(Exception):
    """Why the code is not in the bounded language."""


@dataclass
class _Scope:
    """Size factors of the names the code assigned (an unassigned name is an input: factor 1)."""

    names: dict[str, float] = field(default_factory=dict)
    total: float = 0.0

    def copy(self) -> _Scope:
        return _Scope(dict(self.names), self.total)


def _charge(scope: _Scope, node: ast.AST, *factors: float) -> None:
    cost = sum(factors)
    if cost > MAX_FACTOR:
        raise _Unbounded(f"line {getattr(node, 'lineno', 1)}: one operation works on values up to {cost:g}x the "
                         f"size of the task data (bounded code stays within {MAX_FACTOR}x)")
    scope.total += cost
    if scope.total > MAX_TOTAL:
        raise _Unbounded(f"line {getattr(node, 'lineno', 1)}: the operations together work on more than "
                         f"{MAX_TOTAL}x the size of the task data")


def _constant(node: ast.Constant) -> float:
    value = node.value
    if isinstance(value, (str, bytes)) and len(value) > MAX_CONSTANT:
        raise _Unbounded(f"line {node.lineno}: a constant of {len(value):,} characters")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * MAX_CONSTANT:
        raise _Unbounded(f"line {node.lineno}: a constant number of {value.bit_length():,} bits")
    if not isinstance(value, (str, bytes, int, float, bool, type(None))):
        raise _Unbounded(f"line {node.lineno}: a constant of type {type(value).__name__}")
    return 0.0


def _call(node: ast.Call, scope: _Scope) -> float:
    if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
        raise _Unbounded(f"line {node.lineno}: a call with keyword or *-arguments")
    args = [_expr(a, scope) for a in node.args]
    func = node.func
    if isinstance(func, ast.Name):
        if func.id == "contains_any" and len(args) == 2 and min(args) == 0:
            _charge(scope, node, *args)
            return 0.0
        if func.id not in BOUNDED_CALLS or func.id in scope.names:
            raise _Unbounded(f"line {node.lineno}: a call of {func.id!r}, not one of the bounded builtins")
        _charge(scope, node, *args)
        return BOUNDED_CALLS[func.id] * sum(args)
    if isinstance(func, ast.Attribute) and func.attr in BOUNDED_METHODS:
        owner = _expr(func.value, scope)
        _charge(scope, node, owner, *args)
        return BOUNDED_METHODS[func.attr] * owner + (max(args) if func.attr == "get" and len(args) > 1 else 0)
    what = func.attr if isinstance(func, ast.Attribute) else ast.unparse(func)[:40]
    raise _Unbounded(f"line {node.lineno}: a call of {what!r}, not one of the bounded builtins or methods")


def _expr(node: ast.expr, scope: _Scope) -> float:  # noqa: PLR0911, PLR0912 - one case per node kind
    """The size factor of ``node``'s value, charging every operation it runs."""
    if isinstance(node, ast.Constant):
        return _constant(node)
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _Unbounded(f"line {node.lineno}: the name {node.id!r}")
        return scope.names.get(node.id, 1.0)
    if isinstance(node, ast.BoolOp):
        return max(_expr(v, scope) for v in node.values)
    if isinstance(node, ast.Compare):
        factors = [_expr(node.left, scope), *(_expr(c, scope) for c in node.comparators)]
        _charge(scope, node, *factors)
        return 0.0
    if isinstance(node, ast.UnaryOp):
        operand = _expr(node.operand, scope)
        return 0.0 if isinstance(node.op, ast.Not) else operand
    if isinstance(node, ast.BinOp):
        left, right = _expr(node.left, scope), _expr(node.right, scope)
        _charge(scope, node, left, right)
        return 0.0 if isinstance(node.op, _NUMERIC_ONLY) else left + right
    if isinstance(node, ast.IfExp):
        _expr(node.test, scope)
        return max(_expr(node.body, scope), _expr(node.orelse, scope))
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise _Unbounded(f"line {node.lineno}: *-unpacking in a display")
        result = sum(_expr(e, scope) for e in node.elts)
        _charge(scope, node, result)
        return result
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _Unbounded(f"line {node.lineno}: **-unpacking in a dict display")
        result = sum(_expr(k, scope) for k in node.keys if k is not None) + sum(_expr(v, scope) for v in node.values)
        _charge(scope, node, result)
        return result
    if isinstance(node, ast.Subscript):
        owner = _expr(node.value, scope)
        _expr(node.slice, scope)
        return owner
    if isinstance(node, ast.Slice):
        for part in (node.lower, node.upper, node.step):
            if part is not None:
                _expr(part, scope)
        return 0.0
    if isinstance(node, ast.JoinedStr):
        result = 0.0
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None and not all(
                        isinstance(v, ast.Constant) for v in getattr(value.format_spec, "values", [value.format_spec])):
                    raise _Unbounded(f"line {node.lineno}: an f-string format spec computed from data")
                result += _expr(value.value, scope)
            else:
                result += _expr(value, scope)
        _charge(scope, node, result)
        return result
    if isinstance(node, ast.Call):
        return _call(node, scope)
    raise _Unbounded(f"line {getattr(node, 'lineno', 1)}: {type(node).__name__} "
                     f"({ast.unparse(node)[:40]!r}) is not in the bounded language")


def _store(target: ast.expr, factor: float, scope: _Scope) -> None:
    if isinstance(target, ast.Name) and not target.id.startswith("_") and target.id not in BOUNDED_CALLS:
        scope.names[target.id] = max(factor, 0.0)
        return
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        for element in target.elts:
            _store(element, factor, scope)
        return
    raise _Unbounded(f"line {target.lineno}: a store into {ast.unparse(target)[:40]!r} (bounded code assigns "
                     "plain names only: changing a value in place could make it contain itself)")


def _merge(into: _Scope, *branches: _Scope) -> None:
    for branch in branches:
        for name, factor in branch.names.items():
            into.names[name] = max(into.names.get(name, 1.0), factor)
        into.total = max(into.total, branch.total)


def _statements(body: list[ast.stmt], scope: _Scope) -> None:
    for node in body:
        if isinstance(node, ast.Assign):
            factor = _expr(node.value, scope)
            for target in node.targets:
                _store(target, factor, scope)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and isinstance(node.op, _AUG_OPS):
            factor = _expr(node.value, scope) + _expr(node.target, scope)
            _charge(scope, node, factor)
            _store(node.target, factor, scope)
        elif isinstance(node, ast.If):
            _expr(node.test, scope)
            then, orelse = scope.copy(), scope.copy()
            _statements(node.body, then)
            _statements(node.orelse, orelse)
            _merge(scope, then, orelse)
            if scope.total > MAX_TOTAL:
                raise _Unbounded(f"line {node.lineno}: the operations together are too many")
        elif isinstance(node, ast.Expr):
            _expr(node.value, scope)
        elif isinstance(node, ast.Pass):
            continue
        else:
            raise _Unbounded(f"line {node.lineno}: {type(node).__name__} statements are not in the bounded "
                             "language (no loops, functions or in-place changes)")


@functools.lru_cache(maxsize=4096)
def unbounded_reason(source: str, mode: str) -> str | None:
    """None when ``source`` is provably bounded (see the module docstring); else why not, for the designer."""
    if not isinstance(source, str):
        return "process code must be text"
    if len(source) > MAX_SOURCE:
        return f"the code is {len(source):,} characters long (bounded code is at most {MAX_SOURCE:,})"
    try:
        tree = ast.parse(source, "<string>", "eval" if mode == "eval" else "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "the code does not parse"
    try:
        scope = _Scope()
        if isinstance(tree, ast.Expression):
            _expr(tree.body, scope)
        elif isinstance(tree, ast.Module):
            _statements(tree.body, scope)
    except _Unbounded as exc:
        return str(exc)
    except RecursionError:
        return "the code is nested too deeply"
    return None
