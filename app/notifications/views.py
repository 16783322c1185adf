"""In-app notifications: the unread badge in the header (polled by htmx), the list, mark read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.cases.access import can_see_task, may_be_told
from app.common.errors import NotFound
from app.common.inputs import bounded_int, bounded_ints
from app.common.pages import committed_page
from app.extensions import db
from app.tasks.models import Task

from .models import Notification
from .operations import mark_read
from .queries import recent, unread_by_case

blp = Blueprint("alerts", __name__, url_prefix="/notifications", template_folder="templates")


def _told(notes: list[Notification]) -> list[Notification]:
    """The notes whose case the user still has need to know of (access can end after a note was sent:
    a role change, a cancelled conference), checked once per case."""
    allowed: dict[int, bool] = {}
    shown = []
    for note in notes:
        if note.case_id is not None and note.case_id not in allowed:
            allowed[note.case_id] = may_be_told(current_user, note.case_id)
        if note.case_id is None or allowed[note.case_id]:
            shown.append(note)
    return shown


@blp.get("")
@login_required
def index() -> Any:
    return render_template("notifications/list.html", notes=_told(recent(current_user, limit=200)))


@blp.get("/count")
@login_required
def count() -> Any:
    """The header badge; htmx polls it. It counts only what the list would show: a note about a case the
    user no longer has need to know of is neither listed nor counted (its existence is itself a fact)."""
    unread = sum(n for case_id, n in unread_by_case(current_user)
                 if case_id is None or may_be_told(current_user, case_id))
    return render_template("notifications/_badge.html", unread=unread)


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
    task = db.session.get(Task, note.task_id) if note.task_id else None
    if task is not None and can_see_task(current_user, task):
        return redirect(url_for("inbox.task_page", task_id=task.id))
    if note.kind == "reporting_finding" and (finding_id := bounded_int(note.body)) is not None:
        return redirect(url_for("workspace.finding_page", finding_id=finding_id))  # its page checks who may read
    if note.case_id and may_be_told(current_user, note.case_id):
        return redirect(url_for("workspace.case_page", case_id=note.case_id))
    return redirect(url_for("alerts.index"))
