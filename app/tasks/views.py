"""Inbox and task pages: the unit's queue, my tasks, claim / unclaim / reassign, the task's work.

Every change goes through ``app.tasks.operations`` (the same rules as the API: 403 another unit,
409 taken or done, 422 invalid form; completing a step is ``app.workflow.views``, on this blueprint);
every page that shows a child's data writes an audit row.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from app.audit.operations import audit
from app.cases.access import (
    CaseAccess,
    case_access,
    lists_tasks,
    mask_name,
    require_task,
    sees_names_in_lists,
    works_tasks,
)
from app.cases.models import Case
from app.cases.queries import child_view
from app.common.clock import now
from app.common.downloads import DOWNLOAD_POLICY, content_disposition
from app.common.errors import DomainError, Forbidden, Invalid
from app.common.inputs import bounded_int, bounded_ints
from app.common.offline import keep_offline
from app.common.pages import committed_page, is_htmx
from app.extensions import db
from app.org.models import User
from app.org.queries import unit_members
from app.org.roles import Role

from . import bulk, operations
from .attachments import attachments_of, get_attachment, max_bytes, path_of, upload_once
from .comments import add_comment, comments_of
from .drafts import MAX_DRAFT_BYTES, discard_draft, draft_of, save_draft
from .form_render import build_fields, schema_of, step_values
from .handover import handovers_out
from .inbox import InboxQuery, inbox_page
from .models import Task, TaskState
from .saved import delete_view, save_view, view_counts, views_of
from .schemas import NO_DRAFT, TaskDraftOut

blp = Blueprint("inbox", __name__, template_folder="templates")


def _back() -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for("inbox.index")


def child_label(case: Case | None, user: User) -> str:
    if case is None:
        return ""
    if case.child is None:
        return case.title  # a region's work file is about no child
    return case.child.name if sees_names_in_lists(user) else mask_name(case.child.name)


@blp.get("/inbox")
@login_required
def index() -> Any:
    q = InboxQuery.from_args(request.args)
    page = inbox_page(current_user, q, now())
    members = [m for m in unit_members(current_user.unit_id) if works_tasks(m)] if works_tasks(current_user) else []
    saved = views_of(current_user)
    context = {"page": page, "q": q, "at": now(), "child_label": child_label, "members": members,
               "has_queue": lists_tasks(current_user), "is_head": current_user.has_role(Role.UNIT_HEAD),
               "saved_views": saved, "view_counts": view_counts(current_user, saved, now()),
               "works_in_unit": works_tasks(current_user)}
    if is_htmx() and request.headers.get("HX-Target") == "inbox-table":
        return render_template("tasks/_inbox_table.html", **context, refresh_view_query=True)
    if works_tasks(current_user):
        keep_offline()  # the unit's own queue, which its workers open in the field
    return render_template("tasks/inbox.html", **context)


@blp.post("/inbox/views")
@login_required
@committed_page
def save_inbox_view() -> Any:
    query = request.form.get("query", "")
    try:
        view = save_view(current_user, request.form.get("name", ""), query, request.form.get("shared_with"))
    except Invalid as exc:
        flash(gettext("Give the view a name.") if "name" in exc.errors else
              gettext("You cannot share a view that way."), "error")
        return redirect(url_for("inbox.index") + (f"?{query}" if query else ""))
    flash(gettext("View “%(name)s” saved.", name=view.name), "success")
    return redirect(url_for("inbox.index") + (f"?{view.query}" if view.query else ""))


@blp.post("/inbox/views/<int:view_id>/delete")
@login_required
@committed_page
def delete_inbox_view(view_id: int) -> Any:
    delete_view(current_user, view_id)
    return redirect(url_for("inbox.index"))


def _row_response(task: Task) -> Any:
    """After claim / unclaim: the row again (htmx) or back to where the user was."""
    if is_htmx():
        case = db.session.get(Case, task.case_id)
        return render_template("tasks/_inbox_row.html", task=task, case=case, at=now(), child_label=child_label,
                               is_head=current_user.has_role(Role.UNIT_HEAD), processes={}, q=InboxQuery())
    return redirect(_back())


@blp.post("/tasks/<int:task_id>/claim")
@login_required
@committed_page
def claim(task_id: int) -> Any:
    task = operations.claim(operations.get_task(task_id), current_user)
    return _row_response(task)


@blp.post("/tasks/<int:task_id>/unclaim")
@login_required
@committed_page
def unclaim(task_id: int) -> Any:
    task = operations.unclaim(operations.get_task(task_id), current_user)
    return _row_response(task)


def _picks() -> list[bulk.Pick]:
    """The selected rows with the version each showed (``version.<id>``, hidden beside its checkbox)."""
    ids = sorted(set(bounded_ints(request.form.getlist("task_ids"))))
    return [bulk.Pick(task_id, bounded_int(request.form.get(f"version.{task_id}"))) for task_id in ids]


@blp.post("/inbox/reassign")
@login_required
@committed_page
def reassign() -> Any:
    """A unit head hands one or many tasks to a member of the unit (all or none; a row that changed since the
    page showed it refuses the whole command, ``app.tasks.bulk``)."""
    picks = _picks()
    target_id = bounded_int(request.form.get("to_user_id"))
    target = db.session.get(User, target_id) if target_id is not None else None
    if not picks or target is None:
        flash(gettext("Choose tasks and a colleague."), "error")
        return redirect(_back())
    bulk.reassign_many(picks, target, current_user)
    flash(ngettext("%(num)s task reassigned to %(name)s.", "%(num)s tasks reassigned to %(name)s.", len(picks),
                   name=target.display_name), "success")
    return redirect(_back())


@blp.post("/inbox/claim")
@login_required
@committed_page
def claim_selected() -> Any:
    """A unit head takes the selected tasks nobody holds (all or none, as ``reassign``)."""
    picks = _picks()
    if not picks:
        flash(gettext("Choose tasks first."), "error")
        return redirect(_back())
    bulk.claim_many(picks, current_user)
    flash(ngettext("%(num)s task claimed.", "%(num)s tasks claimed.", len(picks)), "success")
    return redirect(_back())


def visible_task(task_id: int) -> tuple[Task, CaseAccess]:
    """The task and the user's access to its case: 404 unknown, 403 without the role and a basis."""
    task = operations.get_task(task_id)
    try:
        return task, require_task(current_user, task)
    except Forbidden as exc:
        raise Forbidden(gettext("This task belongs to another unit.")) from exc


