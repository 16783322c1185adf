"""A plain, tolerant description of a BPMN/DMN bundle: elements, lanes, flows, properties.

The designer needs to look at diagrams the engine cannot run yet (a draft with
errors, a Camunda or Signavio export): to list what is wrong with each element,
to compare two versions, to find loops, to fill the side panel. ``describe_bundle``
reads every file through the hardened parser and never raises; files that are not
XML, or that break the BPMN schema, come back as ``messages`` naming the element.
"""

from __future__ import annotations

import re
import threading
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from .types import BundleInvalid, ValidationMessage
from .xml import parse_xml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/", "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS}

KNOWN_PREFIXES = {
    BPMN_NS: "bpmn", SPIFF_NS: "spiffworkflow",
    "http://camunda.org/schema/1.0/bpmn": "camunda", "http://camunda.org/schema/zeebe/1.0": "zeebe",
    "http://camunda.org/schema/modeler/1.0": "modeler", "http://www.signavio.com": "signavio",
    "http://www.trisotech.com/2015/triso/modeling": "triso", "http://www.trisotech.com/2014/triso/bpmn": "trisobpmn",
    "http://activiti.org/bpmn": "activiti", "http://flowable.org/bpmn": "flowable",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
}
"""Stable prefixes for foreign attributes, whatever prefix the exporting tool chose."""
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

FLOW_NODE_TYPES = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask",
    "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
})
DESCRIBED_TYPES = FLOW_NODE_TYPES | {"sequenceFlow", "lane"}
TIMER_KINDS = ("timeDuration", "timeDate", "timeCycle")


@dataclass(frozen=True)
class ElementInfo:
    """One BPMN element (flow node, sequence flow, lane) or DMN decision, as plain data."""

    id: str
    type: str
    name: str | None
    file: str
    process_id: str | None
    scope: str | None = None
    """The process or sub-process whose sequence flows connect this element."""
    lane: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    """``spiffworkflow:properties`` (deadline, formJsonSchemaFilename, instructions, department ...)."""
    source: str | None = None
    target: str | None = None
    condition: str | None = None
    condition_language: str | None = None
    script: str | None = None
    script_format: str | None = None
    timer: tuple[str, str] | None = None
    """(timeDuration | timeDate | timeCycle, expression) of a timer event."""
    event: str | None = None
    """Event definition kind (timer, message, escalation, error, signal ...) of an event."""
    attached_to: str | None = None
    default: str | None = None
    foreign: dict[str, str] = field(default_factory=dict)
    """Attributes and extension elements from other tools, ``prefix:name`` -> value."""
    details: dict[str, str] = field(default_factory=dict)
    """Everything compared by the version diff, flattened to strings."""


@dataclass(frozen=True)
class ProcessInfo:
    id: str
    name: str | None
    executable: bool
    file: str


@dataclass(frozen=True)
class BundleModel:
    elements: list[ElementInfo]
    processes: list[ProcessInfo]
    messages: list[ValidationMessage]
    """Files that are not well-formed, were refused by the hardened parser, or break the BPMN schema."""

    def element(self, element_id: str) -> ElementInfo | None:
        return next((e for e in self.elements if e.id == element_id), None)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _ns(tag: Any) -> str:
    return etree.QName(tag).namespace or "" if isinstance(tag, str) else ""


def _prefixed(node: etree._Element, qname: str, prefixes: dict[str, str] | None = None) -> str:
    """``prefix:local`` for a qualified name; ``prefixes`` (uri -> prefix) saves rebuilding ``nsmap``
    for each of a node's attributes (it costs as much as the namespaces in scope)."""
    q = etree.QName(qname)
    if not q.namespace:
        return q.localname
    prefix = KNOWN_PREFIXES.get(q.namespace)
    if prefix is None:
        if prefixes is None:
            prefixes = _prefixes(node)
        prefix = prefixes.get(q.namespace, "ext")
    return f"{prefix}:{q.localname}"


def _prefixes(node: etree._Element) -> dict[str, str]:
    return {uri: p for p, uri in reversed(list((node.nsmap or {}).items())) if p}


