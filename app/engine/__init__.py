"""The only package that imports SpiffWorkflow.

The rest of Liandong calls these functions and sees plain dataclasses
(``ReadyTask``, ``WaitingTimer``, ``InstanceSnapshot``); see DESIGN.md.
"""

from .checks import check_timer
from .editing import edit_element
from .jsondata import RESERVED_KEY as RESERVED_DATA_KEY
from .migration import MigrationCheck, migrate_state
from .model import BundleModel, ElementInfo, ProcessInfo, describe_bundle
from .parsing import parse_bundle
from .runtime import cancel_instance, complete_task, fire_timers, prepare_start, snapshot, start_instance
from .sandbox import check_source
from .sandbox_builtins import FUNCTION_NAMES as _FUNCTIONS
from .sandbox_builtins import RESERVED_NAMES as _GUARDS
from .sandbox_helpers import DEFAULT_HELPERS as _HELPERS
from .sandbox_static import check_bounds
from .serialization import SERIALIZER_VERSION, SpecJson
from .stamping import StartTemplate
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
from .xml import MAX_XML_BYTES, as_utf8_text, decode_xml

SCRIPT_NAMES = _GUARDS | _FUNCTIONS | frozenset(_HELPERS)
"""Names a form field or a variable may not have: the sandbox's guards, the functions scripts call (builtins and the
default helpers). Data so named is refused at the step that brings it in (``jsondata``)."""

__all__ = [
    "MAX_XML_BYTES", "RESERVED_DATA_KEY", "SCRIPT_NAMES", "SERIALIZER_VERSION", "BundleInvalid", "BundleModel", "CompletedStep", "ElementInfo", "EngineError",
    "InstanceSnapshot", "MigrationCheck", "ParsedBundle", "ProcessInfo", "ProcessScriptError", "ReadyTask", "SpecJson",
    "TaskNotReady", "UserTaskInfo", "ValidationMessage", "WaitingTimer", "as_utf8_text", "cancel_instance",
    "check_bounds", "check_source", "check_timer", "decode_xml",
    "complete_task", "describe_bundle", "edit_element", "fire_timers", "migrate_state", "parse_bundle",
    "prepare_start", "snapshot", "start_instance", "StartTemplate",
]
