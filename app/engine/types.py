"""Plain values the rest of Liandong sees instead of SpiffWorkflow objects.

Everything that crosses the engine boundary is one of these dataclasses or a
JSON-compatible dict, so that no module outside ``app.engine`` needs to know
SpiffWorkflow exists (DESIGN.md: the engine boundary).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import properties as P


class EngineError(Exception):
    """Base for every error the engine reports to the platform."""


@dataclass(frozen=True)
class ValidationMessage:
    """One problem found in a process bundle, naming the element it is about."""

    message: str
    element_id: str | None = None
    element_name: str | None = None
    filename: str | None = None
    rule: str = ""
    """Which check found it (``xml``, ``schema``, ``lane``, ``form``, ``loop``, ``timer`` ...)."""
    level: str = "error"
    """``error`` blocks deploy; ``warning`` is shown but does not."""

    def __str__(self) -> str:
        where = ""
        if self.element_id:
            where = f"{self.element_id}"
            if self.element_name:
                where += f" ({self.element_name})"
            where += ": "
        prefix = f"{self.filename}: " if self.filename else ""
        return f"{prefix}{where}{self.message}"


class BundleInvalid(EngineError):
    """A BPMN/DMN bundle that must not be deployed; ``messages`` says why."""

    def __init__(self, messages: list[ValidationMessage]):
        self.messages = messages
        super().__init__("; ".join(str(m) for m in messages))


class TaskNotReady(EngineError):
    """The task is not READY (already completed, cancelled, or never was a user task)."""


class ProcessScriptError(EngineError):
    """A script, expression or decision in the process failed; the command is rolled back."""

    def __init__(self, message: str, bpmn_id: str | None = None):
        self.bpmn_id = bpmn_id
        super().__init__(message)


@dataclass(frozen=True)
class UserTaskInfo:
    """Static facts about a user task in a parsed process (for deploy checks and the designer)."""

    bpmn_id: str
    name: str
    lane: str | None
    properties: dict[str, str]
    process_id: str


@dataclass(frozen=True)
class ParsedBundle:
    """A validated bundle: the serialized spec plus what the platform checks at deploy."""

    process_id: str
    process_name: str
    spec_json: dict[str, Any]
    lanes: list[str]
    user_tasks: list[UserTaskInfo]
    expressions: list[tuple[str, str, str]] = field(default_factory=list)
    """(element id, kind, source) of every condition, script and timer, for the sandbox check."""


@dataclass(frozen=True)
class ReadyTask:
    """A user task waiting for a person, as the task projection needs it."""

    id: str
    bpmn_id: str
    name: str
    lane: str | None
    properties: dict[str, str]

    @property
    def form(self) -> str | None:
        return self.properties.get(P.FORM) or None

    @property
    def deadline(self) -> str | None:
        return self.properties.get(P.DEADLINE) or None

    @property
    def department(self) -> str | None:
        return self.properties.get(P.DEPARTMENT) or None


@dataclass(frozen=True)
class WaitingTimer:
    """A timer event the engine will only notice when asked (``refresh_timers``)."""

    task_id: str
    bpmn_id: str
    name: str
    due_at: datetime | None
    error: str | None = None
    """Why the due time could not be computed (then ``due_at`` is None and the timer cannot fire)."""


@dataclass(frozen=True)
class CompletedStep:
    """A task the engine finished during a command (user, script, gateway, event)."""

    id: str
    bpmn_id: str
    name: str
    kind: str
    lane: str | None


@dataclass(frozen=True)
class InstanceSnapshot:
    """The result of every engine command: state to save plus projections to rebuild."""

    state: str
    """JSON text of the task tree and data, without the spec."""
    serializer_version: str
    completed: bool
    data: dict[str, Any]
    ready_tasks: list[ReadyTask]
    timers: list[WaitingTimer]
    steps: list[CompletedStep]
    end_event: str | None = None
    timers_before: bool | None = None
    """Whether the state the command loaded had waiting timers (False for a start: a new instance had none; None:
    not known).
    With none before and none after, the platform has no timer rows to rewrite and skips them."""
