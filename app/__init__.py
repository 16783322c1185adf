"""Liandong (联动): case coordination for county child-protection work.

``create_app`` is the only place configuration is read. It is also the composition root: it imports every
package's blueprints, CLI groups, receivers and hooks *inside* the factory (each block says
``# deferred: factory``), because importing any ``app.*`` module runs this file first, and a test, a
worker or ``tools/layering.py`` importing ``app.engine`` must not load the whole web app with it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .common.clock import SystemClock
from .config import ROOT, Settings


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL + busy timeout so the embedded default tolerates a worker and the web app together."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def _engine_options(settings: Settings) -> dict[str, Any]:
    """``application_name`` on PostgreSQL, so operators (and the fault tests) can find and terminate
    this installation's connections, and only them. ``hide_parameters``: a database error's message (and so
    the error log) never carries the statement's values, which may be a child's name or a narrative.
    A pooled PostgreSQL connection is checked at checkout without a round trip (``app.common.connections``)
    instead of SQLAlchemy's ``pool_pre_ping``, which sent one more per request."""
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if settings.database_url.startswith("postgresql"):
        options["connect_args"] = {"application_name": settings.db_application_name}
        options["pool_pre_ping"] = False
    return options


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    settings = Settings.from_env(overrides=overrides)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(
        LIANDONG=settings,
        SECRET_KEY=settings.secret_key.get_secret_value(),
        TESTING=settings.testing,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
        API_TITLE="Liandong API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    if settings.database_url.startswith("sqlite:///"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app.extensions["liandong.clock"] = settings.extra.get("clock") or SystemClock()
    _register_observability(app, settings)
    _trust_proxies(app, settings)
    _configure_backstop(settings)

    # deferred: factory (module docstring)
    from .common.api import BEARER_RESOLVER, api
    from .common.inputs import BoundedIntConverter, BoundedJSONProvider
    from .common.scopes import SERVICE_SECURITY_SCHEME
    from .common.scopes import security_scheme as service_security_scheme
    from .extensions import csrf, db, login_manager, migrate
    from .org.bearer import bearer_user

    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    app.json = BoundedJSONProvider(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    # deferred: factory (module docstring)
    from .org.sessions import load_session_user

    login_manager.user_loader(load_session_user)
    csrf.init_app(app)
    api.init_app(app)
    app.extensions[BEARER_RESOLVER] = bearer_user
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(SERVICE_SECURITY_SCHEME, service_security_scheme())

    # deferred: factory (module docstring)
    from .common.connections import check_on_checkout

    check_on_checkout()
    if not getattr(Engine, "_liandong_pragmas", False):
        event.listen(Engine, "connect", _sqlite_pragmas)
        Engine._liandong_pragmas = True  # type: ignore[attr-defined]

    _register_models()
    _connect_events()
    _register_api(app)
    _register_cli(app)
    _register_pages(app, settings)
    _register_deadlines(app, settings)
    _register_webhooks(app)
    return app


def _register_models() -> None:
    """Import ``app.<package>.models`` for every package that has one, so SQLAlchemy knows every table.

    Each package keeps its tables in its own ``models.py`` (``tests/test_models_registry.py`` holds every
    mapped class to that), so a new package's tables are registered without editing a list here, and
    migrations (``flask db``) and the schema test see the same metadata as the running app. Package
    ``__init__`` files stay free of import side effects, so finding a ``models`` module loads nothing else.
    """
    for package in pkgutil.iter_modules(__path__):
        name = f"{__name__}.{package.name}.models"
        if package.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def _register_api(app: Flask) -> None:
    # deferred: factory (module docstring)
    from .cases.api import blp as cases_blp
    from .cases.findings_api import blp as findings_blp
    from .cases.record_api import blp as court_record_blp
    from .common.api import api, authenticate_first, domain_error_response
    from .common.dialect import end_reads_outside_transaction
    from .common.errors import DomainError
    from .common.inputs import check_request_text
    from .conferences.api import blp as conferences_blp
    from .conferences.hooks import STEPS_WITHOUT_UNIT_BASIS
    from .conferences.hooks import connect as connect_conference_hooks
    from .deadlines.hooks import connect as connect_deadline_hooks
    from .duties.api import blp as duties_blp
    from .duties.roster_api import blp as roster_blp
    from .extensions import csrf
    from .notifications.api import blp as notifications_blp
    from .notifications.channel_api import blp as channels_api_blp
    from .org.api import blp as org_blp
    from .org.lookup_api import blp as lookups_blp
    from .org.service_api import blp as service_accounts_blp
    from .org.service_api import oauth_blp
    from .processes.api import blp as processes_blp
    from .tasks.api import blp as tasks_blp
    from .tasks.hooks import connect as connect_task_hooks
    from .tasks.saved_api import blp as saved_views_blp
    from .workflow import api as _completion_api  # noqa: F401  (adds POST /api/v1/tasks/<id>/complete to tasks_blp)

    connect_task_hooks(steps_without_basis=STEPS_WITHOUT_UNIT_BASIS)
    connect_conference_hooks()
    connect_deadline_hooks()
    for blp in (cases_blp, tasks_blp, org_blp, processes_blp, conferences_blp, duties_blp, roster_blp,
                court_record_blp, notifications_blp, lookups_blp, findings_blp, saved_views_blp, service_accounts_blp,
                oauth_blp):
        csrf.exempt(blp)  # bearer tokens, never cookies, authenticate the API
        api.register_blueprint(blp)
    csrf.exempt(channels_api_blp)
    api.register_blueprint(channels_api_blp)
    app.register_error_handler(DomainError, domain_error_response)
    app.before_request(authenticate_first)
    app.before_request(check_request_text)  # after authentication: 401 before any 4xx about the body
    app.teardown_request(end_reads_outside_transaction)

    # deferred: factory (module docstring)
    from .home import blp as home_blp

    app.register_blueprint(home_blp)


def _connect_events() -> None:
    """Subscribe each package to the domain events it reacts to (``app.common.events``), once per app."""
    # deferred: factory (module docstring)
    from .cases.receivers import connect as connect_cases
    from .deadlines.receivers import connect as connect_deadlines
    from .duties.receivers import connect as connect_duties
    from .tasks.receivers import connect as connect_tasks
    from .webhooks.receivers import connect as connect_webhooks
    from .workflow.receivers import connect as connect_workflow

    connect_cases()
    connect_deadlines()
    connect_workflow()
    connect_duties()
    connect_tasks()
    connect_webhooks()


def _register_pages(app: Flask, settings: Settings) -> None:
    """Browser pages: session login, CSRF, languages, rate limits, cookie flags (docs/web.md)."""
    # deferred: factory (module docstring)
    from .common import i18n, offline, pages
    from .extensions import limiter, login_manager

    app.config.update(
        SESSION_COOKIE_SECURE=settings.secure_cookies and not (app.debug or settings.testing),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.secure_cookies and not (app.debug or settings.testing),
        MAX_CONTENT_LENGTH=settings.attachment_max_bytes + 1024 * 1024,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_KEY_PREFIX="liandong",
        # Redis down or hanging must not stop sign-in: short timeouts, then count in memory (logged)
        # until Redis answers again; an error after the check is logged, never a 500.
        RATELIMIT_STORAGE_OPTIONS=({"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
                                   if settings.redis_url else {}),
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_FAIL_ON_FIRST_BREACH=False,  # every tier is checked: Retry-After is the longest wait
    )
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    limiter.init_app(app)
    i18n.init_app(app)
    pages.init_app(app)
    offline.init_app(app)
    # deferred: factory (module docstring)
    from .cases.timeline_text import timeline_text
    from .org import jurisdiction
    from .org.labels import department_name

    jurisdiction.init_app(app)  # administrators' refusals audited after their request rolled back

    # Globals from packages above common (common.i18n registers only its own).
    app.jinja_env.globals.update(department_name=department_name, timeline_text=timeline_text)

    # deferred: factory (module docstring)
    from .cases import findings_views as _findings  # noqa: F401  (adds late reports and findings to workspace_blp)
    from .cases import record_views as _court_record  # noqa: F401  (adds the court-ready record to workspace_blp)
    from .cases.views import blp as workspace_blp
    from .conferences.views import blp as conferencing_blp
    from .duties.cycle_views import blp as duty_pages_blp
    from .duties.roster_views import blp as roster_pages_blp
    from .notifications.channel_views import blp as channels_blp
    from .notifications.views import blp as alerts_blp
    from .org.absence_views import blp as absence_blp
    from .org.admin_views import blp as admin_blp
    from .org.service_views import blp as service_accounts_pages_blp
    from .org.views import blp as auth_blp
    from .pwa.views import blp as pwa_blp
    from .tasks.views import blp as inbox_blp
    from .workflow import views as _completion_page  # noqa: F401  (adds POST /tasks/<id>/complete to inbox_blp)

    for blp in (auth_blp, admin_blp, absence_blp, inbox_blp, workspace_blp, alerts_blp, conferencing_blp, pwa_blp,
                roster_pages_blp, duty_pages_blp, service_accounts_pages_blp):
        app.register_blueprint(blp)
    app.register_blueprint(channels_blp)
    # deferred: factory (module docstring)
    from .designer.views import blp as designer_blp

    app.register_blueprint(designer_blp)
    # deferred: factory (module docstring)
    from .audit import views as audit_views
    from .cases.queries import CASE_INDEX

    audit_views.init_app(app, cases=CASE_INDEX)


def _register_cli(app: Flask) -> None:
    # deferred: factory (module docstring)
    from .cli import demo_cli, processes_cli, reports_cli, settings_cli, tasks_cli, users_cli

    for group in (demo_cli, users_cli, processes_cli, reports_cli, tasks_cli, settings_cli):
        app.cli.add_command(group)
    # deferred: factory (module docstring)
    from .duties.cli import duties_cli

    app.cli.add_command(duties_cli)
    # deferred: factory (module docstring)
    from .org.cli import org_cli, service_accounts_cli

    app.cli.add_command(service_accounts_cli)
    app.cli.add_command(org_cli)
    # deferred: factory (module docstring)
    from .backup.cli import backup_cli

    app.cli.add_command(backup_cli)


def _register_deadlines(app: Flask, settings: Settings) -> None:
    """Calendar, ladders, escalations, the coordinator dashboard, workers (docs/deadlines-and-escalation.md)."""
    # deferred: factory (module docstring)
    from workers.api import blp as jobs_blp
    from workers.cli import COMMANDS as worker_commands
    from workers.outbox import connect as connect_redis
    from workers.outbox import hand_over

    # deferred: factory (module docstring)
    from .common.api import api
    from .dashboard.api import blp as dashboard_api_blp
    from .dashboard.views import blp as dashboard_blp
    from .deadlines.cli import COMMANDS as deadline_commands
    from .extensions import csrf
    from .notifications import dispatch

    for blp in (dashboard_api_blp, jobs_blp):
        csrf.exempt(blp)
        api.register_blueprint(blp)
    app.register_blueprint(dashboard_blp)
    for command in (*deadline_commands, *worker_commands):
        app.cli.add_command(command)
    dispatch.init_app(connect_redis, hand_over)
    if settings.inline_loop and not settings.redis_url:
        # deferred: factory (module docstring)
        from workers.loop import start_inline_loop

        start_inline_loop(app)


def _register_webhooks(app: Flask) -> None:
    """Webhooks out (docs/api.md, "Webhooks"): admin API and pages, ``flask webhooks``, the hand-over to RQ."""
    # deferred: factory (module docstring)
    from workers.outbox import connect as connect_redis
    from workers.outbox import hand_over_webhooks

    # deferred: factory (module docstring)
    from .common.api import api
    from .extensions import csrf
    from .webhooks import outbox
    from .webhooks.api import blp as api_blp
    from .webhooks.cli import webhooks_cli
    from .webhooks.views import blp as pages_blp

    csrf.exempt(api_blp)
    api.register_blueprint(api_blp)
    app.register_blueprint(pages_blp)
    app.cli.add_command(webhooks_cli)
    outbox.init_app(connect_redis, hand_over_webhooks)


def _trust_proxies(app: Flask, settings: Settings) -> None:
    """Behind ``proxy_hops`` reverse proxies the client is the address the last of them appended to
    ``X-Forwarded-For`` (werkzeug's ProxyFix), so audit rows and the login and token rate limits see it, not
    the proxy. Without the setting the header is ignored: anyone could write it. ``X-Forwarded-Proto`` is
    trusted as far (the Secure cookie and external URLs); ``X-Forwarded-Host`` never (the proxy passes Host)."""
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.proxy_hops, x_host=0, x_port=0, x_prefix=0)


def _configure_backstop(settings: Settings) -> None:
    """The engine's process-level limits and the sandbox's budgets are per process; the last app created sets them."""
    # deferred: factory (module docstring)
    from app.engine.isolation import Backstop, configure
    from app.engine.sandbox import configure_budgets

    configure_budgets(settings.script_step_budget, settings.script_time_budget)  # before any engine child forks
    configure(Backstop(cpu_seconds=settings.engine_cpu_seconds, wall_seconds=settings.engine_wall_seconds,
                       memory_mb=settings.engine_memory_mb, enabled=settings.engine_backstop and Backstop.enabled,
                       fast_lane=settings.engine_fast_lane))


def _register_observability(app: Flask, settings: Settings) -> None:
    """JSON logs with request/user/job ids, Prometheus metrics at /metrics, Sentry (docs/operations.md)."""
    # deferred: factory (module docstring)
    from .common import logs, metrics, sentry
    from .dashboard.metrics_views import blp as metrics_blp

    logs.init_app(app, settings)
    sentry.init(settings)
    metrics.init_app(app)
    app.register_blueprint(metrics_blp)
