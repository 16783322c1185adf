"""The one endpoint pattern of the REST API: ``ApiBlueprint.endpoint`` and ``ApiBlueprint.paginate``.

Every operation has the lifecycle DESIGN.md gives entry points: authenticate, authorise, parse, call the
operations, commit once. ``@blp.endpoint()`` carries all of it, outermost on the view::

    @blp.route("/<int:task_id>/claim")
    class Claim(MethodView):
        @blp.endpoint(scope=PEOPLE_ONLY)
        @blp.response(200, TaskOut)
        def post(self, task_id: int) -> Task: ...

- authentication: ``Authorization: Bearer <token>`` (``app.common.api.authenticate_first`` checks it
  before flask-smorest parses anything, so a caller without a token learns 401, never 422);
- who may call it, declared on every endpoint (``scope=``, no default, ``app/common/scopes.py``): the scope
  a service account's token needs, or ``PEOPLE_ONLY`` (a machine client's token gets 403 before anything
  else is judged, and the document marks the operation ``x-people-only``);
- authorisation by role where a role is the whole rule (``roles=`` and the refusal's words); finer rules
  (unit, need to know) stay in the view, through ``app.cases.access``;
- the OpenAPI security requirement (``bearerAuth``, or the ``serviceAccount`` scheme with the scope), from
  which ``api_doc`` derives 401/403/429;
- the transaction: commit once after the answer is serialised, roll back on any error or a status of
  400 and above; a lost optimistic lock (``StaleDataError``) is 409, documented on every write.

``@blp.paginate()`` is flask-smorest's pagination with two local choices: the page size parameter keeps
the name ``per_page`` (clients send it) with a cap of 500, and the page's metadata goes in the body
(``{"items": [...], "total", "page", "per_page"}``, as the API always answered) instead of an
``X-Pagination`` header. A view returns a SQLAlchemy select and ``SelectPage`` counts it and fetches one
page; a view that pages itself (the dashboard's drill-down) takes ``pagination_parameters``. The view's
own query schema leaves ``page``/``per_page`` alone (webargs excludes unknown query parameters).
"""

from __future__ import annotations

import http
from collections.abc import Callable, Iterable, Mapping
from copy import deepcopy
from functools import wraps
from typing import Any, ClassVar, TypeVar

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, g, request
from flask_smorest import Blueprint, Page
from flask_smorest.pagination import PaginationParameters
from flask_smorest.utils import unpack_tuple_response
from sqlalchemy.orm.exc import StaleDataError
from webargs.flaskparser import FlaskParser

from app.common.api import BEARER_SECURITY, bearer_user, current_api_user
from app.common.api_doc import document_response
from app.common.clock import instant
from app.common.dialect import reads_outside_transaction
from app.common.errors import Conflict, Forbidden
from app.common.inputs import MAX_COUNT
from app.common.scopes import (
    PEOPLE_ONLY,
    PEOPLE_ONLY_EXTENSION,
    SERVICE_SECURITY_SCHEME,
    check_known,
    require_scope,
)
from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
__all__ = ["PEOPLE_ONLY", "ApiBlueprint", "Beside", "Instant", "ObjectOut", "PeekPage", "SelectPage", "count_of", "current_api_user", "list_of",
           "page_of", "page_rows"]

MAX_PER_PAGE = 500


