"""Sign in, sign out and the language switch.

Failed sign-ins are throttled (Flask-Limiter; Redis when ``REDIS_URL`` is set, so the limits hold
across processes, falling back to memory while Redis is down): per account and address with a
wait that grows with each tier breached, per address (password spraying), and per account from
everywhere except browsers the account signed in on before (a signed device cookie), so a guesser
cannot lock the real user out. A wrong password and an unknown user get the same answer after the
same work (one argon2 verification). docs/security.md: Sessions and tokens.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, ngettext
from flask_limiter import RateLimitExceeded, RequestLimit
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.audit.operations import audit
from app.common.i18n import LOCALES
from app.common.pages import committed_page, error_page
from app.extensions import limiter, rate_limited

from .operations import authenticate
from .queries import user_by_username
from .roles import Role
from .sessions import cut_off, stamp_session

blp = Blueprint("auth", __name__, template_folder="templates")

DEVICE_COOKIE = "ld_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
"""A browser an account signed in on keeps signing in during a guessing attack on that account."""


def _posted_username() -> str:
    return request.form.get("username", "").strip().lower()[:80]


def _account_key() -> str:
    return "login-account:" + _posted_username()


def _attempt_key() -> str:
    return f"login-attempt:{_posted_username()}@{request.remote_addr or ''}"


def _setting(name: str) -> str:
    return str(getattr(current_app.config["LIANDONG"], name))


def _failed(_response: Response) -> bool:
    """Only failed sign-ins count: a busy office behind one address is never throttled for succeeding."""
    return bool(g.get("login_failed"))


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="liandong-login-device")


def _known_device() -> bool:
    """The posted account signed in from this browser before (its signed device cookie says so)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return False
    try:
        return bool(_devices().loads(raw, max_age=DEVICE_MAX_AGE) == _posted_username())
    except BadSignature:
        return False


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` and absolute URLs go to the inbox instead."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return _home()


def _home() -> str:
    """Where a signed-in user starts: the unit queue, or for a city or province supervisor (who works no
    queue) the per-county numbers."""
    if current_user.is_authenticated and current_user.has_role(Role.REGIONAL_SUPERVISOR) \
            and not current_user.has_role(Role.LIAISON, Role.UNIT_HEAD, Role.COUNTY_COORDINATOR):
        return url_for("dashboard.counties")
    return url_for("inbox.index")


def _too_many(_limit: RequestLimit) -> Response:
    """The 429 page, with ``Retry-After``: the longest wait of the tiers this attempt breached."""
    breached = [lim for lim in limiter.current_limits if lim.breached] or [_limit]
    wait = max(1, max(int(lim.reset_at - time.time()) for lim in breached))
    minutes = max(1, -(-wait // 60))
    response = Response(error_page(429, ngettext(
        "Too many failed sign-ins. Wait %(num)d minute and try again.",
        "Too many failed sign-ins. Wait %(num)d minutes and try again.", minutes))[0], status=429)
    response.headers["Retry-After"] = str(wait)
    return response


@blp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded) -> Any:
    return error.response if error.response is not None else error_page(429, error.description or "")


@blp.route("/login", methods=["GET", "POST"])
@rate_limited(lambda: _setting("login_limit_per_attempt"), methods=["POST"], key_func=_attempt_key,
              scope="login-attempt", deduct_when=_failed, on_breach=_too_many)
@rate_limited(lambda: _setting("login_limit_per_address"), methods=["POST"], scope="login-address",
              deduct_when=_failed, on_breach=_too_many)
@rate_limited(lambda: _setting("login_limit_per_account"), methods=["POST"], key_func=_account_key,
              scope="login-account", deduct_when=_failed, exempt_when=_known_device, on_breach=_too_many)
@committed_page
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        user = authenticate(username, request.form.get("password", ""))
        if user is not None:
            session.clear()
            login_user(user)
            stamp_session(user)
            audit(user.id, "login", "user", user.id)
            response = redirect(_safe_next(request.form.get("next")))
            response.set_cookie(DEVICE_COOKIE, _devices().dumps(user.username.lower()), max_age=DEVICE_MAX_AGE,
                                path=url_for("auth.login"), httponly=True, samesite="Lax",
                                secure=bool(current_app.config["SESSION_COOKIE_SECURE"]))
            return response
        g.login_failed = True
        known = user_by_username(username) if username else None
        audit(known.id if known else None, "login_failed", "user", known.id if known else username[:40])
        error = gettext("Wrong user name or password.")
        return render_template("org/login.html", error=error, username=username,
                               next=request.form.get("next", "")), 200
    ended = session.pop("_ended", None)
    if ended == "idle":
        error = gettext("You were signed out after a while without activity. Please sign in again.")
    elif ended == "expired":
        error = gettext("Your session reached its time limit. Please sign in again.")
    return render_template("org/login.html", error=error, username=username, next=request.args.get("next", ""))


@blp.post("/logout")
@login_required
@committed_page
def logout() -> Any:
    """Sign out everywhere: every session and bearer token of the user ends (a copied cookie included).

    Issue 10 asks that signing out cut off everything a thief may have copied, tokens too; systems that
    must outlive a person's sign-out get their own account (and token) rather than a person's.
    """
    audit(current_user.id, "logout", "user", current_user.id)
    cut_off(current_user._get_current_object(), "logout")
    logout_user()
    session.clear()
    session["ld_signed_out"] = True  # the next page tells the phone to drop every kept page and store
    flash(gettext("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@blp.post("/locale")
@committed_page
def set_locale() -> Any:
    """Switch the language; remembered on the user (or in the session before login)."""
    locale = request.form.get("locale", "")
    if locale in LOCALES:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
    return redirect(_safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path))
