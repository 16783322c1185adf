"""Every rule a process bundle must pass, run on every draft save and again at deploy.

Each message names the element it is about (id and name). The rules read the
tolerant element model (``engine.describe_bundle``), so a draft with many
problems, or a diagram exported by another modeler, gets all its messages at
once; the engine's own parse runs last and adds what only it can see.
Nothing here raises for bad input: a bundle that cannot run is a list of
messages, never a server error.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from app import engine
from app.common.safe_schema import form_problems
from app.engine import properties as P
from app.org.kinds import DEPARTMENT_KINDS

from .loops import find_loops

Message = engine.ValidationMessage
USER_TASK_TYPES = ("userTask", "manualTask")
_COMPILE_TEXT = "does not compile in the restricted environment"

ValueCheck = Callable[[str], object]
"""Parses a property's value and raises ``ValueError`` (its message is shown) when the value is not valid."""
_value_checks: dict[str, ValueCheck] = {}
CHECKED_PROPERTIES = (P.DEADLINE, P.ESCALATION)
"""Properties whose syntax belongs to a package above this one (``app.deadlines``): it registers the check."""


def register_value_check(name: str, check: ValueCheck) -> None:
    """How a property's value is checked at save and deploy; ``create_app`` wires ``app.deadlines.hooks``."""
    _value_checks[name] = check
    forget_reports()  # a report kept from before was made under the old check


def _value_check(name: str) -> ValueCheck:
    check = _value_checks.get(name)
    if check is None:  # fail closed: an unwired app must not deploy deadlines nobody checked
        raise RuntimeError(f"no check registered for the {name!r} property (create_app wires app.deadlines.hooks)")
    return check


@dataclass
class ValidationReport:
    """All messages for a bundle; ``parsed`` is set when the engine could build a runnable spec."""

    messages: list[Message]
    model: engine.BundleModel
    parsed: engine.ParsedBundle | None = None
    used_forms: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.level == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors and self.parsed is not None

    def as_dicts(self) -> list[dict[str, Any]]:
        return [message_dict(m) for m in self.messages]


def message_dict(m: Message) -> dict[str, Any]:
    return {"level": m.level, "rule": m.rule, "element_id": m.element_id, "element_name": m.element_name,
            "file": m.filename, "message": m.message, "text": str(m)}