def task_context(task: Task, access: CaseAccess, data: dict[str, Any] | None = None,
                 errors: dict[str, list[str]] | None = None, key: str | None = None) -> dict[str, Any]:
    """What the task page shows; ``key``: the form's idempotency key (a fresh one for a fresh form)."""
    case = access.case
    earlier = list(db.session.scalars(sa.select(Task).where(
        Task.case_id == task.case_id, Task.state == TaskState.COMPLETED).order_by(Task.completed_at, Task.id)))
    schema = schema_of(task)
    can_act = task.state == TaskState.OPEN and current_user.unit_id == task.unit_id and works_tasks(current_user)
    return {
        "task": task, "case": case, "child": child_view(case, current_user), "schema": schema,
        "fields": build_fields(schema, data if data is not None else (task.data or {}), errors),
        "errors": errors or {},
        "earlier": [(t, step_values(t, access.step_text(t))) for t in earlier if t.id != task.id],
        "comments": comments_of(task.id), "at": now(), "handovers": handovers_out(task.id),
        "attachments": [a for a in attachments_of(task_id=task.id) if access.attachment(a)],
        "can_act": can_act, "mine": task.assignee_id == current_user.id, "max_mb": max_bytes() // (1024 * 1024),
        "idempotency_key": key or uuid.uuid4().hex,
    }


@blp.get("/tasks/<int:task_id>")
@login_required
@committed_page
def task_page(task_id: int) -> Any:
    task, access = visible_task(task_id)
    audit(current_user.id, "view", "task", task.id, case_id=task.case_id, detail={"page": "task"})
    context = task_context(task, access)
    if context["can_act"]:
        keep_offline()  # an open task of the user's own unit, worked in the field; a coordinator's read is not kept
    return render_template("tasks/task.html", **context)


@blp.post("/tasks/<int:task_id>/comments")
@login_required
@committed_page
def comment(task_id: int) -> Any:
    task, _ = visible_task(task_id)
    try:
        add_comment(task, current_user, request.form.get("body", ""))
    except Invalid:
        flash(gettext("Write a comment first (at most 4000 characters)."), "error")
    return redirect(url_for("inbox.task_page", task_id=task.id) + "#comments")


