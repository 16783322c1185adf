"""Structured logs: one JSON object a line in production, readable text on a terminal (docs/operations.md).

Every line carries the request id (the caller's ``X-Request-ID`` when it sent a sane one, else a new one,
echoed on the response), the signed-in user's id and the RQ job id, so one request or job can be followed
across the web server, the workers and Sentry. Lines carry ids, never a child's name, a narrative or an
ID number: the app logs ids and exception *types*, and SQLAlchemy hides statement parameters
(``hide_parameters``), so a database error cannot print a row's values either.

Why python-json-logger: Flask, RQ, SQLAlchemy and gunicorn all log through the standard library's
``logging``; a JSON ``Formatter`` on the root handler turns all of them into JSON without touching a
single logging call. structlog would need its stdlib bridge to reach the same lines and brings a second
logging API we would not use.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import IO

import sqlalchemy as sa
from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from app.config import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A caller's request id is echoed and logged only when it cannot smuggle text (or a name) into a line."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s user=%(user_id)s job=%(job_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s %(user_id)s %(job_id)s"
JSON_RENAMES = {"levelname": "level", "name": "logger"}
JSON_TIME = "time"
"""Key of the record's time: ISO 8601 in UTC with its offset (python-json-logger's ``timestamp``)."""

log = logging.getLogger("liandong.request")


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``user_id`` and ``job_id`` to every record a handler emits (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id()
        record.user_id = _user_id()
        record.job_id = _job_id()
        return True


def _request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _user_id() -> int | None:
    """The caller's id without a query: a log line must never load (or fail to load) a user."""
    if not has_request_context():
        return None
    user = g.get("api_user") or g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = sa.inspect(user, raiseerr=False)
    identity = getattr(state, "identity", None)
    return identity[0] if identity else None


def _job_id() -> str | None:
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover - rq is a dependency
        return None
    job = get_current_job()
    return job.id if job is not None else None


def wants_json(settings: Settings, debug: bool, stream: IO[str]) -> bool:
    """``auto``: JSON unless a person is watching (a terminal, or Flask's debug mode)."""
    if settings.log_format != "auto":
        return settings.log_format == "json"
    return not (debug or stream.isatty())


def make_handler(settings: Settings, debug: bool = False, stream: IO[str] | None = None) -> logging.Handler:
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if wants_json(settings, debug, stream):
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp=JSON_TIME))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    handler._liandong = True  # type: ignore[attr-defined]
    return handler


def configure(settings: Settings, debug: bool = False, stream: IO[str] | None = None) -> logging.Handler:
    """Route the root logger through one handler of ours (replacing the one a previous app installed)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_liandong", False)]:
        root.removeHandler(old)
    handler = make_handler(settings, debug, stream)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler


def _begin() -> None:
    raw = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = raw if _SANE_ID.fullmatch(raw) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    if started is not None:
        # the path, never the query string (a search may name a child); the endpoint names the view
        log.info("%s %s %s", request.method, request.path, response.status_code,
                 extra={"endpoint": request.endpoint, "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Request ids on every request; the root handler unless under pytest (which captures logs itself)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    if not settings.testing:
        configure(settings, debug=app.debug)

