"""Hardened XML parsing: nothing reaches SpiffWorkflow before passing through here.

SpiffWorkflow parses with plain lxml, which resolves entities and may read DTDs.
A process designer's upload is untrusted, so we refuse DTDs outright (no entity
bombs, no external entities, no network) and cap the size.
"""

from __future__ import annotations

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from lxml import etree

from .types import BundleInvalid, ValidationMessage

MAX_XML_BYTES = 2 * 1024 * 1024
"""A county's largest process is tens of kilobytes; 2 MiB is generous and bounded."""


def parse_xml(data: bytes | str, filename: str) -> etree._Element:
    """Parse untrusted XML into an lxml element or raise ``BundleInvalid``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_XML_BYTES:
        raise BundleInvalid([ValidationMessage(
            f"file is {len(raw)} bytes; the limit is {MAX_XML_BYTES}", filename=filename)])
    try:
        SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise BundleInvalid([ValidationMessage(
            f"refused: XML with a DTD or entities is not accepted ({type(exc).__name__})",
            filename=filename)]) from exc
    except SafeET.ParseError as exc:
        raise BundleInvalid([ValidationMessage(f"not well-formed XML: {exc}", filename=filename)]) from exc
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False,
    )
    try:
        return etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise BundleInvalid([ValidationMessage(f"not well-formed XML: {exc}", filename=filename)]) from exc
