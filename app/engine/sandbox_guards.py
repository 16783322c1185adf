"""Runtime guards of the script sandbox: bounded operators, attribute/item/write guards.

The builtins a script sees, built from these guards, are in ``sandbox_builtins``.

RestrictedPython rewrites a script so every operator, attribute, item, write and
call that could grow memory or escape goes through one of these functions.
"""

from __future__ import annotations

import builtins
import operator
import re
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Literal

from RestrictedPython.Guards import (
    full_write_guard,
)

from .sandbox_hashing import (
    DICT_METHOD_GUARDS,
    SET_METHOD_GUARDS,
    GuardedDict,
    check_hash_spread,
)
from .sandbox_limits import (
    FORBIDDEN_ATTRIBUTES,
    MAX_INT_BITS,
    MAX_POWMOD_WORK,
    MAX_RENDER_SIZE,
    MAX_SEQUENCE_LENGTH,
    ScriptBudgetExceeded,
    ScriptForbidden,
)

Mode = Literal["eval", "exec"]
Helpers = Mapping[str, Callable[..., Any]]
_Tracer = Callable[[FrameType, str, Any], Any]


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
    if isinstance(exp, int) and isinstance(mod, int):
        # Modular exponentiation squares a modulus-sized number once per exponent bit, in C.
        work = exp.bit_length() * mod.bit_length()
        if work > MAX_POWMOD_WORK:
            raise _too_big("pow() with modulus (exponent bits x modulus bits)", work, MAX_POWMOD_WORK)
    return builtins.pow(base, exp, mod)


def _guard_starred(value: Any) -> Any:
    value = _materialize(value)
    _check_length(len(value), "unpacked sequence")
    return value


def _guard_starred_keys(value: Any) -> Any:
    value = _guard_starred(value)
    check_hash_spread(value if isinstance(value, list) else list(value), "set display")
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
    if isinstance(obj, (set, frozenset)):
        return SET_METHOD_GUARDS.get(name)
    if isinstance(obj, dict) or obj is dict or obj is GuardedDict:
        return DICT_METHOD_GUARDS.get(name)
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
    if isinstance(obj, type) and obj not in (dict, GuardedDict) and issubclass(
            obj, (str, bytes, list, set, frozenset, dict)) and (
            name in _STR_METHOD_GUARDS or name in _LIST_METHOD_GUARDS
            or name in SET_METHOD_GUARDS or name in DICT_METHOD_GUARDS):
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
