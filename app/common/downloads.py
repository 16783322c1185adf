"""``Content-Disposition`` for file names in any script (RFC 6266 with RFC 5987 ``filename*``).

Attachment and BPMN file names are Chinese more often than not. A header is Latin-1 on the wire, so a
name outside ASCII goes in ``filename*=UTF-8''…`` (percent-encoded) beside an ASCII ``filename`` for old
clients; quotes, backslashes and control characters never reach the header.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

_ASCII_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.()[]+ ")


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """The header value offering ``name`` for download (``disposition``: attachment or inline)."""
    clean = "".join(ch for ch in name if ch.isprintable() and ch not in "\"\\/").strip() or "download"
    stem, dot, ext = clean.rpartition(".")
    if not dot:
        stem, ext = clean, ""
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    ascii_stem = "".join(ch if ch in _ASCII_SAFE else "_" for ch in folded).strip(" _.") or "download"
    ascii_ext = "".join(ch for ch in ext if ch in _ASCII_SAFE and ch != " ")
    fallback = f"{ascii_stem}.{ascii_ext}" if ascii_ext else ascii_stem
    if fallback == clean:
        return f'{disposition}; filename="{clean}"'
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"
