"""Typed settings, read once by ``create_app`` from the environment.

Defaults are the embedded pilot setup: a SQLite file under ``instance/``,
no Redis (jobs run inline), Asia/Shanghai.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _database_url(raw: str | None, instance: Path) -> str:
    if not raw:
        return f"sqlite:///{instance / 'liandong.db'}"
    # psycopg 3 is the driver we ship; accept the plain libpq-style URL operators use.
    for prefix in ("postgresql://", "postgres://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _secret_key(instance: Path) -> str:
    """A per-installation key kept in ``instance/`` (never in the repo) unless set in the env."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass
class Settings:
    database_url: str
    secret_key: str
    redis_url: str | None = None
    county_timezone: str = "Asia/Shanghai"
    bpmn_dir: Path = ROOT / "bpmn"
    forms_dir: Path = ROOT / "forms"
    instance_dir: Path = ROOT / "instance"
    script_step_budget: int = 100_000
    script_time_budget: float = 2.0
    engine_cpu_seconds: int = 20
    """Backstop per engine command (all its scripts together): CPU seconds (docs/security.md)."""
    engine_wall_seconds: float = 30.0
    engine_memory_mb: int = 512
    engine_backstop: bool = True
    """Run engine commands in a limited child process (``LIANDONG_ENGINE_BACKSTOP=0`` only to measure or debug)."""
    """Memory an engine command may add to the process; over it the command fails with a clear error."""
    token_ttl_days: int = 30
    """Default lifetime of a new bearer token (``flask users token --days`` may ask for another)."""
    token_max_days: int = 365
    """No token lives longer than this, whatever its creator asks for."""
    session_idle_minutes: int = 30
    """A browser session unused this long ends (docs/security.md: Sessions and tokens)."""
    session_max_hours: int = 12
    """A browser session ends this long after sign-in, however busy (one working day)."""
    testing: bool = False
    secure_cookies: bool = True
    """Session cookie ``Secure`` flag; always off in debug and tests (plain http on 127.0.0.1)."""
    login_limit_per_attempt: str = "5 per minute; 10 per 15 minutes; 20 per hour; 40 per day"
    """Failed sign-ins of one account from one address: each tier breached makes the wait longer."""
    login_limit_per_account: str = "30 per hour; 100 per day"
    """Failed sign-ins of one account from everywhere, except from a browser it signed in on before."""
    login_limit_per_address: str = "30 per minute; 300 per hour"
    """Failed sign-ins from one address, whichever accounts (password spraying)."""
    token_failure_limit: str = "30 per minute; 300 per hour"
    """Refused bearer tokens from one address before the API answers 429."""
    attachment_max_bytes: int = 10 * 1024 * 1024
    smtp_host: str | None = None
    """No host: mails wait in the outbox (the embedded pilot may have no mail server)."""
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "liandong@localhost"
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    digest_time: str = "08:30"
    """County-local time after which the daily digests of a working day are sent."""
    sweep_interval: int = 30
    """Seconds between deadline sweeps (RQ cron, or the in-process loop without Redis)."""
    duplicate_report_minutes: int = 10
    """A report without an idempotency key that repeats one the same person filed this many minutes ago
    about the same child is held as a possible duplicate (0: never)."""
    inline_loop: bool = False
    """Start the in-process sweep thread (no Redis). ``make run`` sets it; tests never do."""
    ready_sweep_lag: int = 300
    """Seconds since the last sweep after which ``/readyz`` answers 503 (the cron or the workers stalled)."""
    ready_outbox_backlog: int = 500
    """Unsent mails older than ``ready_outbox_age`` seconds after which ``/readyz`` answers 503."""
    ready_outbox_age: int = 600
    proxy_hops: int = 0
    """Reverse proxies in front of the app that append to ``X-Forwarded-For`` (``LIANDONG_PROXY_HOPS``). 0: the
    peer address is the client (audit rows and rate limits see it); 1 behind one nginx. Never more than there
    are: a client could then choose the address it is counted under."""
    db_application_name: str = "liandong"
    """PostgreSQL ``application_name`` of every connection (``LIANDONG_DB_APPLICATION_NAME``)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, overrides: dict[str, Any] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        overrides = dict(overrides or {})
        instance = Path(overrides.pop("instance_dir", env.get("LIANDONG_INSTANCE_DIR", ROOT / "instance")))
        values: dict[str, Any] = {
            "database_url": _database_url(env.get("DATABASE_URL"), instance),
            "redis_url": env.get("REDIS_URL") or None,
            "county_timezone": env.get("LIANDONG_TIMEZONE", "Asia/Shanghai"),
            "instance_dir": instance,
            "secure_cookies": env.get("LIANDONG_SECURE_COOKIES", "1") not in ("0", "false", "no"),
            **_mail_and_sweep_settings(env),
        }
        if "secret_key" not in overrides:
            values["secret_key"] = env.get("LIANDONG_SECRET_KEY") or _secret_key(instance)
        values.update(overrides)
        if "database_url" in overrides:
            values["database_url"] = _database_url(overrides["database_url"], instance)
        return cls(**values)


def _flag(raw: str | None, default: bool = False) -> bool:
    return default if raw is None or raw == "" else raw.strip().lower() in ("1", "true", "yes", "on")


def _mail_and_sweep_settings(env: dict[str, str]) -> dict[str, Any]:
    """LIANDONG_SMTP_*, the sweep's settings (docs/deadlines-and-escalation.md), session and token lifetimes."""
    values: dict[str, Any] = {
        "smtp_host": env.get("LIANDONG_SMTP_HOST") or None,
        "smtp_user": env.get("LIANDONG_SMTP_USER") or None,
        "smtp_password": env.get("LIANDONG_SMTP_PASSWORD") or None,
        "smtp_starttls": _flag(env.get("LIANDONG_SMTP_STARTTLS")),
        "inline_loop": _flag(env.get("LIANDONG_INLINE_LOOP")),
    }
    if env.get("LIANDONG_ENGINE_BACKSTOP"):
        values["engine_backstop"] = _flag(env["LIANDONG_ENGINE_BACKSTOP"])
    for name, cast in (("engine_cpu_seconds", int), ("engine_wall_seconds", float), ("engine_memory_mb", int)):
        raw = env.get(f"LIANDONG_{name.upper()}")
        if raw:
            values[name] = cast(raw)
    if env.get("LIANDONG_SMTP_PORT"):
        values["smtp_port"] = int(env["LIANDONG_SMTP_PORT"])
    if env.get("LIANDONG_SMTP_FROM"):
        values["smtp_from"] = env["LIANDONG_SMTP_FROM"]
    if env.get("LIANDONG_DIGEST_TIME"):
        values["digest_time"] = env["LIANDONG_DIGEST_TIME"]
    for name, key in (("LIANDONG_TOKEN_TTL_DAYS", "token_ttl_days"), ("LIANDONG_TOKEN_MAX_DAYS", "token_max_days"),
                      ("LIANDONG_SESSION_IDLE_MINUTES", "session_idle_minutes"),
                      ("LIANDONG_SESSION_MAX_HOURS", "session_max_hours")):
        if env.get(name):
            values[key] = max(1, int(env[name]))
    if env.get("LIANDONG_DUPLICATE_REPORT_MINUTES"):
        values["duplicate_report_minutes"] = max(0, int(env["LIANDONG_DUPLICATE_REPORT_MINUTES"]))
    if env.get("LIANDONG_SWEEP_INTERVAL"):
        values["sweep_interval"] = max(1, int(env["LIANDONG_SWEEP_INTERVAL"]))
    if env.get("LIANDONG_PROXY_HOPS"):
        values["proxy_hops"] = max(0, int(env["LIANDONG_PROXY_HOPS"]))
    if env.get("LIANDONG_DB_APPLICATION_NAME"):
        values["db_application_name"] = env["LIANDONG_DB_APPLICATION_NAME"][:60]
    for name in ("ready_sweep_lag", "ready_outbox_backlog", "ready_outbox_age"):
        if env.get(f"LIANDONG_{name.upper()}"):
            values[name] = max(1, int(env[f"LIANDONG_{name.upper()}"]))
    return values
