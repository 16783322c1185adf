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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

_engine_now: ContextVar[datetime | None] = ContextVar("liandong_engine_now", default=None)


class _ClockedDatetime(datetime):
    """``datetime`` whose ``now()`` is the engine command's clock when one is set."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        at = _engine_now.get()
        if at is None:
            return super().now(tz)
        return at.astimezone(tz) if tz is not None else at.astimezone().replace(tzinfo=None)


def _install() -> None:
    if getattr(_timer_module, "datetime", None) is not _ClockedDatetime:
        _timer_module.datetime = _ClockedDatetime  # type: ignore[misc]


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
        if event_value.get("cycles") == 0:
            return None
        event_value = event_value.get("next")
    if not isinstance(event_value, str):
        return None
    try:
        due = TimerEventDefinition.get_datetime(event_value)
    except ValueError:
        return None
    return datetime.fromtimestamp(due.timestamp(), UTC)  # a plain datetime, not our subclass
