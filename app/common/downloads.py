"""Files leave the server only as downloads, with ``Content-Disposition`` for names in any script.

Names (RFC 6266 with RFC 5987 ``filename*``): attachment and BPMN file names are Chinese more often than
not. A header is Latin-1 on the wire, so a name outside ASCII goes in ``filename*=UTF-8''…``
(percent-encoded) beside an ASCII ``filename`` for old clients; quotes, backslashes and control characters
never reach the header.

Designer content (BPMN, DMN): XML written by a process designer we do not trust. Served as
``application/xml`` and opened in a tab, an ``<html:script>`` or an SVG inside it would run on our origin
with the user's session. So :func:`file_download` makes it ``attachment`` (the browser saves it, never
renders it), ``application/octet-stream`` (no browser renders that, whatever the bytes look like),
``nosniff``, with a policy of its own that allows nothing and sandboxes the document in case a browser
shows it anyway. bpmn-js still reads the same URLs with ``fetch()``, which ignores all of this.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response

DOWNLOAD_CONTENT_TYPE = "application/octet-stream"
DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"

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


def file_download(content: str | bytes, filename: str) -> Response:
    """``content`` as a file to save under ``filename``, never a page (see the module docstring)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return Response(data, mimetype=DOWNLOAD_CONTENT_TYPE, headers={
        "Content-Disposition": content_disposition(filename), "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_POLICY, "Cache-Control": "private, no-store"})
