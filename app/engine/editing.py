"""Small edits to a BPMN file on the server: what the designer's side panel sets per element.

The browser modeler writes the same ``spiffworkflow:properties`` through bpmn-js;
this is the same edit for API clients and scripts (and the fallback when the
modeler is not available). The XML goes through the hardened parser first.
"""

from __future__ import annotations

from lxml import etree

from .model import BPMN_NS, SPIFF_NS
from .types import BundleInvalid, ValidationMessage
from .xml import parse_xml


def _child(node: etree._Element, ns: str, local: str) -> etree._Element | None:
    return next((c for c in node if isinstance(c.tag, str) and c.tag == f"{{{ns}}}{local}"), None)


def _properties_holder(node: etree._Element) -> etree._Element:
    ext = _child(node, BPMN_NS, "extensionElements")
    if ext is None:
        ext = etree.Element(f"{{{BPMN_NS}}}extensionElements")
        # extensionElements follows documentation in the BPMN schema's sequence
        docs = [i for i, c in enumerate(node) if isinstance(c.tag, str) and c.tag == f"{{{BPMN_NS}}}documentation"]
        node.insert(docs[-1] + 1 if docs else 0, ext)
    holder = _child(ext, SPIFF_NS, "properties")
    if holder is None:
        holder = etree.SubElement(ext, f"{{{SPIFF_NS}}}properties")
    return holder


def edit_element(xml: str, filename: str, element_id: str, *, name: str | None = None,
                 properties: dict[str, str | None] | None = None) -> str:
    """Return ``xml`` with the element's name and/or properties changed (``None`` removes a property)."""
    root = parse_xml(xml, filename)
    found = root.xpath("//*[@id=$id]", id=element_id)
    if not found:
        raise BundleInvalid([ValidationMessage(f"no element with id {element_id!r}", element_id,
                                               filename=filename, rule="edit")])
    node = found[0]
    if name is not None:
        node.set("name", name)
    if properties:
        holder = _properties_holder(node)
        existing = {p.get("name"): p for p in holder if isinstance(p.tag, str) and p.get("name")}
        for key, value in properties.items():
            if value is None or value == "":
                if key in existing:
                    holder.remove(existing[key])
            elif key in existing:
                existing[key].set("value", value)
            else:
                prop = etree.SubElement(holder, f"{{{SPIFF_NS}}}property")
                prop.set("name", key)
                prop.set("value", value)
        if len(holder) == 0:
            ext = holder.getparent()
            assert ext is not None
            ext.remove(holder)
            if len(ext) == 0 and ext.getparent() is not None:
                ext.getparent().remove(ext)  # type: ignore[union-attr]
    etree.cleanup_namespaces(root, top_nsmap={"spiffworkflow": SPIFF_NS})
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode")