def _text(node: etree._Element | None) -> str:
    return "" if node is None else "".join(node.itertext()).strip()


def _bpmn_child(node: etree._Element, local: str) -> etree._Element | None:
    return next((c for c in node if _ns(c.tag) == BPMN_NS and _local(c.tag) == local), None)


def _spiff_properties(node: etree._Element) -> dict[str, str]:
    ext = _bpmn_child(node, "extensionElements")
    props: dict[str, str] = {}
    if ext is None:
        return props
    for holder in ext:
        if _ns(holder.tag) == SPIFF_NS and _local(holder.tag) == "properties":
            for prop in holder:
                if _local(prop.tag) == "property" and prop.get("name"):
                    props[str(prop.get("name"))] = prop.get("value") or ""
    return props


def _spiff_extensions(node: etree._Element) -> dict[str, str]:
    """Spiff extension elements other than properties (preScript, postScript, calledDecisionId ...)."""
    ext = _bpmn_child(node, "extensionElements")
    found: dict[str, str] = {}
    if ext is not None:
        for child in ext:
            if _ns(child.tag) == SPIFF_NS and _local(child.tag) != "properties":
                found[_local(child.tag)] = _text(child)
    return found


def _foreign(node: etree._Element) -> dict[str, str]:
    found: dict[str, str] = {}
    prefixes: dict[str, str] | None = None
    for key, value in node.attrib.items():
        namespace = _ns(key)
        if namespace and namespace != BPMN_NS and namespace != XSI_NS:
            if prefixes is None and namespace not in KNOWN_PREFIXES:
                prefixes = _prefixes(node)
            found[_prefixed(node, str(key), prefixes)] = str(value)
    ext = _bpmn_child(node, "extensionElements")
    if ext is not None:
        for child in ext:
            if _ns(child.tag) in (SPIFF_NS, BPMN_NS) or not isinstance(child.tag, str):
                continue
            name = _prefixed(child, child.tag)
            attrs = " ".join(f"{_local(k)}={v}" for k, v in child.attrib.items())
            value = attrs or _text(child)
            found[name] = f"{found[name]}; {value}" if name in found else value
    return found



def _lane_map(process: etree._Element) -> tuple[dict[str, str], list[etree._Element]]:
    """flow node id -> name of the innermost lane holding it; and every lane element."""
    owner: dict[str, str] = {}
    lanes: list[etree._Element] = []

    def walk(lane_set: etree._Element) -> None:
        for lane in lane_set:
            if _ns(lane.tag) != BPMN_NS or _local(lane.tag) != "lane":
                continue
            lanes.append(lane)
            label = lane.get("name") or lane.get("id") or ""
            for ref in lane:
                if _ns(ref.tag) == BPMN_NS and _local(ref.tag) == "flowNodeRef" and ref.text:
                    owner[ref.text.strip()] = label
            child = _bpmn_child(lane, "childLaneSet")
            if child is not None:
                walk(child)  # inner lanes are visited after, so they win

    for lane_set in process.iter(f"{{{BPMN_NS}}}laneSet"):
        walk(lane_set)
    return owner, lanes


def _scope(node: etree._Element) -> str | None:
    parent = node.getparent()
    while parent is not None:
        if _ns(parent.tag) == BPMN_NS and _local(parent.tag) in ("process", "subProcess", "transaction",
                                                                  "adHocSubProcess"):
            return parent.get("id")
        parent = parent.getparent()
    return None


