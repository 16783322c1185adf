"""The absence page: a liaison (or their unit head, for a member) sets when they are away, who stands in, and
whether the tasks come back at the end. The same rules as ``PUT /api/v1/users/<id>/absence``
(``app.org.absence``); the hand-over of tasks already under way runs in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from app.common.clock import county_zone, local, now
from app.common.errors import Conflict, Invalid
from app.common.inputs import bounded_int
from app.common.pages import committed_page
from app.extensions import db
from app.tasks.handover import run_due

from .absence import (
    ON_RETURN,
    AbsenceIn,
    absence_state,
    current_or_next,
    end_absence,
    may_set_for,
    set_absence,
)
from .models import User
from .queries import unit_members
from .roles import Role

blp = Blueprint("absence", __name__, template_folder="templates")


def _works(user: User) -> bool:
    return user.active and user.unit_id is not None and user.has_role(Role.LIAISON, Role.UNIT_HEAD)


def _person() -> User:
    """Whose absence the page is about: ``user_id`` (a unit head, for a member of the unit) or the caller."""
    if not _works(current_user):
        abort(403)
    user_id = bounded_int(request.values.get("user_id"))
    user = current_user if user_id is None else db.session.get(User, user_id)
    if user is None or not may_set_for(current_user, user):
        abort(404)
    return user  # type: ignore[no-any-return]


def _moment(name: str) -> datetime | None:
    """A ``datetime-local`` field, read as county time."""
    raw = request.form.get(name, "").strip()[:32]
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=county_zone())


def _render(user: User, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    members = [m for m in unit_members(user.unit_id or 0) if _works(m)]
    absence = current_or_next(user.id)
    return render_template(
        "org/absence.html", person=user, absence=absence, errors=errors or {},
        state=absence_state(absence, now()) if absence else None, local=local,
        substitutes=[m for m in members if m.id != user.id],
        people=members if current_user.has_role(Role.UNIT_HEAD) else [],
        form=request.form if request.method == "POST" else {}), status


@blp.get("/absence")
@login_required
def page() -> Any:
    return _render(_person())


@blp.post("/absence")
@login_required
@committed_page
def save() -> Any:
    user = _person()
    starts, ends = _moment("starts_at"), _moment("ends_at")
    errors: dict[str, list[str]] = {}
    if starts is None:
        errors["starts_at"] = [gettext("Give a start date and time.")]
    if ends is None:
        errors["ends_at"] = [gettext("Give an end date and time.")]
    on_return = request.form.get("on_return", "return")
    substitute_id = bounded_int(request.form.get("substitute_id"))
    substitute = db.session.get(User, substitute_id) if substitute_id is not None else None
    if substitute_id is not None and substitute is None:
        errors["substitute_id"] = [gettext("Choose a colleague from the list.")]
    if not errors and starts is not None and ends is not None:
        try:
            absence = set_absence(user, current_user, AbsenceIn(
                starts, ends, substitute, on_return if on_return in ON_RETURN else ""))
        except (Invalid, Conflict) as exc:  # a conflict names its field too (the absence under way): the form says it
            errors = exc.errors
        else:
            moved, _ = run_due(now(), [absence.id])
            flash(gettext("Absence saved.") + (" " + gettext("%(num)s claimed tasks handed over.", num=moved)
                                               if moved else ""), "success")
            return redirect(url_for("absence.page", user_id=user.id if user.id != current_user.id else None))
    return _render(user, errors, 422)


@blp.post("/absence/end")
@login_required
@committed_page
def end() -> Any:
    user = _person()
    absence = end_absence(user, current_user)
    if absence is not None:
        run_due(now(), [absence.id])
        flash(gettext("Absence ended."), "success")
    return redirect(url_for("absence.page", user_id=user.id if user.id != current_user.id else None))
