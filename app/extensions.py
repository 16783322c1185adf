"""Extensions, created unbound; ``create_app`` binds them (no import-time side effects)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flask import current_app, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
if TYPE_CHECKING:
    # mypy cannot use the attribute ``db.Model`` as a base class; it is ``Base`` plus table-name
    # defaults, so models name ``Model`` and type-check against the declarative base.
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
"""Only the routes that ask for a limit are limited (login, by ``rate_limited``); storage is chosen in ``create_app``."""

View = TypeVar("View", bound=Callable[..., Any])
LIMITED_VIEWS: set[Callable[..., Any]] = set()
"""The views ``rate_limited`` wrapped: the only requests the limiter looks at (``_not_limited``)."""


def rate_limited(*args: Any, **kwargs: Any) -> Callable[[View], View]:
    """``limiter.limit`` on a view (same arguments), marking the view as one the limiter must look at.

    Flask-Limiter also checks every other request before its view, looking for default, application and blueprint
    limits, of which there are none: 146 Python calls a request for nothing (bench/README.md, session 18). A view
    limited with ``limiter.limit`` directly would be skipped: ``tests/org/test_rate_limited.py`` refuses that."""
    decorate = limiter.limit(*args, **kwargs)

    def wrap(view: View) -> View:
        limited = decorate(view)
        LIMITED_VIEWS.add(limited)
        return cast(View, limited)  # flask-limiter types its wrapper loosely; it wraps ``view`` (functools.wraps)

    return wrap


@limiter.request_filter
def _not_limited() -> bool:
    """True (exempt: the limiter does nothing more) unless the request's view is one ``rate_limited`` wrapped."""
    return current_app.view_functions.get(request.endpoint or "") not in LIMITED_VIEWS
