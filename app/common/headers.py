"""Browser hardening headers on every response (docs/security.md, "Browser hardening").

Why each one:

* ``Content-Security-Policy``: scripts only from our own files (no inline script, no ``eval``, no
  event-handler attributes), so text a user or a process designer stored cannot run even if a template
  ever printed it unescaped. ``object-src 'none'``, ``base-uri 'none'``, ``frame-ancestors 'none'`` and
  ``form-action 'self'`` close the usual detours (plugins, a rewritten base URL, clickjacking, a form
  posting a child's data elsewhere). Styles are files only as well: bpmn-js, dmn-js, Chart.js and htmx
  style elements through the CSSOM (allowed) and htmx's own indicator ``<style>`` is switched off in
  base.html's ``htmx-config``. ``img-src`` and ``font-src`` allow ``data:`` because the vendored diagram
  fonts and the bpmn.io logo are data URIs; a data-URI image cannot run script.
* ``Cache-Control: no-store`` on everything that is not a static asset: pages, JSON, exports and
  downloads carry children's data, and a shared office computer's cache or a proxy must not keep them.
  The one exception is a page its view lets the signed-in user keep for offline use (the inbox, an open
  task of the user's own unit, the report form): ``private, no-cache`` with the user's offline key
  (:mod:`app.common.offline`); the service worker keeps nothing else.
* Downloads of designer content (BPMN, DMN, forms) get a stricter policy of their own
  (:func:`app.common.downloads.file_download`).
"""

from __future__ import annotations

from flask import Flask, Response, request

from app.common.offline import offline_headers

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])
"""The one policy for pages and API answers; no ``unsafe-inline`` and no ``unsafe-eval`` anywhere."""

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

CLEAR_ON_LOGOUT = '"cache", "storage"'
"""Signing out on a shared office computer leaves no page of a case in the browser's cache or storage
(honoured over https and on localhost). Cookies are the session code's business, not this header's."""
LOGOUT_ENDPOINT = "auth.logout"

STATIC_ENDPOINT_SUFFIX = "static"
"""``static`` and blueprint statics (``designer.static``): versioned assets, safe to cache."""


HARDENING = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)
"""The headers every response gets unless its view set its own (a stricter one)."""


def is_static_asset(endpoint: str | None = None) -> bool:
    endpoint = (request.endpoint if endpoint is None else endpoint) or ""
    return endpoint == STATIC_ENDPOINT_SUFFIX or endpoint.endswith("." + STATIC_ENDPOINT_SUFFIX)


def security_headers(response: Response) -> Response:
    """Set the hardening headers; a view that set a stricter header of its own keeps it.

    The names already set are read once, and the missing headers added in one go: ``Headers.setdefault`` scans
    the list up to three times a header, through a ``KeyError`` when it is missing (282 Python calls a response,
    now 124: ``bench/request_floor.py --calls``)."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118 - Headers iterates (name, value) pairs
    endpoint = request.endpoint
    missing = [(name, value) for name, value in HARDENING if name.lower() not in present]
    if endpoint == LOGOUT_ENDPOINT and "clear-site-data" not in present:
        missing.append(("Clear-Site-Data", CLEAR_ON_LOGOUT))
    if request.is_secure and "strict-transport-security" not in present:
        missing.append(("Strict-Transport-Security", "max-age=31536000"))
    headers.extend(missing)
    if not is_static_asset(endpoint) and not offline_headers(response):
        cache = headers.get("Cache-Control", "")
        if "no-store" not in cache:
            headers["Cache-Control"] = "no-store"
        if "expires" in present:
            headers.pop("Expires", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
