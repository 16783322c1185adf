"""The engine's fast lane: provably bounded commands run in the calling process, everything else in the pool.

Sending a command to a pooled engine worker (``isolation_pool.py``) costs a pickle of the state there
and of the snapshot back, two pipe hops and a context switch each way: on the 2-core machine that was
most of a completion (bench/README.md, 2026-11-30 profile). The worker is there for one threat: designer
code that holds the GIL in one C call or never ends. A process version whose code cannot do that does
not need it, so a command takes the fast lane when all of these hold, and the pool otherwise:

1. **The version is classified bounded**, once per content hash: every script, condition, DMN entry,
   timer, ``=expression`` property, loop and multi-instance expression of the restored spec is in the
   bounded language of ``sandbox_bounded.unbounded_reason``.
2. **Every piece of code that actually runs is checked again** (``gate``, per distinct source, cached):
   code the spec walk did not know about (a SpiffWorkflow attribute it missed, DMN's composed tests)
   cannot run in-process unchecked.
3. **Its inputs are small**: the stored state is at most ``MAX_STATE_CHARS``; the data a script or
   expression sees (task data + its external context) and what a script leaves is at most
   ``MAX_INPUT`` items + characters, counted the way the sandbox counts rendering (aliases at every
   occurrence). With (1) every operation then costs at most ``MAX_FACTOR`` x ``MAX_INPUT``.
4. **The command ends soon**: the engine steps are counted (``tick``) and timed; a process that loops
   through gateways past ``MAX_STEPS`` or ``MAX_SECONDS`` leaves.
5. **The fast lane's guards take numbers only** for ``*``, ``**``, ``<<``, ``%`` and in-place operators
   (repetition and %-formatting are what build big or aliased values without a loop).

Leaving is ``LeaveFastLane``, a ``BaseException`` so no ``except Exception`` in SpiffWorkflow or a script
wraps it; the command is then run again from the same stored state in the pool, under the backstop, and
its outcome (the snapshot, a script error or the backstop's refusal) is the pool's. Commands are pure
functions of (state, data, clock), so the abandoned attempt leaves nothing behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .sandbox_bounded import unbounded_reason
from .sandbox_guards import (
    _check_render_size,
    _guard_inplace,
    _guard_lshift,
    _guard_mod,
    _guard_mul,
    _guard_pow,
)
from .sandbox_limits import ScriptBudgetExceeded

MAX_STATE_CHARS = 1_000_000
"""Stored state (JSON characters) a fast-lane command may load; a larger instance goes to the pool."""
MAX_INPUT = 100_000
"""Items + characters of the data one script or expression sees, or a script leaves, in the fast lane."""
MAX_STEPS = 500
"""Engine steps (tasks completed) one fast-lane command may run."""
MAX_SECONDS = 0.5
"""Wall seconds one fast-lane command may take before it leaves for the pool."""


class LeaveFastLane(BaseException):  # noqa: N818 - a control signal, not an error
    """Stop running in-process: the pool runs the command instead. ``permanent``: the version's code."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass
class _Lane:
    deadline: float
    steps: int = 0


_local = threading.local()


def active() -> bool:
    return getattr(_local, "lane", None) is not None


@contextmanager
def running() -> Iterator[None]:
    """Mark this thread as running a fast-lane command (the sandbox then gates every piece of code)."""
    previous = getattr(_local, "lane", None)
    _local.lane = _Lane(deadline=time.monotonic() + MAX_SECONDS)
    try:
        yield
    finally:
        _local.lane = previous


def tick() -> None:
    """One engine step done: leave when the command runs too many or too long."""
    lane: _Lane | None = getattr(_local, "lane", None)
    if lane is None:
        return
    lane.steps += 1
    if lane.steps > MAX_STEPS:
        raise LeaveFastLane(f"more than {MAX_STEPS} engine steps in one command")
    if time.monotonic() > lane.deadline:
        raise LeaveFastLane(f"the command ran longer than {MAX_SECONDS:g} s")


def _small(value: Any, what: str) -> None:
    try:
        _check_render_size(value, MAX_INPUT, what)
    except ScriptBudgetExceeded as exc:
        raise LeaveFastLane(f"{what} is larger than the fast lane takes ({exc})") from None
    except RecursionError:
        raise LeaveFastLane(f"{what} is nested too deeply for the fast lane") from None


def gate(source: str, mode: str, *scopes: Mapping[str, Any]) -> None:
    """Before code runs in the fast lane: it must be bounded, and what it sees small."""
    if getattr(_local, "lane", None) is None:
        return
    reason = unbounded_reason(source, mode)
    if reason is not None:
        raise LeaveFastLane(f"code that is not provably bounded: {reason}", permanent=True)
    for scope in scopes:
        _small(scope, "the data the code sees")


def after_script(context: Mapping[str, Any]) -> None:
    if getattr(_local, "lane", None) is not None:
        _small(dict(context), "the data a script left")


_NUMBERS = (int, float)