def _describe_node(node: etree._Element, file: str, process_id: str, lanes: dict[str, str]) -> ElementInfo:
    kind = _local(node.tag)
    element_id = node.get("id") or ""
    details: dict[str, str] = {"type": kind}
    if node.get("name"):
        details["name"] = str(node.get("name"))
    lane = lanes.get(element_id) if kind in FLOW_NODE_TYPES else None
    if lane:
        details["lane"] = lane
    properties = _spiff_properties(node)
    for key, value in properties.items():
        details[f"property {key}"] = value
    for key, value in _spiff_extensions(node).items():
        details[f"spiffworkflow:{key}"] = value
    foreign = _foreign(node)
    for key, value in foreign.items():
        details[key] = value
    doc = _bpmn_child(node, "documentation")
    if doc is not None and _text(doc):
        details["documentation"] = _text(doc)
    condition = condition_language = script = script_format = event = None
    timer: tuple[str, str] | None = None
    if kind == "sequenceFlow":
        details["from"] = node.get("sourceRef") or ""
        details["to"] = node.get("targetRef") or ""
        cond = _bpmn_child(node, "conditionExpression")
        if cond is not None:
            condition = _text(cond)
            condition_language = cond.get("language")
            details["condition"] = condition
    if kind == "scriptTask":
        script = _text(_bpmn_child(node, "script"))
        script_format = node.get("scriptFormat")
        details["script"] = script
        if script_format:
            details["scriptFormat"] = script_format
    for child in node:
        local = _local(child.tag)
        if _ns(child.tag) == BPMN_NS and local.endswith("EventDefinition"):
            event = local[: -len("EventDefinition")]
            details["event"] = event
            for timer_kind in TIMER_KINDS:
                expr = _bpmn_child(child, timer_kind)
                if expr is not None:
                    timer = (timer_kind, _text(expr))
                    details[f"timer {timer_kind}"] = timer[1]
            for ref in ("escalationRef", "errorRef", "messageRef", "signalRef"):
                if child.get(ref):
                    details[f"event {ref}"] = str(child.get(ref))
    if node.get("attachedToRef"):
        details["attachedTo"] = str(node.get("attachedToRef"))
        details["cancelActivity"] = node.get("cancelActivity", "true")
    if node.get("default"):
        details["default"] = str(node.get("default"))
    if node.get("calledElement"):
        details["calledElement"] = str(node.get("calledElement"))
    loop = next((c for c in node if _local(c.tag) in ("multiInstanceLoopCharacteristics",
                                                       "standardLoopCharacteristics")), None)
    if loop is not None:
        details["loop"] = _local(loop.tag) + (" sequential" if loop.get("isSequential") == "true" else "")
    return ElementInfo(
        id=element_id, type=kind, name=node.get("name"), file=file, process_id=process_id, scope=_scope(node),
        lane=lane, properties=properties, source=node.get("sourceRef"), target=node.get("targetRef"),
        condition=condition, condition_language=condition_language, script=script, script_format=script_format,
        timer=timer, event=event, attached_to=node.get("attachedToRef"), default=node.get("default"),
        foreign=foreign, details=details,
    )


def _describe_lane(lane: etree._Element, file: str, process_id: str) -> ElementInfo:
    refs = sorted(_text(r) for r in lane if _local(r.tag) == "flowNodeRef")
    details = {"type": "lane", "name": lane.get("name") or "", "flowNodeRefs": ", ".join(refs)}
    return ElementInfo(id=lane.get("id") or "", type="lane", name=lane.get("name"), file=file,
                       process_id=process_id, details=details)


def _describe_bpmn(root: etree._Element, file: str) -> tuple[list[ProcessInfo], list[ElementInfo]]:
    processes: list[ProcessInfo] = []
    elements: list[ElementInfo] = []
    for process in root.iterfind("bpmn:process", NS):
        process_id = process.get("id") or ""
        processes.append(ProcessInfo(process_id, process.get("name"), process.get("isExecutable") == "true", file))
        lanes, lane_nodes = _lane_map(process)
        elements.extend(_describe_lane(lane, file, process_id) for lane in lane_nodes)
        for node in process.iter():
            if _ns(node.tag) == BPMN_NS and _local(node.tag) in DESCRIBED_TYPES - {"lane"} and node.get("id"):
                elements.append(_describe_node(node, file, process_id, lanes))
    return processes, elements


