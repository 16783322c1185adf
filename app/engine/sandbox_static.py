"""What deploy can tell about a script before it runs: constant work that the sandbox would refuse.

The sandbox refuses ``10**10**10`` or ``"a" * 10**10`` at run time, when a case
reaches the element. Written with constants only, the outcome is known at save
time, so the designer hears it then, with the line, instead of a county hearing it
from a stuck case. Constant sub-expressions are folded with the sandbox's own
guarded operators (which refuse before computing, so folding itself is cheap), and
a ``while`` loop whose condition is always true and that has no ``break`` or
``return`` is refused as a loop that never ends. Expressions over task data are
left to the run-time guards and the process backstop (``isolation.py``).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator
from typing import Any

from .sandbox_builtins import _limited_range
from .sandbox_guards import _guard_add, _guard_lshift, _guard_mod, _guard_mul, _guard_pow
from .sandbox_limits import ScriptBudgetExceeded

_FOLD: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _guard_add, ast.Mult: _guard_mul, ast.Pow: _guard_pow, ast.LShift: _guard_lshift, ast.Mod: _guard_mod,
    ast.Sub: operator.sub, ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
    ast.RShift: operator.rshift, ast.FloorDiv: operator.floordiv,
}
_CALLS: dict[str, Callable[..., Any]] = {"pow": _guard_pow, "range": _limited_range}
_CONSTANT_TYPES = (int, float, str, bytes, bool, type(None))


class _NotConstant(Exception):
    """The sub-expression depends on data (or fails for another reason): nothing to say at deploy."""


def _fold(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, _CONSTANT_TYPES):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        value = _fold(node.operand)
        if isinstance(value, (int, float)):
            return -value if isinstance(node.op, ast.USub) else (~value if isinstance(node.op, ast.Invert)
                                                                 and isinstance(value, int) else value)
        raise _NotConstant
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD:
        left, right = _fold(node.left), _fold(node.right)
        return _apply(_FOLD[type(node.op)], left, right)
    if isinstance(node, (ast.Tuple, ast.List)) and isinstance(node.ctx, ast.Load) and len(node.elts) <= 100:
        items = [_fold(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS
            and not node.keywords and len(node.args) <= 3):
        return _apply(_CALLS[node.func.id], *(_fold(a) for a in node.args))
    raise _NotConstant


def _apply(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except ScriptBudgetExceeded:
        raise
    except Exception as exc:  # ZeroDivisionError, TypeError ...: the run-time error will say it
        raise _NotConstant from exc


def _constant_problems(tree: ast.AST) -> Iterator[str]:
    reported: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.BinOp, ast.Call)) or id(node) in reported:
            continue
        try:
            _fold(node)
        except ScriptBudgetExceeded as exc:
            reported.update(id(child) for child in ast.walk(node))
            yield f"Line {node.lineno}: {ast.unparse(node)[:80]} would be refused when it runs: {exc}"
        except (_NotConstant, RecursionError):
            continue


def _always_true(test: ast.expr) -> bool:
    try:
        return bool(_fold(test))
    except (_NotConstant, ScriptBudgetExceeded):
        return False


def _leaves(body: list[ast.stmt]) -> bool:
    """A ``break`` of this loop (not of an inner one) or a ``return`` anywhere in its body."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Break, ast.Return, ast.Raise)):
            return True
        if isinstance(node, (ast.While, ast.For)):
            pending.extend(node.orelse)
            pending.extend(n for n in ast.walk(node) if isinstance(n, (ast.Return, ast.Raise)))
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False


def static_problems(tree: ast.AST) -> list[str]:
    """Problems certain from the source alone: refused constant work and loops that never end."""
    found = list(_constant_problems(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.While) and _always_true(node.test) and not _leaves(node.body):
            found.append(f"Line {node.lineno}: this loop never ends (its condition is always true and it has no "
                         "break): it would stop at the sandbox's budget every time")
    return found


def check_bounds(source: str, mode: str) -> list[str]:
    """``static_problems`` of ``source``; code that does not parse is ``check_source``'s to report."""
    try:
        tree = ast.parse(source, "<string>", "eval" if mode == "eval" else "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return static_problems(tree)
