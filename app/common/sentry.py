"""Error reports to Sentry (or a self-hosted GlitchTip, which speaks the same protocol) when ``SENTRY_DSN``
is set: unhandled errors of web requests (Flask integration) and of RQ jobs (RQ integration).

A report must never carry a child's name, a narrative or an ID number, and any of those can sit in a
request body, a query string, a cookie, a frame's local variables, an exception's message or a log
line's arguments. So: the SDK collects none of those (its ``data_collection`` option, which replaces
``send_default_pii=False`` in this version), and :func:`scrub` keeps of each event only
what locates the fault (exception *types* and stack frames, the endpoint, the method, the path without
its query, the request / user / job *ids*) and drops everything else before it leaves the process.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context, request

from app.config import Settings

KEPT_CONTEXTS = ("runtime", "os", "trace", "flask")
"""Event contexts that describe the server, not the case (RQ's job extra is reduced to its id and function)."""


def _frames(exception: dict[str, Any]) -> None:
    for frame in (exception.get("stacktrace") or {}).get("frames", []):
        frame.pop("vars", None)
        frame.pop("pre_context", None)  # source lines are code, but keep the report to the failing line
        frame.pop("post_context", None)


def scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_send``: keep what locates the fault, drop what could hold a child's data."""
    for exception in (event.get("exception") or {}).get("values", []):
        exception["value"] = ""  # a message may quote input; the type and the stack locate the fault
        _frames(exception)
    for thread in (event.get("threads") or {}).get("values", []):
        _frames(thread)
    req = event.get("request")
    if isinstance(req, dict):
        url = str(req.get("url") or "").split("?", 1)[0]
        event["request"] = {"method": req.get("method"), "url": url}
    user = event.get("user")
    event["user"] = {"id": user["id"]} if isinstance(user, dict) and user.get("id") else {}
    if isinstance(event.get("logentry"), dict):  # a log line's format string, never its arguments
        event["logentry"] = {"message": event["logentry"].get("message", "")}
    job = (event.pop("extra", None) or {}).get("rq-job") or {}  # its description repeats the job's arguments
    contexts = event.get("contexts") or {}
    event["contexts"] = {key: value for key, value in contexts.items() if key in KEPT_CONTEXTS}
    tags = event.setdefault("tags", {})
    if job:
        event["contexts"]["rq-job"] = {"job_id": job.get("job_id"), "func": job.get("func")}
        tags["job_id"] = job.get("job_id")
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs or []
    event["breadcrumbs"] = {"values": [{key: crumb.get(key) for key in ("timestamp", "category", "level", "type")}
                                       for crumb in values]}
    if has_request_context():
        tags["request_id"] = g.get("request_id")
        tags["endpoint"] = request.endpoint
    return event


def init(settings: Settings) -> bool:
    """Start reporting when a DSN is set (once per process; the last app created configures it)."""
    if not settings.sentry_dsn:
        return False
    # deferred: the SDK and its integrations cost every process that builds the app ~0.05 s of CPU; only a DSN needs them
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment,
        integrations=[FlaskIntegration(), RqIntegration()],  # and the default logging one: ERROR lines report
        # ``send_default_pii=False``, as sentry-sdk 2.75 spells it (it deprecates the flag): nothing about the
        # user, no cookies, headers, bodies, query parameters, frame variables or source lines.
        data_collection={"user_info": False, "cookies": {"mode": "off"}, "http_headers": {"request": {"mode": "off"}},
                         "http_bodies": [], "url_query_params": {"mode": "off"}, "database_query_data": False,
                         "queues": False, "stack_frame_variables": False, "frame_context_lines": 0},
        include_local_variables=False,
        max_request_body_size="never",
        before_send=scrub,  # type: ignore[arg-type]
        traces_sample_rate=0.0,
    )
    return True
