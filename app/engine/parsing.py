"""Turn an uploaded bundle (BPMN + DMN files) into a validated, serializable spec."""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask as UserTaskMixin
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .model import schema_messages
from .sandbox import check_source
from .serialization import spec_to_dict
from .types import BundleInvalid, ParsedBundle, UserTaskInfo, ValidationMessage
from .xml import parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS}


def _element_name(root: etree._Element, element_id: str | None) -> str | None:
    if not element_id:
        return None
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0].get("name") if found else None


def _collect_expressions(root: etree._Element) -> list[tuple[str, str, str]]:
    """Every piece of Python a BPMN author wrote: conditions, scripts, timers."""
    found: list[tuple[str, str, str]] = []
    for cond in root.iterfind(".//bpmn:conditionExpression", NS):
        flow = cond.getparent()
        found.append((flow.get("id", "?"), "condition", (cond.text or "").strip()))
    for script in root.iterfind(".//bpmn:scriptTask/bpmn:script", NS):
        found.append((script.getparent().get("id", "?"), "script", script.text or ""))
    for tag in ("preScript", "postScript"):
        for script in root.iterfind(f".//{{{SPIFF_NS}}}{tag}"):
            task = script.getparent().getparent()
            found.append((task.get("id", "?"), "script", script.text or ""))
    for prop in root.iterfind(f".//{{{SPIFF_NS}}}property"):
        value = prop.get("value") or ""
        if value.startswith("="):
            task = prop.getparent().getparent().getparent()
            found.append((task.get("id", "?"), f"property {prop.get('name')}", value[1:]))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for timer in root.iterfind(f".//bpmn:{tag}", NS):
            event = timer.getparent().getparent()
            found.append((event.get("id", "?"), "timer", (timer.text or "").strip()))
    return found


def _user_tasks(specs: list[Any], process_id: str) -> list[UserTaskInfo]:
    tasks = []
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, UserTaskMixin) or getattr(task_spec, "manual", False):
                props = dict(getattr(task_spec, "extensions", {}).get("properties", {}))
                tasks.append(UserTaskInfo(
                    bpmn_id=task_spec.bpmn_id or task_spec.name,
                    name=task_spec.bpmn_name or task_spec.bpmn_id or task_spec.name,
                    lane=task_spec.lane,
                    properties=props,
                    process_id=spec.name,
                ))
    return tasks


def parse_bundle(files: dict[str, bytes | str], process_id: str | None = None) -> ParsedBundle:
    """Parse and validate ``files`` (name -> content); raise ``BundleInvalid`` listing every problem.

    ``process_id`` picks the executable process when a bundle holds several.
    """
    parser = SpiffBpmnParser(validator=VALIDATOR)
    roots: dict[str, etree._Element] = {}
    messages: list[ValidationMessage] = []
    for name, content in sorted(files.items()):
        if not name.endswith((".bpmn", ".dmn")):
            continue
        try:
            root = parse_xml(content, name)
        except BundleInvalid as exc:
            messages.extend(exc.messages)
            continue
        roots[name] = root
        if name.endswith(".bpmn"):
            schema_problems = schema_messages(root, name)
            if schema_problems:  # the engine's own check reports only the last error, without the element
                messages.extend(schema_problems)
                continue
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(root, filename=name)
            else:
                parser.add_bpmn_xml(root, filename=name)
        except ValidationException as exc:
            messages.append(ValidationMessage(
                str(exc.args[0]) if exc.args else str(exc), exc.id, exc.name or None, name))
        except Exception as exc:  # lxml schema errors and the like
            messages.append(ValidationMessage(f"{type(exc).__name__}: {exc}", filename=name))
    if messages:
        raise BundleInvalid(messages)
    bpmn_roots = {n: r for n, r in roots.items() if n.endswith(".bpmn")}
    if not bpmn_roots:
        raise BundleInvalid([ValidationMessage("the bundle has no .bpmn file")])

    executable = [
        (name, proc) for name, root in bpmn_roots.items()
        for proc in root.iterfind("bpmn:process", NS) if proc.get("isExecutable") == "true"
    ]
    if process_id is None:
        if len(executable) != 1:
            raise BundleInvalid([ValidationMessage(
                f"expected exactly one executable process (isExecutable=\"true\"), found {len(executable)}")])
        process_id = executable[0][1].get("id")
    elif process_id not in {p.get("id") for _, p in executable}:
        raise BundleInvalid([ValidationMessage(f"no executable process with id {process_id!r}")])
    assert process_id is not None

    expressions: list[tuple[str, str, str]] = []
    for name, root in bpmn_roots.items():
        for element_id, kind, source in _collect_expressions(root):
            expressions.append((element_id, kind, source))
            problems = check_source(source, "exec") if kind == "script" else check_source(source, "eval")
            for problem in problems:
                messages.append(ValidationMessage(
                    f"{kind} does not compile in the restricted environment: {problem}",
                    element_id, _element_name(root, element_id), name))
    try:
        spec = parser.get_spec(process_id)
        subprocess_specs = parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        messages.append(ValidationMessage(
            str(exc.args[0]) if exc.args else str(exc), exc.id, exc.name or None, exc.file_name))
    except Exception as exc:
        messages.append(ValidationMessage(f"{type(exc).__name__}: {exc}"))
    if messages:
        raise BundleInvalid(messages)

    lanes = sorted({
        lane.get("name") or lane.get("id")
        for root in bpmn_roots.values() for lane in root.iterfind(".//bpmn:lane", NS)
    })
    return ParsedBundle(
        process_id=process_id,
        process_name=spec.description or process_id,
        spec_json=spec_to_dict(spec, subprocess_specs),
        lanes=lanes,
        user_tasks=_user_tasks([spec, *subprocess_specs.values()], process_id),
        expressions=expressions,
    )
