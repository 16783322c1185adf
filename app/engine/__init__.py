"""The only package that imports SpiffWorkflow.

The rest of Liandong calls these functions and sees plain dataclasses
(``ReadyTask``, ``WaitingTimer``, ``InstanceSnapshot``); see DESIGN.md.
"""

from .parsing import parse_bundle
from .runtime import complete_task, fire_timers, snapshot, start_instance
from .sandbox import check_source
from .serialization import SERIALIZER_VERSION
from .types import (
    BundleInvalid,
    CompletedStep,
    EngineError,
    InstanceSnapshot,
    ParsedBundle,
    ProcessScriptError,
    ReadyTask,
    TaskNotReady,
    UserTaskInfo,
    ValidationMessage,
    WaitingTimer,
)

__all__ = [
    "SERIALIZER_VERSION", "BundleInvalid", "CompletedStep", "EngineError", "InstanceSnapshot",
    "ParsedBundle", "ProcessScriptError", "ReadyTask", "TaskNotReady", "UserTaskInfo",
    "ValidationMessage", "WaitingTimer", "check_source", "complete_task", "fire_timers",
    "parse_bundle", "snapshot", "start_instance",
]
