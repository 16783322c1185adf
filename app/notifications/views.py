"""In-app notifications: the unread badge in the header (polled by htmx), the list, mark read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.common.errors import NotFound
from app.common.inputs import bounded_ints
from app.common.pages import committed_page
from app.extensions import db

from .models import Notification
from .operations import mark_read
from .queries import recent, unread_count

blp = Blueprint("alerts", __name__, url_prefix="/notifications", template_folder="templates")


@blp.get("")
@login_required
def index() -> Any:
    return render_template("notifications/list.html", notes=recent(current_user, limit=200))


@blp.get("/count")
@login_required
def count() -> Any:
    """The header badge; htmx polls it."""
    return render_template("notifications/_badge.html", unread=unread_count(current_user))


@blp.post("/read")
@login_required
@committed_page
def read() -> Any:
    ids = bounded_ints(request.form.getlist("ids"))
    mark_read(current_user, ids or None)
    return redirect(url_for("alerts.index"))


@blp.get("/<int:note_id>")
@login_required
@committed_page
def open_note(note_id: int) -> Any:
    """Mark one notification read and go to its task (or case)."""
    note = db.session.get(Notification, note_id)
    if note is None or note.user_id != current_user.id:
        raise NotFound("no such notification")
    mark_read(current_user, [note.id])
    if note.task_id:
        return redirect(url_for("inbox.task_page", task_id=note.task_id))
    if note.case_id:
        return redirect(url_for("workspace.case_page", case_id=note.case_id))
    return redirect(url_for("alerts.index"))
