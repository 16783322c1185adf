"""``POST /tasks/<id>/complete``: the task page's form completes the step (the inbox blueprint's route).

Here, not in ``app.tasks.views``, because completing a step is a workflow command and ``app.tasks``
imports nothing of the workflow; ``create_app`` imports this module before it registers the blueprint.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from app.common.errors import Invalid
from app.common.idempotency import KEY_LENGTH
from app.common.pages import committed_page
from app.extensions import db
from app.tasks.form_render import friendly_errors, parse_form, schema_of
from app.tasks.views import blp, task_context, visible_task

from . import commands


@blp.post("/tasks/<int:task_id>/complete")
@login_required
@committed_page
def complete(task_id: int) -> Any:
    task, access = visible_task(task_id)
    schema = schema_of(task)
    data = parse_form(schema, request.form)
    key = _form_key()
    try:
        _task, first = commands.complete_once(task, current_user, data, key)
    except Invalid as exc:
        db.session.rollback()
        if "idempotency_key" in exc.errors:  # this rendered form was sent before, with other values
            flash(gettext("This form was already sent with other values; the step was completed with those. "
                          "Reload the page to see it."), "error")
            return redirect(url_for("inbox.task_page", task_id=task.id))
        errors = friendly_errors(schema, data) or {k: [str(m) for m in v] for k, v in exc.errors.items()}
        flash(gettext("The form has errors; see the marked fields."), "error")
        return render_template("tasks/task.html", **task_context(task, access, data, errors, key)), 422
    session["forget_draft"] = task.id  # the next page tells drafts.js to drop the device's copy
    if first:
        flash(gettext("“%(step)s” completed.", step=task.name), "success")
    else:  # a double click or a resent form: the first submission completed the step
        flash(gettext("“%(step)s” was already completed with this form.", step=task.name), "info")
    return redirect(url_for("inbox.index"))


def _form_key() -> str | None:
    """The hidden ``idempotency_key`` the task page rendered into its form (ignored when malformed)."""
    key = request.form.get("idempotency_key", "")
    low, high = KEY_LENGTH
    return key if low <= len(key) <= high else None


