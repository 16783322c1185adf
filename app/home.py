"""The landing page and the health check."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from app.extensions import db

blp = Blueprint("home", __name__)


@blp.get("/")
def index() -> str:
    from app.processes.queries import all_specs

    return render_template("home.html", specs=all_specs())


@blp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """For load balancers and `make run` smoke checks: the database answers."""
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}, 200
