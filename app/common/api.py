"""API plumbing under ``endpoints.py``: the Api object, JSON errors, bearer-token authentication.

Every API error has one shape (``ApiError`` in ``api_doc.py``), whoever refuses: webargs parsing a body or
query, a domain error from an operation, an HTTP error from Flask::

    {"code": 422, "status": "Unprocessable Entity", "message": "form data is not valid",
     "errors": {"json": {"data.relatives[0].phone": ["..."]}}}

``errors`` is present when fields are at fault: by location (webargs' names: ``json``, ``query``, ``form``,
``files``, ``headers``), then by the field's path (``app.common.errors.field_path``). docs/api.md says why.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import g, request
from flask_smorest import Api
from flask_smorest import abort as smorest_abort
from werkzeug.http import HTTP_STATUS_CODES

from app.common.api_doc import LOCATIONS, ApiError, ErrorResponsesPlugin
from app.common.dialect import reads_outside_transaction
from app.common.errors import DomainError, flat_messages
from app.common.scopes import require_scope
from app.extensions import db


def abort(status: int, **kwargs: Any) -> NoReturn:
    """flask-smorest's ``abort``, typed as never returning so mypy narrows Optionals after it."""
    smorest_abort(status, **kwargs)
    raise AssertionError("flask_smorest.abort returned")  # pragma: no cover

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


class LiandongApi(Api):
    """flask-smorest's Api, with every API error carrying a ``message`` and pages keeping HTML errors.

    The document lists each operation's errors by status (``app/common/api_doc.py``) instead of
    flask-smorest's catch-all ``default`` response, which would let any status pass as documented.
    """

    ERROR_SCHEMA = ApiError
    DEFAULT_ERROR_RESPONSE_NAME = None

    def __init__(self, app: Any = None, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        spec_kwargs = dict(spec_kwargs or {})
        spec_kwargs.setdefault("extra_plugins", [ErrorResponsesPlugin()])
        super().__init__(app, spec_kwargs=spec_kwargs)

    def handle_http_exception(self, error: Any) -> Any:
        if not request.path.startswith("/api/"):
            return error
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        if "errors" in payload:  # webargs: {location: marshmallow's nested messages}
            payload["errors"] = by_location(payload["errors"])
        return payload, code, {**exception_headers(error), **(headers or {})}


def exception_headers(error: Any) -> dict[str, str]:
    """The headers an HTTP error carries besides its body (``Allow`` on 405, ``Retry-After`` on 429)."""
    return {k: v for k, v in error.get_headers() if k.lower() != "content-type"}


def by_location(messages: Any) -> dict[str, dict[str, list[str]]]:
    """webargs' ``{location: nested messages}`` as ``{location: {path: messages}}``."""
    if not isinstance(messages, dict):
        return {"json": flat_messages(messages)}
    out: dict[str, dict[str, list[str]]] = {}
    for location, nested in messages.items():
        name = {"querystring": "query", "json_or_form": _request_location()}.get(location, str(location))
        if name not in LOCATIONS:  # not keyed by location after all: the fields of the body
            out.setdefault(_request_location(), {}).update(flat_messages({location: nested}))
        else:
            out.setdefault(name, {}).update(flat_messages(nested))
    return out


def _request_location() -> str:
    """Where this request's input is: its JSON body, its form, else its query string."""
    if request.is_json:
        return "json"
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return "form"
    return "query"


def error_payload(status: int, message: str, errors: dict[str, Any] | None = None,
                  location: str | None = None) -> dict[str, Any]:
    """The one API error body (module docstring); ``errors`` is a map of path to messages at ``location``."""
    body: dict[str, Any] = {"code": status, "status": _status_name(status), "message": message}
    if errors:
        body["errors"] = {location or _request_location(): flat_messages(errors)}
    return body


def _status_name(status: int) -> str:
    """Werkzeug's name of the status, the one flask-smorest's own errors carry."""
    return HTTP_STATUS_CODES.get(status, "Error")


def domain_error_response(error: DomainError) -> tuple[dict[str, Any], int]:
    db.session.rollback()
    body = error_payload(error.status, error.message, error.errors, error.location)
    if error.body:
        body.update(error.body)
    return body, error.status


def current_api_user() -> Any:
    return g.api_user


def authenticate_first() -> None:
    """``before_request``: authenticate an API call whose view needs a token before any argument parsing."""
    from flask import current_app

    if not request.path.startswith("/api/") or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None) if view_class is not None else view
    if method is None and request.method == "HEAD" and view_class is not None:
        method = getattr(view_class, "get", None)
    if getattr(method, "_bearer_required", False):
        if not getattr(method, "_writes", True):
            reads_outside_transaction()
        g.api_user = bearer_user()
        require_scope(getattr(method, "_scope", None))


BEARER_RESOLVER = "liandong_bearer_user"
"""``app.extensions`` key of the function that turns the request's bearer token into its user (or aborts
401/429); ``create_app`` sets ``app.org.bearer.bearer_user``, because tokens and users are org's, above this."""


def bearer_user() -> Any:
    from flask import current_app

    user = current_app.extensions[BEARER_RESOLVER]()
    request.liandong_bearer_checked = True  # type: ignore[attr-defined]
    return user


api = LiandongApi()
"""The one flask-smorest Api (created unbound, bound in ``create_app``); every module's ``api.py`` registers here."""
