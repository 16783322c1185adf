"""``/sw.js``, ``/manifest.webmanifest`` and ``/offline``: public, and holding no user's data.

The worker is served from the root so that its scope is the whole app (``Service-Worker-Allowed: /``
says so explicitly), and never cached (``no-store``, from :mod:`app.common.headers`), so a fixed worker
reaches every phone on its next page load. The manifest is fetched by the browser without cookies, so it
cannot and does not depend on who is signed in; the offline page is precached and shared by every user of
the phone, so it shows no name and no case: the list of pages the phone keeps is read by its script from
the signed-in user's own cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Blueprint, Response, abort, render_template, url_for
from flask_babel import get_locale

from .shell import WORKBOX_FILES, precache_entries, shell_revision, worker_scripts

blp = Blueprint("pwa", __name__, template_folder="templates")

THEME_COLOUR = "#1f5f8b"
BACKGROUND_COLOUR = "#ffffff"
PAGE_CACHE_MAX_AGE = 7 * 24 * 3600
"""A page kept on a phone is dropped after 7 days: older than a week, a task's page misleads."""
PAGE_CACHE_MAX_ENTRIES = 60
NETWORK_TIMEOUT_SECONDS = 4
"""Network first; after 4 s without an answer (a village's one bar of signal) the kept copy is shown."""


@blp.get("/sw.js")
def service_worker() -> Response:
    scripts = worker_scripts()
    if len(scripts) < len(WORKBOX_FILES) + 1:
        abort(404)  # ``make assets`` has not copied Workbox: no worker rather than a broken one
    offline_revision = hashlib.sha256(
        f"{shell_revision()}:{get_locale()}:{render_template('pwa/offline.html')}".encode()).hexdigest()[:16]
    config = {
        "precache": precache_entries(offline_revision),
        "offlineUrl": url_for("pwa.offline"),
        "pageMaxAge": PAGE_CACHE_MAX_AGE,
        "pageMaxEntries": PAGE_CACHE_MAX_ENTRIES,
        "networkTimeout": NETWORK_TIMEOUT_SECONDS,
        "notKept": ["/api/", "/static/", "/logout", "/login", "/attachments/", "/sw.js"],
    }
    body = (f"// Liandong's service worker: docs/web.md, \"Offline use\". Generated per request.\n"
            f"self.LD_CONFIG = {json.dumps(config, ensure_ascii=True, sort_keys=True)};\n"
            f"importScripts({', '.join(json.dumps(s) for s in scripts)});\n")
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/manifest.webmanifest")
def manifest() -> Response:
    """Install data for Chrome and others: both languages in the name, the inbox as the start page."""
    def icon(name: str, size: str, kind: str, purpose: str = "any") -> dict[str, Any]:
        return {"src": url_for("static", filename=f"icons/{name}"), "sizes": size, "type": kind, "purpose": purpose}

    body = {
        "id": "/inbox",
        "name": "联动 Liandong",
        "short_name": "联动",
        "description": "联动：县级未成年人保护个案协同平台 · Liandong: county child-protection case coordination",
        "lang": "zh-CN",
        "dir": "ltr",
        "start_url": url_for("inbox.index"),
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            icon("icon-192.png", "192x192", "image/png"),
            icon("icon-512.png", "512x512", "image/png"),
            icon("maskable-512.png", "512x512", "image/png", "maskable"),
            icon("icon.svg", "any", "image/svg+xml"),
        ],
    }
    response = Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/manifest+json")
    return response


@blp.get("/offline")
def offline() -> str:
    """The page shown for a page the phone does not keep; precached, the same for every user."""
    return render_template("pwa/offline.html")
