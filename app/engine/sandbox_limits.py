"""Limits and error types of the script sandbox (see ``sandbox.py`` for what they bound and why)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Literal

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

Mode = Literal["eval", "exec"]
Helpers = Mapping[str, Callable[..., Any]]
_Tracer = Callable[[FrameType, str, Any], Any]


SCRIPT_FILENAME = "<string>"
"""SpiffWorkflow looks for this filename in tracebacks to report the failing script line."""

MAX_SEQUENCE_LENGTH = 1_000_000
"""Longest str/bytes/list/tuple (and ``range``) a script may build in one operation."""

MAX_INT_BITS = 100_000
"""Largest integer (in bits) ``*``, ``**``, ``<<`` and ``pow`` may produce (about 30,000 digits)."""

MAX_POWMOD_WORK = 4_000_000
"""Largest exponent bits x modulus bits for ``pow(b, e, m)`` (~60 ms; 40,000 x 40,000 bits would take minutes)."""

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


FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "vformat", "mro", "from_bytes"}) | INSPECT_ATTRIBUTES
"""Attributes no script may read: formatting escapes and frame/generator introspection."""
