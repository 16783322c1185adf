"""Pages for notification channels: your choice per kind of notification, and your (or, for admins, their
jurisdiction's people's) SMS and work-chat deliveries. The form is checked by the API's schema (``ChannelPreferencesIn``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from marshmallow import ValidationError

from app.common.inputs import bounded_int
from app.common.pages import committed_page
from app.extensions import db
from app.org.roles import Role

from .channel_schemas import STATES, ChannelPreferencesIn
from .channels import ANY_KIND, CHANNELS, KINDS, OUTSIDE, parse_preferences
from .operations import set_channels
from .queries import channel_settings, deliveries

blp = Blueprint("channels", __name__, url_prefix="/notifications/channels", template_folder="templates")
PER_PAGE = 100


def _form_body() -> dict[str, Any]:
    """The API's body from the form: one checkbox per kind and channel (``k:<kind>`` = channel)."""
    kinds = {kind: request.form.getlist(f"k:{kind}")[:len(CHANNELS)] for kind in (ANY_KIND, *KINDS)}
    body: dict[str, Any] = {"kinds": kinds, "quiet": request.form.get("quiet") == "1"}
    for key in ("phone", "chat_url", "chat_secret"):
        value = request.form.get(key, "").strip()
        if value or request.form.get(f"clear_{key}") == "1":
            body[key] = value
    return body


@blp.route("", methods=["GET", "POST"])
@login_required
@committed_page
def preferences() -> Any:
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            body = ChannelPreferencesIn().load(_form_body())
        except ValidationError as exc:
            errors = exc.normalized_messages()
            return render_template("notifications/channels.html", settings=channel_settings(current_user),
                                   errors=errors, kinds=(ANY_KIND, *KINDS), channels=CHANNELS), 422
        set_channels(current_user, parse_preferences(body["kinds"], body["quiet"]), phone=body.get("phone"),
                     chat_url=body.get("chat_url"), chat_secret=body.get("chat_secret"))
        flash(gettext("Saved."), "success")
        return redirect(url_for("channels.preferences"))
    return render_template("notifications/channels.html", settings=channel_settings(current_user), errors=errors,
                           kinds=(ANY_KIND, *KINDS), channels=CHANNELS)


@blp.get("/deliveries")
@login_required
def delivery_list() -> Any:
    """Your deliveries; an admin's ``?everyone=1`` shows those of every user they manage (kind, channel, state:
    no case data)."""
    everyone = request.args.get("everyone") == "1" and current_user.has_role(Role.ADMIN)
    state = request.args.get("state") if request.args.get("state") in STATES else None
    channel = request.args.get("channel") if request.args.get("channel") in OUTSIDE else None
    page = min(max(bounded_int(request.args.get("page")) or 1, 1), 10_000)
    stmt = deliveries(current_user, everyone=everyone, state=state, channel=channel)
    rows = list(db.session.scalars(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    return render_template("notifications/deliveries.html", rows=rows[:PER_PAGE], more=len(rows) > PER_PAGE,
                           page=page, everyone=everyone, state=state, channel=channel, states=STATES,
                           channels=OUTSIDE)
