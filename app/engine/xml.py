"""Hardened XML parsing: nothing reaches SpiffWorkflow before passing through here.

SpiffWorkflow parses with plain lxml, which resolves entities and may read DTDs.
A process designer's upload is untrusted, so we refuse DTDs outright (no entity
bombs, no external entities, no network) and cap the size.

Files are stored as text. Chinese modelling tools save GBK or GB18030 and say so in the XML
declaration; an upload is decoded by its byte-order mark or declared encoding (unknown or
non-text codecs refused), and stored text always declares UTF-8, the encoding it is parsed
and served in.
"""

from __future__ import annotations

import codecs
import io
import re

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from lxml import etree

from .types import BundleInvalid, ValidationMessage

MAX_XML_BYTES = 2 * 1024 * 1024
"""A county's largest process is tens of kilobytes; 2 MiB is generous and bounded."""

MAX_NAMESPACES = 200
"""Namespace declarations per file. Modelers write ten to twenty; thousands made reading the elements
quadratic (each prefixed attribute looks its namespace up among all in scope: 4,000 took 11 s to save)."""

MAX_ATTRIBUTES = 100
"""Attributes per element: bpmn.io writes under ten. lxml lists an element's attributes in time quadratic
in their number (8,000 on one element: 0.4 s per listing, and the designer lists them several times)."""


_DECLARATION = re.compile(r"""\A(\s*<\?xml\b[^>]*?\bencoding\s*=\s*)(["'])([^"']*)\2""")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _refuse(message: str, filename: str) -> BundleInvalid:
    return BundleInvalid([ValidationMessage(message, filename=filename, rule="encoding")])


def _check_codec(encoding: str, filename: str) -> str:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise _refuse(f"unknown encoding {encoding!r} in the XML declaration; save the file as UTF-8 "
                      "(or GBK, GB18030, Big5, UTF-16)", filename) from None
    if not getattr(info, "_is_text_encoding", True):
        raise _refuse(f"{encoding!r} is not a text encoding", filename)
    return encoding


def as_utf8_text(text: str, filename: str = "") -> str:
    """Text with its XML declaration saying UTF-8 (text has no bytes; a declared GBK would mislead).

    An unknown declared encoding is refused here too, so upload and JSON agree.
    """
    text = text.removeprefix("\ufeff")
    match = _DECLARATION.match(text)
    if match is None:
        return text
    _check_codec(match.group(3).strip(), filename)
    return f"{match.group(1)}{match.group(2)}UTF-8{match.group(2)}{text[match.end():]}"


def decode_xml(raw: bytes, filename: str) -> str:
    """Uploaded XML bytes as text: by byte-order mark, else the declared encoding (default UTF-8).

    GBK, GB18030, Big5, UTF-16 ... are accepted when the bytes are valid in them; an unknown
    encoding, a codec that is not a text encoding, or bytes invalid in the declared one raise
    ``BundleInvalid`` naming the encoding.
    """
    if len(raw) > MAX_XML_BYTES:
        raise _refuse(f"file is {len(raw)} bytes; the limit is {MAX_XML_BYTES}", filename)
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if encoding is None and raw[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        encoding = "utf-16-le" if raw[0] == 0x3C else "utf-16-be"
    if encoding is None:
        head = raw[:200].decode("latin-1")
        match = _DECLARATION.match(head)
        encoding = _check_codec(match.group(3).strip(), filename) if match else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _refuse(f"the file is not valid {encoding} text (byte {exc.start})", filename) from None
    return as_utf8_text(text, filename)


def parse_xml(data: bytes | str, filename: str) -> etree._Element:
    """Parse untrusted XML into an lxml element or raise ``BundleInvalid``."""
    text = decode_xml(data, filename) if isinstance(data, bytes) else as_utf8_text(data, filename)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse("the text contains a lone surrogate: not valid Unicode", filename) from None
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
    events = etree.iterparse(
        io.BytesIO(raw), events=("start-ns", "start"), resolve_entities=False, no_network=True, load_dtd=False,
        dtd_validation=False, huge_tree=False, remove_comments=False,
    )
    declared = 0
    try:
        for event, item in events:
            if event == "start-ns":
                declared += 1
                if declared > MAX_NAMESPACES:
                    raise _refuse(f"more than {MAX_NAMESPACES} namespace declarations (xmlns); a process "
                                  "needs a dozen or so", filename)
            elif len(item.attrib) > MAX_ATTRIBUTES:
                raise _refuse(f"element {item.get('id') or etree.QName(item).localname!r} has "
                              f"{len(item.attrib)} attributes; the limit is {MAX_ATTRIBUTES}", filename)
        root: etree._Element = events.root
        return root
    except etree.XMLSyntaxError as exc:
        raise BundleInvalid([ValidationMessage(f"not well-formed XML: {exc}", filename=filename)]) from exc
