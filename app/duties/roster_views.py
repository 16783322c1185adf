"""The roster pages: upload a county ledger, read the dry run row by row, confirm, export.

The same operations as ``roster_api`` (``roster_files``); the page owns the transaction (``committed_page``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from app.audit.operations import audit
from app.common.errors import Invalid
from app.common.pages import committed_page
from app.extensions import db

from . import roster_files
from .models import RosterImport
from .roster import Outcome
from .roster_api import export_response
from .roster_rows import describe

blp = Blueprint("roster_pages", __name__, template_folder="templates")

SHOWN_ROWS = 1000
"""Rows listed on the dry-run page beyond the refused ones (all refused rows are always listed)."""


def _recent(county_id: int) -> list[RosterImport]:
    return list(db.session.scalars(sa.select(RosterImport).where(RosterImport.county_id == county_id)
                                   .order_by(RosterImport.id.desc()).limit(20)))


@blp.get("/roster")
@login_required
def roster() -> Any:
    county = roster_files.roster_county(current_user)
    return render_template("duties/roster.html", county=county, imports=_recent(county.id), errors={})


@blp.post("/roster/checks")
@login_required
@committed_page
def check() -> Any:
    county = roster_files.roster_county(current_user)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise Invalid("choose a file", {"file": [gettext("Choose the ledger (.xlsx) to check.")]})
        record, plan = roster_files.check_upload(current_user, upload.filename, upload.read())
    except Invalid as exc:
        return render_template("duties/roster.html", county=county, imports=_recent(county.id),
                               errors=exc.errors), 422
    refused = [r for r in plan.rows if r.outcome == Outcome.REFUSED]
    others = [r for r in plan.rows if r.outcome != Outcome.REFUSED]
    return render_template("duties/roster_report.html", record=record, refused=refused, describe=describe,
                           others=others[:SHOWN_ROWS], more=max(0, len(others) - SHOWN_ROWS))


@blp.post("/roster/imports/<int:import_id>/confirm")
@login_required
@committed_page
def confirm(import_id: int) -> Any:
    record, _ = roster_files.confirm_import(current_user, import_id)
    counts = {k: record.counts.get(k, 0) for k in ("create", "update", "unchanged", "refused")}
    flash(gettext("Roster imported: %(create)s new, %(update)s updated, %(unchanged)s unchanged, "
                  "%(refused)s refused.", **counts), "success")
    return redirect(url_for("roster_pages.roster"))


@blp.get("/roster/export.xlsx")
@login_required
@committed_page
def export() -> Any:
    county, count, data = roster_files.export_xlsx(current_user)
    audit(current_user.id, "export", "roster", county.id, detail={"rows": count, "format": "xlsx"})
    return export_response(county.name, data)
