"""The app shell the service worker precaches, with a revision per file (docs/web.md, "Offline use").

Revisions are computed here, from the files Flask serves, rather than at build time: a changed file
changes ``/sw.js``, so the browser installs the new worker and fetches exactly the files that changed,
and a file edited without rebuilding the vendor directory can never be served stale from the phone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app, url_for

SHELL_FILES = (
    "css/app.css", "js/app.js", "js/drafts.js", "js/offline.js", "js/outbox.js", "vendor/htmx/htmx.min.js",
    "icons/icon.svg", "icons/icon-192.png", "icons/icon-512.png", "icons/maskable-512.png",
    "icons/apple-touch-icon.png", "icons/favicon-32.png",
)
"""What every page a field worker keeps needs: the stylesheet, the scripts, the icons (no web fonts:
pages use the phone's system fonts)."""

WORKBOX_FILES = ("workbox-core", "workbox-routing", "workbox-strategies", "workbox-expiration",
                 "workbox-precaching")
"""Workbox's browser builds, in dependency order (copied from npm by ``make assets``)."""

EXTENSIONS_DIR = "js/sw"
"""Service-worker code of other features (e.g. the offline submission queue), loaded after ours."""

_revisions: dict[tuple[str, float], str] = {}


def _static() -> Path:
    return Path(current_app.static_folder or "")


def revision(relative: str) -> str | None:
    """A short content hash of a static file, cached by modification time; None if it is missing."""
    path = _static() / relative
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    key = (relative, mtime)
    if key not in _revisions:
        _revisions[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return _revisions[key]


def precache_entries(offline_revision: str) -> list[dict[str, str]]:
    """Workbox's precache manifest: the shell files that exist, and the offline page."""
    entries = [{"url": url_for("static", filename=name), "revision": rev}
               for name in SHELL_FILES if (rev := revision(name)) is not None]
    entries.append({"url": url_for("pwa.offline"), "revision": offline_revision})
    return entries


def worker_scripts() -> list[str]:
    """What ``/sw.js`` imports: Workbox, our worker, then every extension in name order, each URL
    carrying its revision so a changed file changes ``/sw.js`` too."""
    names = [f"vendor/workbox/{name}.prod.js" for name in WORKBOX_FILES] + ["js/service-worker.js"]
    names += sorted(f"{EXTENSIONS_DIR}/{p.name}" for p in (_static() / EXTENSIONS_DIR).glob("*.js"))
    return [url_for("static", filename=name, v=rev) for name in names if (rev := revision(name)) is not None]


def signature() -> tuple[tuple[str, float], ...]:
    """The modification times of every file ``/sw.js`` names: the generated script changes only with them."""
    names = SHELL_FILES + ("js/service-worker.js",) + tuple(f"vendor/workbox/{n}.prod.js" for n in WORKBOX_FILES)
    names += tuple(f"{EXTENSIONS_DIR}/{p.name}" for p in (_static() / EXTENSIONS_DIR).glob("*.js"))
    out = []
    for name in names:
        try:
            out.append((name, (_static() / name).stat().st_mtime))
        except OSError:
            out.append((name, -1.0))
    return tuple(out)


def shell_revision() -> str:
    """One hash over every shell and worker file: part of the offline page's revision."""
    digest = hashlib.sha256()
    for name in SHELL_FILES + ("js/service-worker.js",):
        digest.update(f"{name}:{revision(name)}".encode())
    return digest.hexdigest()[:16]
