"""Hash-flooding guard of the script sandbox: ``set``/``frozenset``/``dict`` over colliding keys.

Python's ``int`` hash is the value modulo 2**61 - 1, so ``i * (2**61 - 1)`` for
``i in range(50_000)`` are distinct keys with one hash. Inserting them compares
each key with every earlier one: a single ``set(keys)`` call is 10**9 comparisons of
uninterruptible C time, which only the process backstop would end (after its CPU
limit, on a web thread). Building the keys takes a cheap comprehension, so the
refusal belongs where the keys meet a hash table in one C call: the constructors,
``dict.fromkeys`` and the set/dict methods that take an iterable. Tables grown
line by line (comprehensions, ``add``) stay under the line and time budgets.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import compress, repeat
from typing import Any

from .sandbox_limits import ScriptBudgetExceeded

MAX_HASH_COLLISIONS = 64
"""Most distinct keys sharing one hash that one call may insert (real data has ~1)."""


def check_hash_spread(keys: list[Any], what: str) -> None:
    """Refuse when more than ``MAX_HASH_COLLISIONS`` *distinct* keys share a hash.

    Linear: hashes are counted first and only crowded hashes are inspected; many
    copies of one equal key (``[0] * 10**6``) are fine, as they cost one compare each.
    """
    if len(keys) <= MAX_HASH_COLLISIONS:
        return
    try:
        hashes = list(map(hash, keys))
    except TypeError:
        return  # unhashable: the constructor raises its own TypeError
    crowded = {h for h, count in Counter(hashes).items() if count > MAX_HASH_COLLISIONS}
    if not crowded:
        return
    for crowded_hash in crowded:
        group = list(compress(keys, map(crowded_hash.__eq__, hashes)))
        if all(map(operator.eq, repeat(group[0]), group)):
            continue  # copies of one key, the common case: checked at C speed
        seen: list[Any] = []
        for key in group:
            if key not in seen:
                seen.append(key)
                if len(seen) > MAX_HASH_COLLISIONS:
                    raise ScriptBudgetExceeded(
                        f"{what}: more than {MAX_HASH_COLLISIONS} different keys share one hash "
                        "(these keys would make the table quadratic)")


def _pair_keys(pairs: list[Any]) -> list[Any]:
    return [pair[0] for pair in pairs if isinstance(pair, (list, tuple)) and len(pair) == 2]


def _checked_items(iterable: Any, what: str) -> Any:
    """``iterable`` materialized (when not already a set/dict) and checked, ready to pass on."""
    if isinstance(iterable, (set, frozenset, dict)):
        return iterable  # already a table: its keys were inserted once before
    items = iterable if isinstance(iterable, (list, tuple, str, bytes)) else list(iterable)
    if not isinstance(items, (str, bytes)):
        check_hash_spread(items if isinstance(items, list) else list(items), what)
    return items


def _checked_dict_source(source: Any, what: str) -> Any:
    if isinstance(source, dict) or hasattr(source, "keys"):
        return source
    pairs = source if isinstance(source, list) else list(source)
    check_hash_spread(_pair_keys(pairs), what)
    return pairs


class _GuardedTableType(type):
    """Metaclass: the script's ``set``/``frozenset``/``dict`` check their input, build the real type."""

    real: type

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, cls.real)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if args:
            what = f"{cls.real.__name__}()"
            first = (_checked_dict_source(args[0], what) if cls.real is dict
                     else _checked_items(args[0], what))
            args = (first, *args[1:])
        return cls.real(*args, **kwargs)


class GuardedSet(set, metaclass=_GuardedTableType):  # type: ignore[type-arg]
    """``set`` as process scripts see it."""

    real = set


class GuardedFrozenset(frozenset, metaclass=_GuardedTableType):  # type: ignore[type-arg]
    """``frozenset`` as process scripts see it."""

    real = frozenset


class GuardedDict(dict, metaclass=_GuardedTableType):  # type: ignore[type-arg]
    """``dict`` as process scripts see it."""

    real = dict


def _iterables_guard(owner: Any, method: Callable[..., Any], *others: Iterable[Any]) -> Any:
    name = getattr(method, "__name__", "set method")
    return method(*(_checked_items(other, f"{name}()") for other in others))


def _fromkeys_guard(owner: Any, method: Callable[..., Any], keys: Iterable[Any], *args: Any) -> Any:
    return dict.fromkeys(_checked_items(keys, "dict.fromkeys()"), *args)


def _dict_update_guard(owner: Any, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return method(*(_checked_dict_source(arg, "dict.update()") for arg in args), **kwargs)


SET_METHOD_GUARDS: dict[str, Callable[..., Any]] = dict.fromkeys(
    ("update", "union", "intersection", "intersection_update", "difference", "difference_update",
     "symmetric_difference", "symmetric_difference_update", "issubset", "issuperset", "isdisjoint"),
    _iterables_guard)
DICT_METHOD_GUARDS: dict[str, Callable[..., Any]] = {"update": _dict_update_guard, "fromkeys": _fromkeys_guard}
