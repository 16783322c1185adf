"""API plumbing under ``endpoints.py``: the Api object, JSON errors, bearer-token authentication."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import g, request
from flask_smorest import Api
from flask_smorest import abort as smorest_abort

from app.common.api_doc import ApiError, ErrorResponsesPlugin
from app.common.errors import DomainError
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
        return payload, code, {**exception_headers(error), **(headers or {})}


def exception_headers(error: Any) -> dict[str, str]:
    """The headers an HTTP error carries besides its body (``Allow`` on 405, ``Retry-After`` on 429)."""
    return {k: v for k, v in error.get_headers() if k.lower() != "content-type"}


def domain_error_response(error: DomainError) -> tuple[dict[str, Any], int]:
    db.session.rollback()
    body: dict[str, Any] = {"code": error.status, "message": error.message}
    if error.errors:
        body["errors"] = error.errors
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
        g.api_user = bearer_user()


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