def wants_json() -> bool:
    """The phone's outbox (``static/js/outbox.js``) asks a page route for JSON; a browser's form never does."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@blp.post("/tasks/<int:task_id>/attachments")
@login_required
@committed_page
def upload(task_id: int) -> Any:
    """From the page's htmx form the answer is the attachments card alone, so the typed form stays.

    The phone's outbox sends each photo with its own ``idempotency_key`` before the completion that names
    it: a retry after a lost answer gets the first upload's id back (JSON), never a second copy.
    """
    task, access = visible_task(task_id)
    operations.ensure_can_act(current_user, task)  # a coordinator reads the task but attaches nothing
    file = request.files.get("file")
    key = request.form.get("idempotency_key", "")
    try:
        if file is None or not file.filename:
            raise Invalid("no file", {"file": [gettext("Choose a file.")]})
        attachment, created = upload_once(task, current_user, file.filename, file.stream, key or None)
        if not created:
            return jsonify({"status": "replayed", "attachment_id": attachment.id})
    except Invalid as exc:
        db.session.rollback()
        message = "; ".join(str(m) for msgs in exc.errors.values() for m in msgs) or exc.message
        if wants_json():
            return jsonify({"status": "invalid", "message": message, "errors": exc.errors}), 422
        if is_htmx():
            return _attachments_card(task, access, gettext("File not attached: %(why)s", why=message), "error"), 422
        flash(gettext("File not attached: %(why)s", why=message), "error")
        return redirect(url_for("inbox.task_page", task_id=task.id) + "#attachments")
    if wants_json():
        return jsonify({"status": "attached", "attachment_id": attachment.id})
    if is_htmx():
        db.session.flush()
        return _attachments_card(task, access, gettext("File attached."), "success")
    flash(gettext("File attached."), "success")
    return redirect(url_for("inbox.task_page", task_id=task.id) + "#attachments")


def _attachments_card(task: Task, access: CaseAccess, message: str, category: str) -> str:
    return render_template("tasks/_attachments.html", task=task, message=message, category=category,
                           attachments=[a for a in attachments_of(task_id=task.id) if access.attachment(a)],
                           max_mb=max_bytes() // (1024 * 1024))


@blp.route("/tasks/<int:task_id>/draft", methods=["GET", "PUT", "DELETE"])
@login_required
@committed_page
def draft(task_id: int) -> Any:
    """The task page's own draft (session + CSRF header); JSON like ``/api/v1/tasks/<id>/draft``."""
    task, _ = visible_task(task_id)
    try:
        if request.method == "GET":
            return jsonify(TaskDraftOut().dump(draft_of(task, current_user) or NO_DRAFT))
        if request.method == "DELETE":
            discard_draft(task, current_user)
            return jsonify(TaskDraftOut().dump(NO_DRAFT))
        if (request.content_length or 0) > MAX_DRAFT_BYTES:
            return jsonify({"message": "draft too large"}), 413
        raw = request.get_data(cache=False)
        if len(raw) > MAX_DRAFT_BYTES:
            return jsonify({"message": "draft too large"}), 413
        try:
            body = json.loads(raw) if request.is_json else None
        except ValueError:
            body = None
        if body is None:
            return jsonify({"message": "send the draft as a JSON object"}), 422
        return jsonify(TaskDraftOut().dump(save_draft(task, current_user, body)))
    except DomainError as exc:
        return jsonify({"status": exc.status, "message": exc.message, "errors": exc.errors}), exc.status


@blp.get("/attachments/<int:attachment_id>")
@login_required
@committed_page
def download(attachment_id: int) -> Any:
    """Only for people who may read the step the file was attached to; audited as an export."""
    attachment = get_attachment(attachment_id)
    case = db.session.get(Case, attachment.case_id)
    access = case_access(current_user, case) if case else None
    if access is None or not access.attachment(attachment):
        raise Forbidden(gettext("You have no need to know this case."))
    audit(current_user.id, "download", "attachment", attachment.id, case_id=attachment.case_id,
          detail={"name": attachment.original_name})
    try:
        path = path_of(attachment)
    except DomainError:
        abort(404)
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(attachment.original_name)  # RFC 5987
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = DOWNLOAD_POLICY  # a PDF opened anyway runs nothing of ours
    return response
