"""Administration pages for webhooks: the subscribers, a form, the delivery log with a redeliver button.

Administrators only; the changes are ``app.webhooks.operations``'s, which write the audit rows. A new
secret is shown on the page that answers the change (never put in a flash message or a redirect), once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.common.errors import Invalid, NotFound
from app.common.pages import committed_page, roles_required
from app.extensions import db
from app.org.jurisdiction import county_codes
from app.org.models import Region
from app.org.roles import Role

from . import operations, queries
from .models import DeliveryStatus, WebhookSubscription
from .payloads import KINDS

blp = Blueprint("webhook_admin", __name__, url_prefix="/admin/webhooks", template_folder="templates")
LOG_ROWS = 100


def _counties() -> list[Region]:
    """The counties the administrator may give a subscriber (``*`` is offered when they hold every one)."""
    stmt = sa.select(Region).where(Region.level == "county").order_by(Region.code)
    codes = county_codes(current_user)
    return list(db.session.scalars(stmt if codes is None else stmt.where(Region.code.in_(codes))))


def _values() -> dict[str, Any]:
    form = request.form
    return {"name": form.get("name", ""), "url": form.get("url", ""), "kinds": form.getlist("kinds"),
            "county": form.get("county", ""), "active": form.get("active") == "1"}


def _subscription(subscription_id: int) -> WebhookSubscription:
    return queries.managed_subscription(current_user, subscription_id, gettext("No such subscriber."))


def _form(sub: WebhookSubscription | None, form: Any, errors: dict[str, list[str]], status: int = 200) -> Any:
    return render_template("webhooks/form.html", sub=sub, form=form, errors=errors, kinds=KINDS,
                           counties=_counties(), every_county=county_codes(current_user) is None,
                           **_log(sub)), status


def _log(sub: WebhookSubscription | None) -> dict[str, Any]:
    if sub is None:
        return {"deliveries": [], "status": None}
    status = request.args.get("status")
    status = status if status in {s.value for s in DeliveryStatus} else None
    rows = list(db.session.scalars(queries.deliveries(sub.id, status).limit(LOG_ROWS)))
    return {"deliveries": rows, "status": status}


@blp.get("")
@roles_required(Role.ADMIN)
def subscribers() -> Any:
    subs = queries.subscriptions(current_user)
    return render_template("webhooks/list.html", subs=subs, counts=queries.status_counts([s.id for s in subs]),
                           kinds=KINDS)


@blp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@committed_page
def new_subscriber() -> Any:
    if request.method == "GET":
        return _form(None, {"active": "1"}, {})
    try:
        sub, secret = operations.subscribe(current_user, **_values())
    except Invalid as exc:
        return _form(None, request.form, exc.errors, 422)
    return render_template("webhooks/secret.html", sub=sub, secret=secret, created=True)


@blp.route("/<int:subscription_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
@committed_page
def edit_subscriber(subscription_id: int) -> Any:
    sub = _subscription(subscription_id)
    if request.method == "POST":
        try:
            operations.change(current_user, sub, **_values())
        except Invalid as exc:
            return _form(sub, request.form, exc.errors, 422)
        flash(gettext("Saved."), "success")
        return redirect(url_for("webhook_admin.edit_subscriber", subscription_id=sub.id))
    form = {"name": sub.name, "url": sub.url, "kinds": sub.kind_list, "county": sub.county_code,
            "active": "1" if sub.active else ""}
    return _form(sub, form, {})


@blp.post("/<int:subscription_id>/active")
@roles_required(Role.ADMIN)
@committed_page
def set_active(subscription_id: int) -> Any:
    """Pause or resume in one click (the form's other fields stay as they are)."""
    sub = _subscription(subscription_id)
    active = request.form.get("active") == "1"
    operations.change(current_user, sub, active=active)
    flash(gettext("Subscriber resumed.") if active else gettext("Subscriber paused."), "success")
    return redirect(url_for("webhook_admin.edit_subscriber", subscription_id=sub.id))


@blp.post("/<int:subscription_id>/secret")
@roles_required(Role.ADMIN)
@committed_page
def new_secret(subscription_id: int) -> Any:
    sub = _subscription(subscription_id)
    secret = operations.rotate_secret(current_user, sub)
    return render_template("webhooks/secret.html", sub=sub, secret=secret, created=False)


@blp.post("/deliveries/<int:delivery_id>/redeliver")
@roles_required(Role.ADMIN)
@committed_page
def redeliver(delivery_id: int) -> Any:
    delivery = queries.delivery(delivery_id)
    if delivery is None:
        raise NotFound(gettext("No such delivery."))
    queries.managed_subscription(current_user, delivery.subscription_id, gettext("No such delivery."))
    operations.redeliver(current_user, delivery)
    flash(gettext("The event is queued again."), "success")
    return redirect(url_for("webhook_admin.edit_subscriber", subscription_id=delivery.subscription_id))
