"""Plumbing shared by the modules' ``views.py`` (HTML pages): login, roles, transactions, errors.

A page request has the same lifecycle as an API call: load the objects, check access (through the
same functions the API uses), do the work through the operations, then commit once. Domain errors
become an HTML error page (or, for an htmx request, a short message the page shows in its flash bar).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, TypeVar

from flask import Flask, Response, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException, InternalServerError

from app.common import headers
from app.common.api import api, domain_error_response, exception_headers
from app.common.errors import Conflict, DomainError, Forbidden
from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

ERROR_TITLES = {
    400: _l("Bad request"), 403: _l("Not allowed"), 404: _l("Not found"), 405: _l("Not allowed"),
    409: _l("Conflict"), 413: _l("File too large"), 422: _l("Not valid"), 429: _l("Too many attempts"),
    500: _l("Something went wrong"),
}


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def committed_page(view: F) -> F:
    """The page view owns the transaction: commit once when it answers < 400, else roll back.

    A form re-rendered with errors (422) therefore leaves nothing behind, just like a refused API call.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.orm.exc import StaleDataError

        try:
            result = view(*args, **kwargs)
        except StaleDataError as exc:
            db.session.rollback()
            raise Conflict(gettext("The case changed while you were working on it; reload and try again.")) from exc
        except BaseException:
            db.session.rollback()
            raise
        status = result[1] if isinstance(result, tuple) and len(result) > 1 else getattr(result, "status_code", 200)
        if isinstance(status, int) and status >= 400:
            db.session.rollback()
        else:
            db.session.commit()
        return result

    return wrapper  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[F], F]:
    """Signed in and holding one of ``roles`` (``app.org.roles.Role`` values); otherwise the login page or 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                raise Forbidden(gettext("Your role does not allow this page."))
            return view(*args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorate


def error_page(status: int, message: str) -> tuple[Any, int]:
    if is_htmx():
        return Response(message, status=status, mimetype="text/plain"), status
    return render_template("errors.html", status=status, title=str(ERROR_TITLES.get(status, _l("Error"))),
                           message=message), status


def domain_error(error: DomainError) -> Any:
    """JSON for the API (as before), an HTML page or htmx message for pages."""

    if request.path.startswith("/api/"):
        return domain_error_response(error)
    db.session.rollback()
    return error_page(error.status, error.message)


def http_error_page(error: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        return api.handle_http_exception(error)
    description = error.description or ""
    if error.code == 429:
        description = gettext("Too many attempts. Wait a minute and try again.")

    body, status = error_page(error.code or 500, description)
    return body, status, exception_headers(error)


BARE_500 = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>500 · 联动</title>'
    "<h1>500 · 服务器出错 / Server error</h1>"
    "<p>操作没有完成，也没有保存任何内容。请稍后再试；如果一再出现，请告诉管理员。</p>"
    "<p>Nothing was saved. Please try again later; if it keeps happening, tell your administrator.</p>"
    '<p><a href="/">联动 / Liandong</a></p></html>'
)
"""The last resort when even the layout cannot render (the database is what failed, say)."""


def server_error_page(error: InternalServerError) -> Any:
    """An unhandled error: the API's JSON error shape, or a page in the user's language that says nothing
    was saved. The transaction is rolled back first; if the layout itself fails (it reads the signed-in
    user), a fixed page with no database access answers instead. The error is logged by Flask, without
    statement values (``hide_parameters``)."""

    with contextlib.suppress(Exception):
        db.session.rollback()
    if request.path.startswith("/api/"):
        return api.handle_http_exception(error)
    try:
        return error_page(500, gettext("Nothing was saved. Please try again; if it keeps happening, tell your "
                                       "administrator."))
    except Exception:  # noqa: BLE001 - the page of last resort must not fail in turn
        return Response(BARE_500, status=500, mimetype="text/html"), 500


def init_app(app: Flask) -> None:
    for status in (400, 403, 404, 405, 409, 413, 422, 429):
        app.register_error_handler(status, http_error_page)
    app.register_error_handler(InternalServerError, server_error_page)
    app.register_error_handler(DomainError, domain_error)
    headers.init_app(app)


@dataclass(frozen=True)
class PageOf(Generic[T]):
    """One page of a list a page shows (the case's timeline, its tasks): the rows and where they sit.

    The API pages with flask-smorest (``ApiBlueprint.paginate``); pages use this with the same ``page`` /
    ``per_page`` meaning, so a long list costs one COUNT and one LIMITed read whatever its length.
    """

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def page_number(name: str, last: int | None = None) -> int:
    """The page number a query parameter asks for, clamped to 1..``last`` (bad input shows page 1, or
    ``last`` when the default is the newest end of the list); never a 500 or an OFFSET overflow."""
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 9:
        return last if (last is not None and raw in ("", "last")) else 1
    number = max(1, int(raw))
    return min(number, last) if last is not None else number