def _msg(element: engine.ElementInfo | None, text: str, rule: str, level: str = "error") -> Message:
    if element is None:
        return Message(text, rule=rule, level=level)
    return Message(text, element.id, element.name, element.file, rule=rule, level=level)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema (the message of its best-matching error), or None.

    Checking a schema against the 2020-12 meta-schema takes ~8 ms, and every bundle
    validation (each draft save, each deploy) checks every form under ``forms/``:
    ~3 s for the shipped processes. The answer depends only on the schema, so it is
    cached by the schema's JSON text (key order kept, as the error chosen may depend on it).
    """
    try:
        text = json.dumps(schema, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = None
    if text is None or json.loads(text) != schema:  # not plain JSON (tuples, int keys): checked as it is
        return _check_schema(schema)
    return _schema_problem_of_text(text)


@functools.lru_cache(maxsize=1024)
def _schema_problem_of_text(text: str) -> str | None:
    return _check_schema(json.loads(text))


def _check_schema(schema: Any) -> str | None:
    """The meta-schema check without format checks: regexes are judged by RE2 in ``_unsafe_forms``
    (Python's ``re`` would refuse ``\\p{Han}``, which forms run fine on RE2)."""
    try:
        Draft202012Validator.check_schema(schema, format_checker=None)
    except SchemaError as exc:
        return str(exc.message)
    return None


def _unsafe_forms(forms: dict[str, Any]) -> list[Message]:
    """Every form in the bundle, used or not (a task may pick its form by expression): nothing outside
    the form is referenced and every regex runs on RE2 (``app.common.safe_schema``)."""
    found: list[Message] = []
    for name in sorted(forms):
        if schema_problem(forms[name]) is not None:
            continue  # reported as an invalid schema
        found.extend(Message(f"form {name!r}: {problem}", filename=name, rule="form")
                     for problem in form_problems(forms[name]))
    return found


def safe_form_path(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and name.endswith(".json")


# --------------------------------------------------------------------------- rules


def _executable(model: engine.BundleModel) -> list[Message]:
    executable = [p for p in model.processes if p.executable]
    if len(executable) == 1:
        return []
    if not model.processes:  # unless a file was refused already, which says why
        return [] if model.messages else [Message("the bundle has no BPMN process", rule="executable")]
    if not executable:
        return [Message(
            f"process {p.id}{f' ({p.name})' if p.name else ''} is not executable (isExecutable=\"false\", "
            "as modelers export documentation diagrams): tick 'Executable' on the process to deploy it",
            p.id, p.name, p.file, rule="executable") for p in model.processes]
    ids = ", ".join(p.id for p in executable)
    return [Message(f"{len(executable)} executable processes ({ids}): a bundle deploys exactly one; "
                    "mark called processes as not executable", rule="executable")]


def _lanes(model: engine.BundleModel) -> list[Message]:
    found = []
    known = ", ".join(sorted(DEPARTMENT_KINDS))
    for lane in (e for e in model.elements if e.type == "lane"):
        if not lane.name:
            found.append(_msg(lane, f"lane has no name: name it with a department kind ({known})", "lane"))
        elif lane.name not in DEPARTMENT_KINDS:
            found.append(_msg(lane, f"lane {lane.name!r} names no department kind (known: {known})", "lane"))
    return found


def _user_tasks(model: engine.BundleModel, forms: dict[str, Any]) -> list[Message]:
    found: list[Message] = []
    called = {e.details["calledElement"] for e in model.elements if e.details.get("calledElement")}
    for task in (e for e in model.elements if e.type in USER_TASK_TYPES):
        props = task.properties
        department = props.get(P.DEPARTMENT) or task.lane
        if department is None and task.process_id in called:
            pass  # a task inside a called process takes the calling activity's lane
        elif department is None:
            found.append(_msg(task, f"user task is in no lane and has no '{P.DEPARTMENT}' property: put it in a "
                                    "lane named after a department kind", "lane"))
        elif props.get(P.DEPARTMENT) and not P.is_expression(department) and department not in DEPARTMENT_KINDS:
            found.append(_msg(task, f"department {department!r} is not a department kind", "lane"))
        form = props.get(P.FORM)
        foreign_form = {k: v for k, v in task.foreign.items()
                        if k in ("camunda:formKey", "camunda:formRef", "zeebe:formDefinition", "activiti:formKey",
                                 "flowable:formKey")}
        if foreign_form and not form:
            key, value = next(iter(foreign_form.items()))
            found.append(_msg(task, f"uses a form from another engine ({key}={value}) that Liandong cannot "
                                    f"show: set a JSON Schema form ({P.FORM}) in the side panel",
                              "form"))
        if form:
            found.extend(_form_reference(task, form, forms))
        for name in CHECKED_PROPERTIES:
            text = props.get(name)
            if text:
                try:
                    _value_check(name)(text)
                except ValueError as exc:
                    found.append(_msg(task, str(exc), name))
        for key in ("camunda:assignee", "camunda:candidateGroups", "camunda:candidateUsers", "camunda:dueDate",
                    "zeebe:assignmentDefinition", "zeebe:taskSchedule"):
            if key in task.foreign:
                found.append(_msg(task, f"{key} is ignored: Liandong routes by lane/department and sets due "
                                        f"times from the '{P.DEADLINE}' property", "foreign", "warning"))
    return found


def _form_reference(task: engine.ElementInfo, form: str, forms: dict[str, Any]) -> list[Message]:
    if P.is_expression(form):
        return []
    if not safe_form_path(form):
        return [_msg(task, f"form path {form!r} must be a relative .json path inside forms/", "form")]
    if form not in forms:
        return [_msg(task, f"form {form!r} does not exist", "form")]
    problem = schema_problem(forms[form])
    if problem is not None:
        return [_msg(task, f"form {form!r} is not a valid JSON Schema: {problem}", "form")]
    if not isinstance(forms[form], dict) or forms[form].get("type", "object") != "object":
        return [_msg(task, f"form {form!r} must describe an object (\"type\": \"object\")", "form")]
    if _names_reserved_key(forms[form]):
        return [_msg(task, f"form {form!r} has a field named {engine.RESERVED_DATA_KEY!r}, a name the engine's stored "
                           "state reserves (every submission would be refused): rename it", "form")]
    fields = forms[form].get("properties")
    clash = sorted(engine.SCRIPT_NAMES.intersection(fields)) if isinstance(fields, dict) else []
    if clash:
        return [_msg(task, f"form {form!r} has a field named {clash[0]!r}, a name scripts use for a function or a "
                           "guard of the sandbox (every submission would be refused): rename it", "form")]
    return []


def _names_reserved_key(schema: Any, depth: int = 0) -> bool:
    """Whether a field anywhere in the form (nested objects and list items included) is named ``typename``."""
    if depth > 64:
        return False
    if isinstance(schema, dict):
        fields = schema.get("properties")
        if isinstance(fields, dict) and engine.RESERVED_DATA_KEY in fields:
            return True
        return any(_names_reserved_key(value, depth + 1) for value in schema.values())
    if isinstance(schema, list):
        return any(_names_reserved_key(value, depth + 1) for value in schema)
    return False


def _task_types(model: engine.BundleModel) -> list[Message]:
    found = []
    for e in model.elements:
        if e.type == "task":
            found.append(_msg(e, "a plain task (no type) runs straight through without anyone acting: make it "
                                 "a user task if a department must do something", "task", "warning"))
        elif e.type == "serviceTask":
            found.append(_msg(e, "a service task calls another system, which Liandong does not do: use a user "
                                 "task (a department acts) or a script task (a calculation)", "task"))
    return found


def _condition(flow: engine.ElementInfo) -> list[Message]:
    source = (flow.condition or "").strip()
    if not source:
        return []
    if source.startswith(("${", "#{")):
        inner = source[2:].rstrip("}").strip()
        python = inner.replace("!", "not ", 1) if inner.startswith("!") else inner
        return [_msg(flow, f"condition {source!r} is a JUEL expression from another engine: write it in "
                           f"Python over the case data (e.g. {python})", "expression")]
    language = (flow.condition_language or "").lower()
    if "feel" in language:
        return [_msg(flow, f"condition {source!r} is written in FEEL: write it in Python over the case data",
                     "expression")]
    return _code(flow, "condition", source, "eval")


def _code(element: engine.ElementInfo, label: str, source: str, mode: Literal["eval", "exec"]) -> list[Message]:
    """Compile problems, else what is certain to be refused when it runs (``10**10**10``, ``while True``)."""
    compiled = [_msg(element, f"{label} {_COMPILE_TEXT}: {p}", "expression") for p in engine.check_source(source, mode)]
    if compiled:
        return compiled
    return [_msg(element, f"{label} would be refused when it runs: {p}", "bounds")
            for p in engine.check_bounds(source, mode)]


def _expressions(model: engine.BundleModel) -> list[Message]:
    found: list[Message] = []
    for element in model.elements:
        if element.type == "sequenceFlow":
            found.extend(_condition(element))
        if element.type == "scriptTask":
            fmt = (element.script_format or "python").lower()
            if fmt not in ("python", "text/x-python", "py"):
                found.append(_msg(element, f"script format {element.script_format!r} is not supported: scripts "
                                           "are Python, run in the restricted environment", "expression"))
            else:
                found.extend(_code(element, "script", element.script or "", "exec"))
        for key in ("spiffworkflow:preScript", "spiffworkflow:postScript"):
            if element.details.get(key):
                found.extend(_code(element, key.split(":")[1], element.details[key], "exec"))
        for key, value in element.properties.items():
            if P.is_expression(value):
                found.extend(_code(element, f"property {key}", value[1:], "eval"))
        if element.timer is not None:
            kind, expression = element.timer
            found.extend(_msg(element, f"timer ({kind}): {p}", "timer")
                         for p in engine.check_timer(kind, expression))
    return found


def _loops(model: engine.BundleModel) -> list[Message]:
    found = []
    for loop in find_loops(model):
        first = model.element(loop.flows[0])
        path = " → ".join(loop.nodes + [loop.nodes[0]])
        found.append(_msg(first, f"loop over sequence flows {', '.join(loop.flows)} ({path}) can run without "
                                 "bound; the engine stalls after about 250 rounds. Use a loop or multi-instance "
                                 "marker on the task, or start a new instance per round", "loop"))
    return found


def _unused_forms(forms: dict[str, Any], used: Iterable[str]) -> list[Message]:
    found = []
    for name in sorted(set(forms) - set(used)):
        problem = schema_problem(forms[name])
        if problem is not None:
            found.append(Message(f"form {name!r} is not a valid JSON Schema: {problem}", filename=name,
                                 rule="form", level="warning"))
    return found


def _engine_parse(files: dict[str, str]) -> tuple[engine.ParsedBundle | None, list[Message]]:
    try:
        return engine.parse_bundle(dict(files)), []
    except engine.BundleInvalid as exc:
        return None, [replace(m, rule=m.rule or "engine") for m in exc.messages
                      if _COMPILE_TEXT not in m.message and "must have an operator" not in m.message]
    except Exception as exc:  # never a server error for an uploaded diagram
        return None, [Message(f"the engine could not read this bundle ({type(exc).__name__}: {exc})",
                              rule="engine")]


REPORTS_KEPT = 16
"""How many bundles' reports ``validate_bundle`` keeps."""
KEPT_BUNDLE_BYTES = 1_000_000
"""Larger bundles (bytes of their pickle) are validated every time (the shipped four-in-one with all of
``forms/`` is ~0.2 MB), so that a designer's uploads cannot make the kept reports hold more than a few tens of MB."""
_reports: OrderedDict[str, bytes] = OrderedDict()
_reports_lock = threading.Lock()


def validate_bundle(files: dict[str, str], forms: dict[str, Any]) -> ValidationReport:
    """Run every rule; the report says whether the bundle can be deployed and why not.

    The report depends only on the bundle's exact content and on the rules, which are fixed for the
    life of the process; yet the same content is validated again and again: a draft at each save and
    at its deploy, every unchanged folder at each ``demo load`` or ``deploy_shipped``. So the last
    ``REPORTS_KEPT`` reports are kept by content (files and forms with their types and in their own key
    order, which the messages' order and wording may follow), pickled (4-106 kB each for the shipped
    processes), and every caller gets a fresh copy of its own: for the eleven shipped bundles a hit (the
    digest and the unpickling) costs ~5 % of validating them (``bench/validation_cache.py``).
    """
    key = _content_key(files, forms)
    if key is None:
        return _validate(files, forms)
    with _reports_lock:
        kept = _reports.get(key)
        if kept is not None:
            _reports.move_to_end(key)
    if kept is not None:
        fresh: ValidationReport = pickle.loads(kept)  # noqa: S301 -- our own bytes, made below
        return fresh
    report = _validate(files, forms)
    try:  # kept as it is now: what a caller does to the report it gets is its own
        kept = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError, TypeError, AttributeError):
        return report
    with _reports_lock:
        _reports[key] = kept
        while len(_reports) > REPORTS_KEPT:
            _reports.popitem(last=False)
    fresh = pickle.loads(kept)  # noqa: S301 -- shares nothing with the caller's forms either
    return fresh


def forget_reports() -> None:
    """Drop the kept reports (the rules changed)."""
    with _reports_lock:
        _reports.clear()


def _content_key(files: dict[str, str], forms: dict[str, Any]) -> str | None:
    """A digest of exactly this content (types and key order included: the pickle of it), or None when it
    is not kept: larger than ``KEPT_BUNDLE_BYTES`` or not picklable. Two bundles that pickle alike are the
    same bundle; one that pickles differently (the same dict twice, or two equal ones) is merely validated
    again. A JSON round trip as the key took 2-4 ms for every shipped folder (it carries all of ``forms/``)."""
    try:
        content = pickle.dumps([files, forms], protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, RecursionError, TypeError, AttributeError):
        return None
    if len(content) > KEPT_BUNDLE_BYTES:
        return None
    return hashlib.sha256(content).hexdigest()


def _validate(files: dict[str, str], forms: dict[str, Any]) -> ValidationReport:
    model = engine.describe_bundle(dict(files))
    messages = list(model.messages)
    structural_ok = not messages
    messages += _executable(model)
    messages += _lanes(model)
    messages += _user_tasks(model, forms)
    messages += _task_types(model)
    messages += _expressions(model)
    messages += _loops(model)
    used = [e.properties[P.FORM] for e in model.elements if e.type in USER_TASK_TYPES and e.properties.get(P.FORM)]
    messages += _unused_forms(forms, used)
    messages += _unsafe_forms(forms)
    parsed = None
    if structural_ok and len([p for p in model.processes if p.executable]) == 1:
        parsed, engine_messages = _engine_parse(files)
        seen = {str(m) for m in messages}
        messages += [m for m in engine_messages if str(m) not in seen]
    used_forms = {name: forms[name] for name in used if name in forms}
    return ValidationReport(messages=messages, model=model, parsed=parsed, used_forms=used_forms)
