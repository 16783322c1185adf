"""Which pages a phone may keep for offline use, and for whom (docs/web.md, "Offline use").

Every page is ``Cache-Control: no-store`` (:mod:`app.common.headers`) unless its view calls
:func:`keep_offline`: then, for a 200 HTML answer to a signed-in user, the page is ``private, no-cache``
(a browser may keep it but must ask the server again while it can), varies by cookie, and carries
``X-Liandong-Offline: <user key>``. The service worker (``static/js/service-worker.js``) stores a page only
when that header names the user whose cache it writes, and never a ``no-store`` answer, so the server, not
the phone, decides what leaves it: the inbox and the open tasks of the user's own unit, and the forms.

The user key is an HMAC of the user id under the app's secret: stable for a user (their cache survives an
expired session), different per user (the phone can tell that someone else signed in and drop the
previous user's pages), and meaningless elsewhere (it is not the id, and it grants nothing).
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, current_app, request
from flask_login import current_user

OFFLINE_HEADER = "X-Liandong-Offline"
OFFLINE_CACHE_CONTROL = "private, no-cache"
KEEP = "liandong.keep_offline"


def user_key(user_id: int) -> str:
    """The non-secret name of a user's offline cache: 24 hex characters, not reversible to the id."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"offline-cache:{user_id}".encode(), hashlib.sha256).hexdigest()[:24]


def current_user_key() -> str:
    """The signed-in user's key, or "" (the page then registers no service worker)."""
    return user_key(current_user.id) if current_user.is_authenticated else ""


def keep_offline() -> None:
    """Called by a view whose page this viewer may keep on their phone (their own unit's work only)."""
    request.environ[KEEP] = True  # per request (``g`` outlives a request in tests that share an app context)


def offline_headers(response: Response) -> bool:
    """Mark a page its view allowed to keep; False (so it stays ``no-store``) for anything else."""
    if not (request.environ.get(KEEP) and response.status_code == 200 and response.mimetype == "text/html"
            and current_user.is_authenticated):
        return False
    if "no-store" in response.headers.get("Cache-Control", ""):
        return False  # a view that set no-store itself wins
    response.headers["Cache-Control"] = OFFLINE_CACHE_CONTROL
    response.vary.add("Cookie")
    response.headers[OFFLINE_HEADER] = current_user_key()
    return True


def _template_globals() -> dict[str, object]:
    return {"offline_user_key": current_user_key, "offline_kept": lambda: bool(request.environ.get(KEEP))}


def init_app(app: Flask) -> None:
    app.context_processor(_template_globals)
