"""Sign in, sign out and the language switch.

Login attempts are limited per account and per address (Flask-Limiter; Redis storage when
``REDIS_URL`` is set, so the limit holds across processes). A wrong password and an unknown user
get the same answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from app.cases.audit import audit
from app.common.i18n import LOCALES
from app.common.pages import committed_page
from app.extensions import limiter

from .operations import check_password
from .queries import user_by_username

blp = Blueprint("auth", __name__, template_folder="templates")


def _account_key() -> str:
    return "login-account:" + request.form.get("username", "").strip().lower()[:80]


def _account_limit() -> str:
    return str(current_app.config["LIANDONG"].login_limit_per_account)


def _address_limit() -> str:
    return str(current_app.config["LIANDONG"].login_limit_per_address)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` and absolute URLs go to the inbox instead."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("inbox.index")


@blp.route("/login", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], scope="login-address")
@limiter.limit(_account_limit, methods=["POST"], key_func=_account_key, scope="login-account")
@committed_page
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        user = user_by_username(username)
        if user is not None and user.active and check_password(user, request.form.get("password", "")):
            session.clear()
            login_user(user)
            audit(user.id, "login", "user", user.id)
            return redirect(_safe_next(request.form.get("next")))
        audit(user.id if user else None, "login_failed", "user", user.id if user else username[:40])
        error = gettext("Wrong user name or password.")
        return render_template("org/login.html", error=error, username=username,
                               next=request.form.get("next", "")), 200
    return render_template("org/login.html", error=error, username=username, next=request.args.get("next", ""))


@blp.post("/logout")
@login_required
@committed_page
def logout() -> Any:
    audit(current_user.id, "logout", "user", current_user.id)
    logout_user()
    session.clear()
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
