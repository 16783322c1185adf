"""The builtins a process script sees: plain safe functions, size-guarded replacements, and the hooks
RestrictedPython's rewritten code calls (every operator, attribute, item and write goes through a guard
of ``sandbox_guards``). Split from the guards so each file holds one concept: the guards, and the
namespace made of them.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from .sandbox_guards import (
    _check_length,
    _check_render_size,
    _guard_add,
    _guard_format,
    _guard_inplace,
    _guard_lshift,
    _guard_mod,
    _guard_mul,
    _guard_pow,
    _guard_starred,
    _guard_starred_keys,
    _guarded_apply,
    _guarded_getattr,
    _guarded_getitem,
    _guarded_write,
    _too_big,
)
from .sandbox_hashing import GuardedDict, GuardedFrozenset, GuardedSet
from .sandbox_limits import MAX_INT_BITS, MAX_ROUND_DIGITS, MAX_SEQUENCE_LENGTH, ScriptForbidden


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
    """``sum``, but sequences are concatenated once: builtin ``sum(lists, [])`` copies the
    running total at every item, so 10,000 lists of 100 (a million items, within the size
    limit) would take minutes of uninterruptible C time."""
    items = list(iterable)
    if not isinstance(start, (list, tuple)):
        return builtins.sum(items, start)
    kind = type(start)
    for item in items:
        if type(item) is not kind:
            # The same TypeError builtin ``sum`` would raise, before any copying.
            raise TypeError(f'can only concatenate {kind.__name__} (not "{type(item).__name__}") '
                            f"to {kind.__name__}")
    _check_length(len(start) + builtins.sum(map(len, items)), "sum of sequences")
    return kind(itertools.chain(start, *items))


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
"divmod": divmod, "enumerate": enumerate, "filter": filter, "float": float,
    "hex": hex, "isinstance": isinstance, "len": len, "list": list,
    "map": map, "max": max, "min": min, "oct": oct, "ord": ord, "reversed": reversed,
    "sorted": sorted, "tuple": tuple, "zip": zip,
    # Size-guarded replacements.
    "pow": _guard_pow, "range": _limited_range, "repr": _guarded_repr, "round": _guarded_round,
    "str": _GuardedStr, "int": _GuardedInt, "sum": _guarded_sum,
    "set": GuardedSet, "frozenset": GuardedFrozenset, "dict": GuardedDict,
    # RestrictedPython's hooks (names starting with "_" cannot be written by scripts).
    "_getattr_": _guarded_getattr, "_getitem_": _guarded_getitem, "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _guarded_write, "_inplacevar_": _guard_inplace, "_apply_": _guarded_apply,
    "_print_": _BoundedPrinter,
    "_add_": _guard_add, "_mul_": _guard_mul, "_pow_": _guard_pow, "_lshift_": _guard_lshift,
    "_mod_": _guard_mod, "_format_": _guard_format, "_starred_": _guard_starred, "_starred_keys_": _guard_starred_keys,
}
_BASE_BUILTINS.update({exc.__name__: exc for exc in _SAFE_EXCEPTIONS})
RESERVED_NAMES = frozenset(name for name in _BASE_BUILTINS if name.startswith("_")) | {"__builtins__"}
"""Task data must not carry these keys: in scope they would shadow the guards (``jsondata`` refuses them before a
step is saved, so a step that runs no script cannot store them for a later one to trip on)."""
FUNCTION_NAMES = frozenset(name for name in _BASE_BUILTINS if not name.startswith("_")) - {"None", "True", "False"}
"""The functions and exception types a script calls by name: task data so named would hide them from every later
script and condition of the instance (``jsondata`` refuses it; ``None``, ``True`` and ``False`` cannot be hidden)."""


def _check_reserved(*scopes: Mapping[str, Any]) -> None:
    for scope in scopes:
        if not RESERVED_NAMES.isdisjoint(scope):
            clash = sorted(RESERVED_NAMES.intersection(scope))
            raise ScriptForbidden(f"task data may not contain the reserved name(s) {clash}")


# Deliberately absent: __import__, __build_class__, open, eval, exec, compile, getattr & co, type,
# object, id, hash, globals/locals/vars/dir, input, math (factorial is an uninterruptible C loop),
# random (non-deterministic replays), string/DateTime/same_type/test/reorder, BaseException,
# SystemExit, KeyboardInterrupt, GeneratorExit (a script must not be able to stop the worker).


