"""What a rendered page must never contain under our Content-Security-Policy, found by parsing its HTML
(lxml), not by searching text: script that is not a file, event-handler attributes, htmx ``hx-on``
(htmx evaluates it), ``javascript:`` URLs, and inline styles."""

from __future__ import annotations

import lxml.html

DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
"""Script elements the browser never runs: data blocks read by our files with JSON.parse."""
URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "xlink:href", "poster", "background")


def inline_script_problems(html: str) -> list[str]:
    """Every place in ``html`` that would be inline script or inline style; empty when the page is clean."""
    if not html.strip():
        return []
    root = lxml.html.document_fromstring(html) if "<html" in html[:500].lower() else lxml.html.fragment_fromstring(
        html, create_parent="div")
    problems: list[str] = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag == "script":
            kind = (el.get("type") or "").strip().lower()
            if el.get("src") is None and kind not in DATA_SCRIPT_TYPES:
                problems.append(f"inline <script>: {(el.text or '')[:60]!r}")
            if kind in DATA_SCRIPT_TYPES and "<" in (el.text or ""):
                problems.append("unescaped '<' inside a JSON data block")
        if tag == "style":
            problems.append("<style> element")
        for name, value in el.attrib.items():
            lname = name.lower()
            if lname.startswith("on"):
                problems.append(f"<{tag} {name}=...> event handler")
            if lname.startswith(("hx-on", "data-hx-on")) or lname in ("hx-vars", "data-hx-vars"):
                problems.append(f"<{tag} {name}=...> htmx script attribute")
            if lname == "style":
                problems.append(f"<{tag} style=...> inline style")
            if lname in URL_ATTRIBUTES and "".join(value.split()).lower().startswith(("javascript:", "vbscript:",
                                                                                      "data:text/html")):
                problems.append(f"<{tag} {name}={value[:40]!r}> script URL")
            if lname in ("hx-vals", "data-hx-vals") and value.strip().lower().startswith(("js:", "javascript:")):
                problems.append(f"<{tag} {name}=js:...> htmx eval")
    return problems
