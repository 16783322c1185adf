"""Administration pages: create users, set roles, unit and jurisdiction, reset passwords, end
sessions, list and revoke API tokens.

Administrators only; every change writes an audit row (who changed whom, what): the changes are
``app.org.administration``'s, which write it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.common.errors import Invalid, NotFound
from app.common.inputs import bounded_int
from app.common.pages import committed_page, roles_required
from app.extensions import db

from . import administration
from .administration import add_user, change_user
from .jurisdiction import check_user, regions_managed, units_managed, users_managed
from .models import ApiToken, Region, Unit, User
from .queries import token_state, tokens_of
from .roles import Role

blp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def _choices() -> dict[str, Any]:
    """What the form offers: the units and regions of the administrator's jurisdiction."""
    return {
        "all_roles": list(Role),
        "units": list(db.session.scalars(sa.select(Unit).where(units_managed(current_user))
                                         .order_by(Unit.region_id, Unit.kind))),
        "regions": list(db.session.scalars(sa.select(Region).where(regions_managed(current_user))
                                           .order_by(Region.code))),
    }


def _form_values() -> dict[str, Any]:
    form = request.form
    roles = {Role(r) for r in form.getlist("roles") if r in {x.value for x in Role}}
    unit_id, region_id = bounded_int(form.get("unit_id")), bounded_int(form.get("region_id"))
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    region = db.session.get(Region, region_id) if region_id is not None else None
    return {"display_name": form.get("display_name", ""), "roles": roles, "unit": unit, "region": region,
            "active": form.get("active") == "1"}


def _user(user_id: int) -> User:
    """The user, when the administrator's jurisdiction holds them; else 404 as for an unknown id."""
    return check_user(current_user, db.session.get(User, user_id))


@blp.get("/users")
@roles_required(Role.ADMIN)
def users() -> Any:
    q = request.args.get("q", "").strip()
    stmt = sa.select(User).where(users_managed(current_user)).order_by(User.username)
    if q:
        stmt = stmt.where(sa.or_(User.username.contains(q), User.display_name.contains(q)))
    return render_template("org/users.html", users=list(db.session.scalars(stmt.limit(500))), q=q)


@blp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@committed_page
def new_user() -> Any:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = _form_values()
        username = request.form.get("username", "").strip()
        try:
            add_user(current_user, username, request.form.get("password", ""), **values)
        except Invalid as exc:
            errors = exc.errors
            return render_template("org/user_form.html", user=None, form=request.form, errors=errors,
                                   **_choices()), 422
        flash(gettext("User %(name)s created.", name=username), "success")
        return redirect(url_for("admin.users"))
    return render_template("org/user_form.html", user=None, form={}, errors=errors, **_choices())


@blp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@committed_page
def edit_user(user_id: int) -> Any:
    user = _user(user_id)
    if request.method == "POST":
        values = _form_values()
        try:
            change_user(current_user, user, **values)
        except Invalid as exc:
            return render_template("org/user_form.html", user=user, form=request.form, errors=exc.errors,
                                   **_choices()), 422
        flash(gettext("Saved."), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    form = {"display_name": user.display_name, "unit_id": str(user.unit_id or ""),
            "region_id": str(user.region_id or ""), "active": "1" if user.active else ""}
    return render_template("org/user_form.html", user=user, form=form, errors={}, tokens=tokens_of(user.id),
                           token_state=token_state, **_choices())


@blp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
@committed_page
def reset_password(user_id: int) -> Any:
    user = _user(user_id)
    try:
        administration.reset_password(current_user, user, request.form.get("password", ""))
    except Invalid:
        flash(gettext("The new password needs at least 8 characters."), "error")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    flash(gettext("Password reset for %(name)s.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@blp.post("/users/<int:user_id>/sessions/end")
@roles_required(Role.ADMIN)
@committed_page
def end_user_sessions(user_id: int) -> Any:
    """Sign the user out everywhere (a lost phone, a shared computer); tokens stay (revoke them below)."""
    user = _user(user_id)
    administration.end_user_sessions(current_user, user)
    flash(gettext("Every session of %(name)s has ended.", name=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@blp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
@roles_required(Role.ADMIN)
@committed_page
def revoke_user_token(user_id: int, token_id: int) -> Any:
    user = _user(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(gettext("No such token."))
    administration.revoke_user_token(current_user, token)
    flash(gettext("Token %(name)s revoked.", name=token.name), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))
