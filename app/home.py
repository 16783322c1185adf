"""The landing page, the health check and the readiness check."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template

from app.common.clock import now
from app.config import ROOT
from app.deadlines.sweep import last_swept
from app.extensions import db
from app.notifications.models import EmailOutbox
from app.processes.queries import all_specs
from app.tasks.models import TimerIncident
from workers.queues import REDIS_ERRORS, redis_connection

blp = Blueprint("home", __name__)


@blp.get("/")
def index() -> str:
    return render_template("home.html", specs=all_specs())


@blp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """For load balancers and `make run` smoke checks: the database answers."""
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}, 200


_redis_clients: dict[str, Any] = {}
_redis_lock = threading.Lock()


def _redis_check(url: str) -> dict[str, Any]:
    with _redis_lock:
        client = _redis_clients.setdefault(url, redis_connection(url, timeout=1.0))
    try:
        client.ping()
    except REDIS_ERRORS as exc:
        return {"configured": True, "ok": False, "error": type(exc).__name__}
    return {"configured": True, "ok": True}


_code_heads: dict[str, frozenset[str]] = {}


def _migrations_check() -> dict[str, Any]:
    """The database's Alembic revision against the code's head: code running on a schema it was not
    written for fails in odd places, so the node says so before taking traffic."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    location = str(ROOT / "migrations")
    if location not in _code_heads:
        config = Config()
        config.set_main_option("script_location", location)
        _code_heads[location] = frozenset(ScriptDirectory.from_config(config).get_heads())
    code = _code_heads[location]
    database = frozenset(MigrationContext.configure(db.session.connection()).get_current_heads())
    return {"ok": database == code, "database": sorted(database), "code": sorted(code)}


@blp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """Readiness for the process manager and monitoring: 503 when the database does not answer, the
    deadline sweep has not run for ``ready_sweep_lag`` seconds, too much mail waits, or the database
    schema is not at the code's migration head (``flask db upgrade`` not run, or run by newer code).

    Redis down is reported (``degraded``) but still 200: every page works without it and the cron
    sweeps from the database meanwhile, so taking web nodes out of service would only make it worse.
    A stalled sweep is what stops escalations, so that is the alert-worthy state.
    """

    settings = current_app.config["LIANDONG"]
    at = now()
    body: dict[str, Any] = {"status": "ok", "checks": {}}
    checks = body["checks"]
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True}
        checks["migrations"] = _migrations_check()
        swept = last_swept()
        backlog = db.session.scalar(sa.select(sa.func.count(EmailOutbox.id)).where(
            EmailOutbox.sent_at.is_(None), EmailOutbox.created_at <= at - timedelta(seconds=settings.ready_outbox_age)))
        incidents = db.session.scalar(sa.select(sa.func.count(TimerIncident.id))
                                      .where(TimerIncident.resolved_at.is_(None)))
        db.session.rollback()
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        body["status"] = "unavailable"
        return body, 503
    expected = bool(settings.redis_url or settings.inline_loop)
    lag = (at - swept).total_seconds() if swept is not None else None
    sweep_ok = not expected or (lag is not None and lag <= settings.ready_sweep_lag)
    checks["sweep"] = {"ok": sweep_ok, "expected": expected, "last_at": swept.isoformat() if swept else None,
                       "lag_seconds": round(lag, 1) if lag is not None else None,
                       "limit_seconds": settings.ready_sweep_lag}
    checks["outbox"] = {"ok": backlog <= settings.ready_outbox_backlog, "backlog": backlog,
                        "older_than_seconds": settings.ready_outbox_age, "limit": settings.ready_outbox_backlog}
    checks["timers"] = {"ok": True, "open_incidents": incidents}  # for designers to fix; not a reason to stop
    checks["redis"] = _redis_check(settings.redis_url) if settings.redis_url else {"configured": False, "ok": True}
    if not (sweep_ok and checks["outbox"]["ok"] and checks["migrations"]["ok"]):
        body["status"] = "unavailable"
        return body, 503
    if not checks["redis"]["ok"]:
        body["status"] = "degraded"
    return body, 200
