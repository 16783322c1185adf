"""API plumbing shared by the modules' ``api.py``: bearer auth, JSON errors, transactions."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Api, abort

from app.common.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SECURITY = [{"bearerAuth": []}]


class LiandongApi(Api):
    """flask-smorest's Api, with every API error carrying a ``message`` and pages keeping HTML errors."""

    def handle_http_exception(self, error: Any) -> Any:
        if not request.path.startswith("/api/"):
            return error
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        return payload, code, headers


def domain_error_response(error: DomainError) -> tuple[dict[str, Any], int]:
    from app.extensions import db

    db.session.rollback()
    body: dict[str, Any] = {"code": error.status, "message": error.message}
    if error.errors:
        body["errors"] = error.errors
    return body, error.status


def current_api_user() -> Any:
    return g.api_user


def token_required(view: F) -> F:
    """Authenticate with ``Authorization: Bearer <token>``; 401 with a JSON message otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.org.queries import user_for_token

        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401, message="missing bearer token (Authorization: Bearer <token>)")
        user = user_for_token(token.strip())
        if user is None:
            abort(401, message="invalid, expired or revoked token")
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def committed(view: F) -> F:
    """The view owns the transaction: commit once at the end, roll back on any error."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.orm.exc import StaleDataError

        from app.common.errors import Conflict
        from app.extensions import db

        try:
            result = view(*args, **kwargs)
            db.session.commit()
            return result
        except StaleDataError as exc:
            db.session.rollback()
            raise Conflict("the case changed while you were working on it; reload and try again") from exc
        except BaseException:
            db.session.rollback()
            raise

    return wrapper  # type: ignore[return-value]
