"""Administration pages for service accounts: list, create (the secret shown once), rotate, revoke.

Administrators only. The changes are ``app.org.service_accounts``'s, which write the audit rows; a secret
is rendered into the answer of the POST that made it, never stored, flashed or put in a URL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.common.errors import Invalid
from app.common.inputs import bounded_int
from app.common.pages import committed_page, roles_required
from app.common.scopes import SCOPES
from app.extensions import db

from .jurisdiction import units_managed
from .models import ServiceAccount, Unit
from .roles import Role
from .service_accounts import (
    account_for,
    account_state,
    create_account,
    revoke_account,
    rotate_secret,
    service_accounts,
)

blp = Blueprint("service_pages", __name__, url_prefix="/admin/service-accounts", template_folder="templates")


def _page(form: Any = None, errors: dict[str, list[str]] | None = None, shown: dict[str, Any] | None = None) -> str:
    return render_template(
        "org/service_accounts.html", accounts=service_accounts(current_user), account_state=account_state,
        units=list(db.session.scalars(sa.select(Unit).where(units_managed(current_user))
                                      .order_by(Unit.region_id, Unit.kind))), scopes=SCOPES,
        form=form or {}, errors=errors or {}, shown=shown)


def _account(account_id: int) -> ServiceAccount:
    return account_for(current_user, account_id)


@blp.route("", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@committed_page
def index() -> Any:
    if request.method == "GET":
        return _page()
    unit_id = bounded_int(request.form.get("unit_id"))
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    try:
        account, secret = create_account(current_user, request.form.get("name", ""), unit,
                                         request.form.getlist("scopes"))
    except Invalid as exc:
        return _page(request.form, exc.errors), 422
    return _page(shown={"account": account, "secret": secret}), 201


@blp.post("/<int:account_id>/rotate")
@roles_required(Role.ADMIN)
@committed_page
def rotate(account_id: int) -> Any:
    account = _account(account_id)
    secret = rotate_secret(current_user, account)
    return _page(shown={"account": account, "secret": secret})


@blp.post("/<int:account_id>/revoke")
@roles_required(Role.ADMIN)
@committed_page
def revoke(account_id: int) -> Any:
    account = revoke_account(current_user, _account(account_id))
    flash(gettext("Service account %(name)s revoked.", name=account.name), "success")
    return redirect(url_for("service_pages.index"))
