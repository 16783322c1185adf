"""Task data must stay JSON: what a script leaves behind is checked before the state is saved.

SpiffWorkflow's serializer stores sets, tuples and NaN without complaint, and fails on exceptions,
bytes or ranges with a bare ``TypeError``; PostgreSQL's JSONB then refuses NaN and lone surrogates.
Either way a script's mistake became a 500 and the step was lost. Checking the data first turns it
into a ``ProcessScriptError`` that names the step and the variable, and nothing is saved.

One key is refused although it is JSON: ``typename``. SpiffWorkflow's serializer reads every stored object that has
it as one of its own types (a datetime, a task, an event), so data holding it -- a form field or a script variable
named so, or an object anywhere inside a variable with such a key -- was saved and then could never be loaded again:
every later step of the instance failed with a bare ``TypeError`` (a stuck case). Likewise the names the script
sandbox reserves (``__builtins__``, ``_getattr_`` and its other guards) as variables: the sandbox refuses to run a
script over them, so a step that ran no script stored them and every later step with a script or a condition was
refused for good. And the names of the functions scripts call (``len``, ``max``, the helpers such as ``add_days``):
data so named hid the function from every later script and condition (``'int' object is not callable``, or
SpiffWorkflow's "task data that overwrites a predefined function"), with the same result.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from .sandbox_builtins import FUNCTION_NAMES, RESERVED_NAMES

_WHY = "task data must be JSON: text, numbers, true/false, null, lists and objects with text keys"
RESERVED_KEY = "typename"
"""The key SpiffWorkflow's stored state reserves for its own types (see the module's docstring)."""
_RESERVED = (f"the name {RESERVED_KEY!r} is reserved by the engine's stored state (it would be read back as one of "
             "the engine's own types and the instance could not be loaded again); rename it")


def _problem(value: Any, path: str, depth: int = 0) -> str | None:
    """Why ``value`` (at ``path``) is not JSON, or None when it is."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"variable {path!r} is {value!r}, not a finite number"
    if isinstance(value, str):
        if value.isascii():
            return None
        try:  # the codec finds a lone surrogate at C speed (a per-character loop was most of a snapshot)
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"variable {path!r} holds text with a lone surrogate (not valid Unicode)"
        return None
    if depth > 64:
        return f"variable {path!r} is nested more than 64 levels deep"
    if isinstance(value, list | tuple):  # a tuple is stored as a JSON array
        for i, item in enumerate(value):
            if found := _problem(item, f"{path}[{i}]", depth + 1):
                return found
        return None
    if isinstance(value, dict):
        if RESERVED_KEY in value:
            return f"variable {path!r} is an object with a key {RESERVED_KEY!r}: {_RESERVED}"
        for key, item in value.items():
            if not isinstance(key, str):
                return f"variable {path!r} is a map with a key {key!r} of type {type(key).__name__}; keys must be text"
            if not key.isascii() and _problem(key, f"{path} key"):
                return f"variable {path!r} has a key with a lone surrogate (not valid Unicode)"
            if found := _problem(item, f"{path}.{key}", depth + 1):
                return found
        return None
    return f"variable {path!r} is a {type(value).__name__}"


def data_problem(data: dict[str, Any], helpers: Collection[str] = ()) -> str | None:
    """The first variable in ``data`` that cannot be stored as JSON, or whose name is reserved, described for a
    designer; ``helpers``: the names of the helper functions the instance's scripts are given."""
    for name, value in data.items():
        if callable(value):
            continue  # helper functions in the script scope are not data and are never saved
        if name == RESERVED_KEY:
            return f"variable {name!r}: {_RESERVED}"
        if name in RESERVED_NAMES:
            return (f"variable {name!r}: the name is reserved by the script sandbox (no script or condition of the "
                    f"process could run over it); rename it")
        if name in FUNCTION_NAMES or name in helpers:
            return (f"variable {name!r}: the name is a function scripts call (it would hide it from every later script "
                    f"and condition of the process); rename it")
        if found := _problem(value, str(name)):
            return found if found.endswith(_RESERVED) else f"{found}; {_WHY}"
    return None
