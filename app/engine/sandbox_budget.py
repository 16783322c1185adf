"""The script sandbox's budget: lines executed and the running thread's CPU time, as a ``sys.settrace`` tracer.

Why a tracer and why CPU time: see ``sandbox``'s module docstring (what is bounded and what is not). The
process's default budgets come from the settings (``LIANDONG_SCRIPT_STEP_BUDGET``, ``LIANDONG_SCRIPT_TIME_BUDGET``)
through ``configure_budgets``, which ``create_app`` calls before any engine child forks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import CodeType, FrameType
from typing import Any

from .sandbox_limits import ScriptBudgetExceeded

ScriptCodes = Mapping[CodeType, bool]
"""Every code object of one script (module, lambdas, comprehensions, defs) -> needs opcode tracing."""
_Tracer = Callable[[FrameType, str, Any], Any]

CLOCK_EVERY = 32
"""Counted lines and calls between two reads of the thread's CPU clock (~0.6 us a read, a system call)."""

_budgets: tuple[int, float] = (100_000, 2.0)
"""This process's default step and time budgets (``configure_budgets``)."""


def configure_budgets(step_budget: int, time_budget: float) -> None:
    """Set the budgets of engines made without their own (``create_app`` passes the county's settings)."""
    global _budgets
    _budgets = (step_budget, time_budget)


def default_budgets() -> tuple[int, float]:
    """This process's (step budget, time budget in CPU seconds)."""
    return _budgets


class Budget:
    """One run's line and time budget, as a ``sys.settrace`` tracer chained to the previous one."""

    def __init__(self, codes: ScriptCodes, step_budget: int, time_budget: float,
                 previous: Any) -> None:
        self.codes = codes
        self.step_budget = step_budget
        self.time_budget = time_budget
        self.previous = previous
        self.steps = 0
        self.until_clock = CLOCK_EVERY
        self.deadline = time.thread_time() + time_budget

    def _check_time(self) -> None:
        self.until_clock -= 1
        if self.until_clock > 0:
            return
        self.until_clock = CLOCK_EVERY
        if time.thread_time() > self.deadline:
            raise ScriptBudgetExceeded(
                f"script ran longer than its time budget of {self.time_budget:g}s of CPU ({self.steps:,} lines)")

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self.step_budget:
            raise ScriptBudgetExceeded(f"script ran more than its budget of {self.step_budget:,} lines")
        self._check_time()

    def global_trace(self, frame: FrameType, event: str, arg: Any) -> _Tracer | None:
        chained = self.previous(frame, event, arg) if self.previous is not None else None
        self._check_time()
        needs_opcodes = self.codes.get(frame.f_code)
        if needs_opcodes is not None:
            # ``while True: pass`` jumps to itself and emits no line events in CPython 3.11;
            # only such frames pay for opcode events, which let us count its iterations.
            frame.f_trace_opcodes = needs_opcodes
            return self._local(chained)
        return chained

    def _local(self, chained: _Tracer | None) -> _Tracer:
        """Per-frame tracer: a step per line, or per backward jump that ran no new line."""
        last_offset = -1
        line_seen = False

        def trace(frame: FrameType, event: str, arg: Any) -> _Tracer:
            nonlocal chained, last_offset, line_seen
            if event == "opcode":
                offset = frame.f_lasti
                if offset <= last_offset:
                    if not line_seen:
                        self._step()
                    line_seen = False
                last_offset = offset
                return trace
            if chained is not None:
                chained = chained(frame, event, arg)
            if event == "line":
                line_seen = True
                self._step()
            return trace
        return trace
