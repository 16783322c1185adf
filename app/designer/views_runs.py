"""Designer pages for trying a draft out (test runs) and for moving running cases (migrations)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from app.common.errors import DomainError, Invalid
from app.common.inputs import bounded_int, bounded_ints
from app.common.pages import committed_page
from app.extensions import db
from app.org.kinds import DEPARTMENT_KINDS
from app.processes.models import SandboxRun
from app.processes.versions import get_version
from app.tasks.form_render import build_fields, friendly_errors, parse_form
from app.workflow import migration as moves

from . import drafts as ops
from . import testruns
from .views import blp, designer_only


@blp.route("/drafts/<int:draft_id>/test", methods=["GET", "POST"])
@designer_only
@committed_page
def test_runs(draft_id: int) -> Any:
    """Start a test run with sample data; list the draft's earlier runs."""
    draft = ops.get_draft(draft_id)
    sample = request.form.get("data", "{}")
    error = None
    if request.method == "POST":
        try:
            data = json.loads(sample or "{}")
            run = testruns.start_run(draft, current_user, data)
            return redirect(url_for("designer.test_run", run_id=run.id))
        except json.JSONDecodeError as exc:
            error = gettext("Not valid JSON: %(e)s", e=str(exc))
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
    return render_template("designer/test_runs.html", draft=draft, runs=testruns.runs_of(draft), sample=sample,
                           error=error), (422 if error else 200)


def _run_page(run: SandboxRun, steps: list[dict[str, Any]], error: str | None = None) -> str:
    return render_template("designer/test_run.html", run=run, steps=steps, draft=ops.get_draft(run.draft_id),
                           kinds=sorted(DEPARTMENT_KINDS), clock=testruns.run_clock(run), error=error,
                           parse_dt=datetime.fromisoformat)


@blp.route("/test-runs/<int:run_id>", methods=["GET"])
@designer_only
def test_run(run_id: int) -> Any:
    run = testruns.get_run(run_id)
    steps = [{**t, "fields": build_fields(run.forms.get(t["form"]) if t.get("form") else None)}
             for t in run.ready or []]
    return _run_page(run, steps)


@blp.post("/test-runs/<int:run_id>/clock")
@designer_only
@committed_page
def test_clock(run_id: int) -> Any:
    """Let time pass in a test run: by an amount, or to the next waiting timer."""
    run = testruns.get_run(run_id)
    try:
        if request.form.get("next_timer"):
            to = testruns.clock_target(run, next_timer=True)
        else:
            to = testruns.clock_target(run, advance=request.form.get("advance", "").strip())
        testruns.advance_clock(run, current_user, to)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("designer.test_run", run_id=run_id))


@blp.post("/test-runs/<int:run_id>/tasks/<task_id>")
@designer_only
@committed_page
def test_step(run_id: int, task_id: str) -> Any:
    """Complete one waiting task of a test run, acting as the lane chosen on the page."""
    run = testruns.get_run(run_id)
    task = next((t for t in run.ready or [] if t["id"] == task_id), None)
    schema = run.forms.get(task["form"]) if task and task.get("form") else None
    data = parse_form(schema, request.form)
    try:
        testruns.complete_step(run, current_user, task_id, request.form.get("lane", ""), data)
    except Invalid as exc:
        db.session.rollback()
        errors = friendly_errors(schema, data) or {k: [str(m) for m in v] for k, v in exc.errors.items()}
        steps = [{**t, "fields": build_fields(run.forms.get(t["form"]) if t.get("form") else None,
                                              data if t["id"] == task_id else None,
                                              errors if t["id"] == task_id else None)}
                 for t in run.ready or []]
        return _run_page(run, steps, exc.message), 422
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("designer.test_run", run_id=run_id))


@blp.get("/processes/<process_key>/versions/<int:version>/migration")
@designer_only
def migration_plan(process_key: str, version: int) -> Any:
    """Dry run: which running cases can move to this version, and why the others cannot."""
    target = get_version(process_key, version)
    rows = moves.dry_run(target, current_user)
    return render_template("designer/migration.html", target=target, rows=rows,
                           migrations=moves.migrations_of(target))


@blp.post("/processes/<process_key>/versions/<int:version>/migration")
@designer_only
@committed_page
def migrate(process_key: str, version: int) -> Any:
    target = get_version(process_key, version)
    ids = bounded_ints(request.form.getlist("instance"))
    expected = {i: bounded_int(request.form.get(f"lock-{i}")) or 0 for i in ids}
    if not ids:
        flash(gettext("Choose the cases to move."), "error")
        return redirect(url_for("designer.migration_plan", process_key=process_key, version=version))
    rows = moves.migrate(target, current_user, ids, expected)
    moved = sum(r.migration_id is not None for r in rows)
    flash(gettext("%(n)s case(s) moved to version %(v)s.", n=moved, v=target.version), "success")
    for row in rows:
        if row.migration_id is None:
            flash(f"{row.case_number or row.instance_id}: {'; '.join(row.reasons)}", "error")
    return redirect(url_for("designer.migration_plan", process_key=process_key, version=version))


@blp.post("/migrations/<int:migration_id>/rollback")
@designer_only
@committed_page
def rollback(migration_id: int) -> Any:
    migration = moves.get_migration(migration_id)
    target = migration.to_spec
    try:
        moves.rollback(migration, current_user)
        flash(gettext("Moved back to version %(v)s.", v=migration.from_spec.version), "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("designer.migration_plan", process_key=target.process_key, version=target.version))