def _describe_dmn(root: etree._Element, file: str) -> list[ElementInfo]:
    elements: list[ElementInfo] = []
    for decision in root.iter():
        if _local(decision.tag) != "decision":
            continue
        details: dict[str, str] = {"type": "decision", "name": decision.get("name") or ""}
        for table in decision.iter():
            if _local(table.tag) != "decisionTable":
                continue
            details["hitPolicy"] = table.get("hitPolicy", "UNIQUE")
            for node in table:
                local = _local(node.tag)
                if local == "input":
                    expr = next((c for c in node.iter() if _local(c.tag) == "text"), None)
                    details[f"input {node.get('id')}"] = f"{node.get('label') or ''}: {_text(expr)}"
                elif local == "output":
                    details[f"output {node.get('id')}"] = f"{node.get('label') or ''}: {node.get('name') or ''}"
                elif local == "rule":
                    cells = [_text(c) or "-" for c in node if _local(c.tag) in ("inputEntry", "outputEntry")]
                    details[f"rule {node.get('id')}"] = " | ".join(cells)
        elements.append(ElementInfo(id=decision.get("id") or "", type="decision", name=decision.get("name"),
                                    file=file, process_id=None, details=details))
    return elements


_schema_lock = threading.Lock()


def _short(message: str) -> str:
    for uri, prefix in KNOWN_PREFIXES.items():
        message = message.replace(f"{{{uri}}}", f"{prefix}:")
    return message


def schema_messages(root: etree._Element, filename: str) -> list[ValidationMessage]:
    """BPMN 2.0 XSD errors, each naming the nearest element with an id (lxml reports only lines)."""
    copy = deepcopy(root)  # the validator's preprocessing edits the tree; deepcopy keeps line numbers
    VALIDATOR.preprocess(copy)
    with _schema_lock:
        valid = VALIDATOR.validator.validate(copy)
        errors = list(VALIDATOR.validator.error_log)
    if valid:
        return []
    by_line: dict[int, list[etree._Element]] = {}
    for node in copy.iter():
        if isinstance(node.tag, str) and node.sourceline is not None:
            by_line.setdefault(node.sourceline, []).append(node)
    ids: dict[str, int] = {}
    for node in copy.iter():
        if isinstance(node.tag, str) and node.get("id"):
            ids[str(node.get("id"))] = ids.get(str(node.get("id")), 0) + 1
    messages = []
    for error in errors:
        candidates = by_line.get(error.line, [])
        named = re.match(r"Element '([^']+)'", error.message)
        node = next((c for c in candidates if named and c.tag == named.group(1)),
                    candidates[0] if candidates else None)
        while node is not None and node.get("id") is None:
            node = node.getparent()
        text = _short(error.message)
        duplicate = re.search(r"attribute 'id': '([^']+)' is not a valid value of the atomic type 'xs:ID'", text)
        if duplicate and ids.get(duplicate.group(1), 0) > 1:
            text = f"id {duplicate.group(1)!r} is used by more than one element; ids must be unique"
        messages.append(ValidationMessage(
            f"BPMN schema (line {error.line}): {text}",
            node.get("id") if node is not None else None, node.get("name") if node is not None else None,
            filename, rule="schema"))
    return messages


def describe_bundle(files: dict[str, bytes | str]) -> BundleModel:
    """Describe every .bpmn and .dmn file; never raises (problems are in ``messages``)."""
    elements: list[ElementInfo] = []
    processes: list[ProcessInfo] = []
    messages: list[ValidationMessage] = []
    for name, content in sorted(files.items()):
        if not name.endswith((".bpmn", ".dmn")):
            continue
        try:
            root = parse_xml(content, name)
        except BundleInvalid as exc:
            messages.extend(exc.messages)
            continue
        if name.endswith(".dmn") or _ns(root.tag) in DMN_NAMESPACES:
            elements.extend(_describe_dmn(root, name))
            continue
        if _ns(root.tag) != BPMN_NS or _local(root.tag) != "definitions":
            messages.append(ValidationMessage(
                f"not a BPMN 2.0 file: the root element is {_short(str(root.tag))!r}, expected bpmn:definitions",
                filename=name, rule="schema"))
            continue
        messages.extend(schema_messages(root, name))
        found_processes, found_elements = _describe_bpmn(root, name)
        processes.extend(found_processes)
        elements.extend(found_elements)
    return BundleModel(elements=elements, processes=processes, messages=messages)
