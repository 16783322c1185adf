"""``POST /tasks/<id>/complete``: the task page's form completes the step (the inbox blueprint's route),
and the phone's outbox pages (``/outbox``, ``/outbox/session``).

Here, not in ``app.tasks.views``, because completing a step is a workflow command and ``app.tasks``
imports nothing of the workflow; ``create_app`` imports this module before it registers the blueprint.

The same route answers the page's form (a redirect, or the page again with the errors or the conflict)
and the phone's outbox (``static/js/outbox.js`` asks for JSON with ``Accept: application/json``): 200
``{"status": "completed" | "replayed"}``, 409 with ``conflict`` (both versions), 422 with ``errors``.
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from app.audit.operations import audit
from app.common.errors import DomainError, Invalid
from app.common.idempotency import KEY_LENGTH
from app.common.inputs import bounded_int, bounded_ints
from app.common.offline import keep_offline
from app.common.pages import committed_page
from app.extensions import db
from app.tasks.conflicts import StaleSubmission, Submission
from app.tasks.form_render import friendly_errors, parse_form, schema_of
from app.tasks.models import Task
from app.tasks.schemas import MAX_FILES
from app.tasks.views import blp, task_context, visible_task, wants_json

from . import commands


@blp.post("/tasks/<int:task_id>/complete")
@login_required
@committed_page
def complete(task_id: int) -> Any:
    task, access = visible_task(task_id)
    schema = schema_of(task)
    data = parse_form(schema, request.form)
    key = _form_key()
    sent = Submission(bounded_int(request.form.get("task_version")),
                      tuple(bounded_ints(request.form.getlist("attachment_ids"))[:MAX_FILES]))
    as_json = wants_json()
    try:
        _task, first = commands.complete_once(task, current_user, data, key, sent)
    except StaleSubmission as exc:
        record_conflict_view(task, current_user.id, exc)
        if as_json:
            return jsonify({"status": "conflict", "message": exc.message, **(exc.body or {})}), 409
        flash(gettext("Not sent: this step changed after you opened it. Both versions are shown below."), "error")
        context = task_context(task, access, data, None, key)
        return render_template("tasks/task.html", **context, conflict=(exc.body or {}).get("conflict")), 409
    except Invalid as exc:
        db.session.rollback()
        if as_json:
            errors = friendly_errors(schema, data) or {k: [str(m) for m in v] for k, v in exc.errors.items()}
            return jsonify({"status": "invalid", "message": exc.message, "errors": errors}), 422
        if "idempotency_key" in exc.errors:  # this rendered form was sent before, with other values
            flash(gettext("This form was already sent with other values; the step was completed with those. "
                          "Reload the page to see it."), "error")
            return redirect(url_for("inbox.task_page", task_id=task.id))
        errors = friendly_errors(schema, data) or {k: [str(m) for m in v] for k, v in exc.errors.items()}
        flash(gettext("The form has errors; see the marked fields."), "error")
        return render_template("tasks/task.html", **task_context(task, access, data, errors, key)), 422
    except DomainError as exc:
        if not as_json:
            raise
        db.session.rollback()
        return jsonify({"status": "refused", "message": exc.message, "errors": exc.errors}), exc.status
    session["forget_draft"] = task.id  # the next page tells drafts.js to drop the device's copy
    if as_json:  # the outbox: the next page the phone shows says it went through
        flash(gettext("“%(step)s” completed.", step=task.name), "success")
        return jsonify({"status": "completed" if first else "replayed", "task_id": task.id,
                        "task_version": task.version, "case_id": task.case_id})
    if first:
        flash(gettext("“%(step)s” completed.", step=task.name), "success")
    else:  # a double click or a resent form: the first submission completed the step
        flash(gettext("“%(step)s” was already completed with this form.", step=task.name), "info")
    return redirect(url_for("inbox.index"))


def record_conflict_view(task: Task, user_id: int, exc: StaleSubmission) -> None:
    """A refused stale submission changes nothing (rolled back here), but its answer shows the step's other
    version (who completed it, with what): that read is audited, in a transaction of its own."""
    db.session.rollback()
    conflict = (exc.body or {}).get("conflict", {})
    audit(user_id, "view", "task", task.id, case_id=task.case_id,
          detail={"page": "conflict", "kind": conflict.get("kind"), "sent_version": conflict.get("sent", {}).get(
              "task_version"), "current_version": conflict.get("current", {}).get("task_version")})
    db.session.commit()


def _form_key() -> str | None:
    """The hidden ``idempotency_key`` the task page rendered into its form (ignored when malformed)."""
    key = request.form.get("idempotency_key", "")
    low, high = KEY_LENGTH
    return key if low <= len(key) <= high else None


@blp.get("/outbox")
@login_required
def outbox() -> Any:
    """What this phone has waiting to be sent: the list is drawn by ``outbox.js`` from the device's own
    queue (the server never holds it); the page itself carries no child's data, and the phone keeps it for
    offline use (what is waiting is most needed where there is no signal)."""
    keep_offline()
    return render_template("tasks/outbox.html")


@blp.get("/outbox/session")
@login_required
def outbox_session() -> Any:
    """Who is signed in and a fresh CSRF token, asked before each flush of the queue: a page served from the
    phone's cache may hold an expired token, and a queue is only ever sent as the user who filled it."""
    response = jsonify({"user_id": current_user.id, "csrf_token": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response