class SchemaOnceParser(FlaskParser):
    """webargs' Flask parser, making one instance of each argument schema class per process rather than one per
    request (``blp.arguments(TaskQueryArgs)`` names the class: webargs built it, with a deep copy of its
    fields, for every request). A marshmallow 4 schema keeps nothing of a load on itself, so threads share one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._instances: dict[type[ma.Schema], ma.Schema] = {}

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            return schema if schema is not None else self._instances.setdefault(argmap, argmap())
        return super()._get_schema(argmap, req)


class ApiBlueprint(Blueprint):  # type: ignore[misc]  # flask-smorest has no type hints
    """flask-smorest's Blueprint with the project's endpoint decorator and pagination (module docstring)."""

    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 50, "max_page_size": MAX_PER_PAGE}
    ARGUMENTS_PARSER = SchemaOnceParser()
    PAGINATION_ARGUMENTS_PARSER = SchemaOnceParser()

    def endpoint(self, *, scope: str, roles: Iterable[Any] = (),
                 refusal: str = "your role does not allow this", writes: bool = True) -> Callable[[F], F]:
        """Authenticate, check the token's ``scope`` and ``roles`` (any one of them; 403 with ``refusal``
        otherwise), document the security, and own the transaction. Goes above every other decorator.

        ``scope`` names what a service account's token must carry to use the operation, or is
        ``PEOPLE_ONLY``; it has no default, so every operation says which (a machine client with a use for
        the operation gets a scope; one that is a person's act, or an administrator's, stays for people).
        ``writes=False`` for a read that writes nothing, not even an audit row (a list): no commit, so it
        costs no statement beyond its reads (on PostgreSQL not even BEGIN and ROLLBACK:
        ``dialect.reads_outside_transaction``); the request's session is discarded at its end."""
        wanted = tuple(roles)
        check_known(scope)
        people_only = scope == PEOPLE_ONLY
        security = BEARER_SECURITY if people_only else [*BEARER_SECURITY, {SERVICE_SECURITY_SCHEME: [scope]}]

        def decorate(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if not getattr(request, "liandong_bearer_checked", False):  # g may outlive a request in tests
                    if not writes:
                        reads_outside_transaction()
                    g.api_user = bearer_user()
                    require_scope(scope)
                if wanted and not g.api_user.has_role(*wanted):
                    raise Forbidden(refusal)
                return _in_one_transaction(view, args, kwargs) if writes else view(*args, **kwargs)

            wrapper._bearer_required = True  # type: ignore[attr-defined]  # read by authenticate_first
            wrapper._scope = scope  # type: ignore[attr-defined]  # read by authenticate_first
            wrapper._writes = writes  # type: ignore[attr-defined]  # read by authenticate_first
            doc = deepcopy(getattr(view, "_apidoc", {}))
            doc.setdefault("manual_doc", {}).setdefault("security", security)
            if people_only:
                doc["manual_doc"][PEOPLE_ONLY_EXTENSION] = True
            wrapper._apidoc = doc  # type: ignore[attr-defined]
            if writes and view.__name__ != "get":  # a read commits at most its audit row: nothing to conflict with
                document_response(wrapper, 409, "CONFLICT")
            return wrapper  # type: ignore[return-value]

        return decorate

    def paginate(self, pager: type[Page] | None = None, *, page: int | None = None, page_size: int | None = None,
                 max_page_size: int | None = None) -> Callable[[F], F]:
        """flask-smorest's ``paginate`` with ``per_page`` as the size parameter and the metadata in the body."""
        defaults = self.DEFAULT_PAGINATION_PARAMETERS
        params_schema = page_parameters_schema(page or defaults["page"], page_size or defaults["page_size"],
                                               max_page_size or defaults["max_page_size"])
        error_status = self.PAGINATION_ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS

        def decorate(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                page_params = self.PAGINATION_ARGUMENTS_PARSER.parse(params_schema, request, location="query")
                if pager is None:
                    kwargs["pagination_parameters"] = page_params
                result, status, headers = unpack_tuple_response(current_app.ensure_sync(view)(*args, **kwargs))
                if pager is not None:
                    result = pager(result, page_params=page_params).items
                if page_params.item_count is None:
                    raise RuntimeError(f"{request.endpoint} paged itself but set no item_count")
                return page_body(result, page_params), status, headers

            wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))  # type: ignore[attr-defined]
            wrapper._apidoc["pagination"] = {  # type: ignore[attr-defined]  # documented by flask-smorest
                "parameters": {"in": "query", "schema": params_schema},
                "response": {error_status: http.HTTPStatus(error_status).name},
            }
            return wrapper  # type: ignore[return-value]

        return decorate

    def _document_pagination_metadata(self, spec: Any, resp_doc: Any) -> None:
        """No ``X-Pagination`` header: the page's metadata is part of the documented body."""


def page_body(result: Any, page_params: PaginationParameters) -> Any:
    """The page as the API answers it: the rows become ``items``; a dict keeps its keys (``items`` and what
    the view adds, such as ``more``); another object (the dashboard's table) is dumped with the metadata
    beside it."""
    meta = {"total": page_params.item_count, "page": page_params.page, "per_page": page_params.page_size}
    if isinstance(result, dict):
        return {**result, **meta}
    if isinstance(result, Iterable):
        return {"items": result, **meta}
    return Beside(result, **meta)


def page_parameters_schema(first: int, size: int, max_size: int) -> type[ma.Schema]:
    """``page`` and ``per_page`` (bounded: a huge page number is 422, not an OFFSET overflow)."""

    class PageParameters(ma.Schema):
        class Meta:
            unknown = ma.EXCLUDE  # the view's own query schema judges the other parameters

        page = ma.fields.Integer(load_default=first, validate=ma.validate.Range(min=1, max=MAX_COUNT))
        page_size = ma.fields.Integer(data_key="per_page", load_default=size,
                                      validate=ma.validate.Range(min=1, max=max_size))

        @ma.post_load
        def make_parameters(self, data: dict[str, int], **_: Any) -> PaginationParameters:
            return PaginationParameters(data["page"], data["page_size"])

    return PageParameters