def _numbers_only(guard: Callable[..., Any], symbol: str) -> Callable[..., Any]:
    def guarded(*operands: Any) -> Any:
        if getattr(_local, "lane", None) is not None and not all(isinstance(v, _NUMBERS) for v in operands):
            raise LeaveFastLane(f"{symbol!r} on {', '.join(type(v).__name__ for v in operands)}")
        return guard(*operands)
    return guarded


_IMMUTABLE = (int, float, str, bytes, tuple, type(None))


def _fast_inplace(op: str, target: Any, value: Any) -> Any:
    if getattr(_local, "lane", None) is not None:
        if op in ("+=", "-="):
            if not isinstance(target, _IMMUTABLE):
                raise LeaveFastLane(f"{op!r} changing a {type(target).__name__} in place")
        elif not (isinstance(target, _NUMBERS) and isinstance(value, _NUMBERS)):
            raise LeaveFastLane(f"{op!r} on {type(target).__name__}")
    return _guard_inplace(op, target, value)


FAST_GUARDS: dict[str, Callable[..., Any]] = {
    "_mul_": _numbers_only(_guard_mul, "*"), "_pow_": _numbers_only(_guard_pow, "**"),
    "_lshift_": _numbers_only(_guard_lshift, "<<"), "_mod_": _numbers_only(_guard_mod, "%"),
    "_inplacevar_": _fast_inplace,
}
"""Replacements for the sandbox's operator hooks: outside the fast lane they are the plain guards."""


# --------------------------------------------------------------------------- per-version classification

_classified: OrderedDict[str, str | None] = OrderedDict()
_classified_lock = threading.Lock()
_CLASSIFIED_SIZE = 256


def spec_code(spec: Any, subprocess_specs: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(element, mode, source) of every piece of code a restored spec holds."""
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            element = str(getattr(task_spec, "bpmn_id", None) or task_spec.name)
            for attr in ("script", "prescript", "postscript"):
                if isinstance(source := getattr(task_spec, attr, None), str) and source.strip():
                    yield element, "exec", source
            for attr in ("condition", "cardinality"):
                if isinstance(source := getattr(task_spec, attr, None), str):
                    yield element, "eval", source
            for entry in getattr(task_spec, "cond_task_specs", None) or ():  # (_BpmnCondition | None, target)
                condition = entry[0] if isinstance(entry, tuple) and entry else None
                for source in getattr(condition, "args", None) or ():
                    if isinstance(source, str):
                        yield element, "eval", source
            for value in dict(getattr(task_spec, "extensions", {}).get("properties", {})).values():
                if isinstance(value, str) and value.startswith("="):
                    yield element, "eval", value[1:]
            yield from _event_code(element, getattr(task_spec, "event_definition", None))
            yield from _dmn_code(element, getattr(task_spec, "dmnEngine", None))


def _event_code(element: str, definition: Any) -> Iterator[tuple[str, str, str]]:
    if definition is None:
        return
    if isinstance(source := getattr(definition, "expression", None), str):
        yield element, "eval", source
    for prop in getattr(definition, "correlation_properties", None) or ():
        if isinstance(source := getattr(prop, "retrieval_expression", None), str):
            yield element, "eval", source
    for inner in getattr(definition, "event_definitions", None) or ():
        yield from _event_code(element, inner)


def _dmn_code(element: str, dmn: Any) -> Iterator[tuple[str, str, str]]:
    table = getattr(dmn, "decision_table", None)
    if table is None:
        return
    for column in table.inputs:
        if isinstance(column.expression, str):
            yield element, "eval", column.expression
    for rule in table.rules:
        for entry in rule.inputEntries:
            for lhs in entry.lhs:
                if isinstance(lhs, str) and lhs.strip():
                    # DMN tests are "5", "> 5" or "4 < ? < 6"; what runs is composed from them (``gate``
                    # checks that too), here each is read as an expression over a stand-in input.
                    yield element, "eval", _dmn_test(lhs)
        for output in rule.outputEntries:
            if isinstance(output.text, str) and output.text.strip():
                yield element, "eval", output.text


def _dmn_test(lhs: str) -> str:
    text = lhs.replace("?", "dmninputexpr")
    if unbounded_reason(text, "eval") is None or "dmninputexpr" in text:
        return text
    return f"dmninputexpr {text}"


def classify(spec_key: str, restored: tuple[Any, Mapping[str, Any]]) -> str | None:
    """None when the version may run in the fast lane; else why not (cached per content hash)."""
    with _classified_lock:
        if spec_key in _classified:
            return _classified[spec_key]
    reason = None
    for element, mode, source in spec_code(*restored):
        if (found := unbounded_reason(source, mode)) is not None:
            reason = f"{element}: {found}"
            break
    remember(spec_key, reason)
    return reason


def remember(spec_key: str, reason: str | None) -> None:
    """Record a version's class (``permanent`` departures mark a version the walk thought bounded)."""
    with _classified_lock:
        _classified[spec_key] = reason
        _classified.move_to_end(spec_key)
        while len(_classified) > _CLASSIFIED_SIZE:
            _classified.popitem(last=False)


def _reset_lock_in_child() -> None:
    global _classified_lock
    _classified_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)
