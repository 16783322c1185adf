"""The platform's clock inside SpiffWorkflow's timer events.

SpiffWorkflow 3.2.0 computes and checks timers with ``datetime.now(timezone.utc)``
read straight from its timer module, so a test clock, an operator's
``flask deadlines sweep --at`` or a worker catching up after an outage would
otherwise be ignored. We replace that module's ``datetime`` name once with a
subclass whose ``now()`` answers from a context variable that each engine
command sets (``engine_clock``). Context variables are per thread (and per
asyncio task), so a web request and the in-process sweep running at the same
time cannot see each other's "now"; outside an engine command the real clock
answers, exactly as before.

A timer whose expression gives no usable time (a missing variable, ``"P3X"``,
a date that does not exist) raises from deep inside SpiffWorkflow, in
whatever command first reaches it, and 3.2.0 has no way to say "this timer is
broken". We wrap the three methods that compute a timer's time so a failure
is kept on the waiting task (``TIMER_ERROR``) instead: the command succeeds,
the timer waits, and the platform turns the reason into an incident on the
instance. The next refresh tries again (the data may have changed).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

TIMER_ERROR = "liandong_timer_error"
"""Internal-data key on a waiting timer task: why its time could not be computed."""

_engine_now: ContextVar[datetime | None] = ContextVar("liandong_engine_now", default=None)


class _ClockedDatetime(datetime):
    """``datetime`` whose ``now()`` is the engine command's clock when one is set."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        at = _engine_now.get()
        if at is None:
            return super().now(tz)
        return at.astimezone(tz) if tz is not None else at.astimezone().replace(tzinfo=None)


def _kept_on_task(method: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """Run a timer check; a failure becomes the task's ``TIMER_ERROR`` and "not fired yet"."""

    @functools.wraps(method)
    def check(self: Any, my_task: Any) -> bool:
        try:
            fired = method(self, my_task)
        except Exception as exc:  # any error from the expression or SpiffWorkflow's parsing of it
            my_task.internal_data.pop("event_value", None)
            my_task._set_internal_data(**{TIMER_ERROR: _reason(self, exc)})
            return False
        my_task.internal_data.pop(TIMER_ERROR, None)
        return fired

    check._liandong_guarded = True  # type: ignore[attr-defined]
    return check


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _reason(definition: Any, exc: Exception) -> str:
    """The designer's expression and the error, with quoted values elided: they may come from a case's
    data (a child's name in a date field), and the reason is shown to designers without need to know."""
    expression = str(getattr(definition, "expression", ""))[:200]
    return f"{expression!s}: {type(exc).__name__}: {_QUOTED.sub('…', str(exc))[:300]}"


def _install() -> None:
    if getattr(_timer_module, "datetime", None) is not _ClockedDatetime:
        _timer_module.datetime = _ClockedDatetime  # type: ignore[misc]
    for cls, name in ((TimeDateEventDefinition, "has_fired"), (DurationTimerEventDefinition, "has_fired"),
                      (CycleTimerEventDefinition, "cycle_complete")):
        method = getattr(cls, name)
        if not getattr(method, "_liandong_guarded", False):
            setattr(cls, name, _kept_on_task(method))


_install()


@contextmanager
def engine_clock(at: datetime | None) -> Iterator[None]:
    """Run the enclosed engine work as of ``at`` (an aware datetime); ``None`` keeps the real clock."""
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError("engine_clock needs an aware datetime")
    token = _engine_now.set(at.astimezone(UTC) if at is not None else None)
    try:
        yield
    finally:
        _engine_now.reset(token)


def timer_due(event_value: object) -> datetime | None:
    """When a waiting timer falls due, from the value SpiffWorkflow stored on its task.

    Duration and date timers store an ISO datetime; cycle timers store a dict
    with the next occurrence (or have finished their cycles).
    """
    if isinstance(event_value, dict):
        if event_value.get("cycles") == 0:  # cycles done: the next refresh completes the event
            try:
                last = datetime.fromisoformat(str(event_value.get("next"))).timestamp()
                return datetime.fromtimestamp(last - float(event_value.get("duration") or 0), UTC)
            except (TypeError, ValueError):
                return None
        event_value = event_value.get("next")
    if not isinstance(event_value, str):
        return None
    try:
        due = TimerEventDefinition.get_datetime(event_value)
    except ValueError:
        return None
    return datetime.fromtimestamp(due.timestamp(), UTC)  # a plain datetime, not our subclass