def page_of(item: type[ma.Schema] | ma.Schema, name: str, **fields: ma.fields.Field) -> type[ma.Schema]:
    """The response schema of a page of ``item`` as ``paginate`` answers it: ``items``, ``total``, ``page``,
    ``per_page``. ``name`` is its component in the OpenAPI document; ``fields`` add to it or replace one
    (a list counted only up to a cap describes its ``total`` and adds ``more``)."""
    meta = {"total": ma.fields.Integer(), "page": ma.fields.Integer(), "per_page": ma.fields.Integer()}
    return list_of(item, name, **{**meta, **fields})


def list_of(item: type[ma.Schema] | ma.Schema, name: str, **fields: ma.fields.Field) -> type[ma.Schema]:
    """The response schema of a whole (unpaged) list of ``item``: ``{"items": [...]}``, with ``fields``."""
    return ma.Schema.from_dict({"items": ma.fields.List(ma.fields.Nested(item)), **fields}, name=name)


def count_of(stmt: sa.Select[Any]) -> int:
    """How many rows the select answers (its ORDER BY dropped: the count does not need it)."""
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0)


def page_rows(stmt: sa.Select[Any], page_params: PaginationParameters, *, total: int | None = None,
              unique: bool = False) -> list[Any]:
    """The page's rows of the select, for a view that pages itself: sets ``item_count`` (``total`` when the
    view counted otherwise, e.g. over a cheaper select or up to a cap, else one COUNT over the select), then
    fetches the page with OFFSET/LIMIT. ``unique`` for a select that joins a collection eagerly."""
    page_params.item_count = count_of(stmt) if total is None else total
    result = db.session.scalars(stmt.offset(page_params.first_item).limit(page_params.page_size))
    return list(result.unique() if unique else result)


class ObjectOut(ma.Schema):
    """An ``*Out`` schema that dumps a model object as it is. ``computed`` names the fields worked out from
    the object (a related row's name, "overdue now"); each keeps its declared type in the document, which a
    ``fields.Function`` would lose. A computation returning ``marshmallow.missing`` leaves its key out. A
    mapping is read as it is: a view that had to cut a value (need to know) passes the cut row."""

    computed: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        compute = None if isinstance(obj, Mapping) else self.computed.get(attr)
        return compute(obj) if compute is not None else super().get_attribute(obj, attr, default)


class Beside:
    """An object and a few values beside it, which its ``*Out`` schema dumps as if they were the object's own
    attributes: what an operation answers along with the row (an enrolment and the duty cycles its end
    cancelled, a draft and whether its files' content is shown). Any other attribute is the object's."""

    def __init__(self, obj: Any, **values: Any) -> None:
        self._obj = obj
        self._values = values

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__["_values"]
        return values[name] if name in values else getattr(self.__dict__["_obj"], name)


class Instant(ma.fields.DateTime):
    """A deadline as the exact instant it is: ISO 8601 in county time with its offset
    (``2026-11-01T00:00:00+08:00``, ``2026-03-12T17:30:00+08:00``), so a person reads the midnight or the
    17:30 the policy names and a client's parser gets the same instant UTC would give (``clock.instant``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else instant(value)


class SelectPage(Page):  # type: ignore[misc]
    """A page of a SQLAlchemy select: one COUNT over it, then the rows with OFFSET/LIMIT."""

    @property
    def items(self) -> list[Any]:
        stmt = self.collection.offset(self.page_params.first_item).limit(self.page_params.page_size)
        return list(db.session.scalars(stmt))

    @property
    def item_count(self) -> int:
        return count_of(self.collection)


class PeekPage(SelectPage):
    """A page of a select that is never counted: the rows are fetched with one more than the page holds,
    which says whether a next page exists (``more``). For lists that grow without end, such as the audit
    log, where a COUNT over every matching row would cost more than the page itself."""

    def __init__(self, collection: sa.Select[Any], page_params: PaginationParameters) -> None:
        self._rows: list[Any] | None = None
        super().__init__(collection, page_params)

    def _fetched(self) -> list[Any]:
        if self._rows is None:
            stmt = self.collection.offset(self.page_params.first_item).limit(self.page_params.page_size + 1)
            self._rows = list(db.session.scalars(stmt))
        return self._rows

    @property
    def items(self) -> list[Any]:
        return self._fetched()[:self.page_params.page_size]

    @property
    def more(self) -> bool:
        return len(self._fetched()) > self.page_params.page_size

    @property
    def item_count(self) -> int | None:  # type: ignore[override]
        """Unknown (flask-smorest's ``None``): the rows are not counted."""
        return None


def _in_one_transaction(view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run the view (and the serialisation inside it); commit when it answers below 400, else roll back."""
    try:
        result = view(*args, **kwargs)
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict("the case changed while you were working on it; reload and try again") from exc
    except BaseException:
        db.session.rollback()
        raise
    status = getattr(result, "status_code", None)
    if status is None:
        status = unpack_tuple_response(result)[1] or 200
    if status >= 400:
        db.session.rollback()
        return result
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict("the case changed while you were working on it; reload and try again") from exc
    return result
