"""Typed settings, read once by ``create_app`` from the environment (docs/settings.md lists them all).

Defaults are the embedded pilot setup: a SQLite file under ``instance/``, no Redis (jobs run inline),
Asia/Shanghai. pydantic-settings reads and validates every variable in one place: a wrong value stops
the process at start with one line naming the variable, instead of a 500 (or a silently different
behaviour) on the first request that needs it. Secrets are ``SecretStr``: their ``repr``, the start-up
error and ``flask settings show`` print ``**********``, never the value.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.secret_key_file import installation_secret_key

ROOT = Path(__file__).resolve().parent.parent

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Network = IPv4Network | IPv6Network
ENV_PREFIX = "LIANDONG_"


def env_name(name: str, info: FieldInfo) -> str:
    """The variable a field is read from: its first alias, else ``LIANDONG_`` + the upper-case name."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return ENV_PREFIX + name.upper()


def mask_url(url: str) -> str:
    """``postgresql://user:***@host/db``: the password of a URL never reaches a log or a terminal."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


class SettingsError(SystemExit):
    """A setting is wrong: the process stops before serving anything, with one line naming the variable.

    A ``SystemExit`` so that ``flask``, ``gunicorn`` and ``flask worker`` all end with that line and exit
    status 1 rather than a traceback (or, under gunicorn, a worker respawn loop)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting of a Liandong process. Env name: ``LIANDONG_`` + the upper-case field name, except
    where the field says otherwise (``DATABASE_URL``, ``REDIS_URL``, ``SENTRY_DSN``, ...)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", validate_by_name=True,
        validate_by_alias=True, use_attribute_docstrings=True, validate_default=True,
    )

    # -- storage ------------------------------------------------------------------------------------
    database_url: str = Field("", repr=False, validation_alias=_alias("DATABASE_URL", "database_url"))
    """SQLAlchemy URL; ``postgresql://`` is read as psycopg 3. Empty: SQLite file ``instance/liandong.db``."""
    redis_url: str | None = Field(None, repr=False, validation_alias=_alias("REDIS_URL", "redis_url"))
    """Redis for RQ queues, the cron and rate limits. Empty: jobs run inline, the sweep in-process."""
    instance_dir: Path = ROOT / "instance"
    """Writable folder: SQLite file, the generated secret key, metrics files."""
    db_application_name: str = "liandong"
    """PostgreSQL ``application_name`` of every connection (operators find this installation's ones)."""
    bpmn_dir: Path = ROOT / "bpmn"
    """Shipped process definitions."""
    forms_dir: Path = ROOT / "forms"
    """Shipped JSON Schema forms."""

    # -- security -----------------------------------------------------------------------------------
    secret_key: SecretStr = Field(SecretStr(""), repr=False)
    """Signs sessions and CSRF tokens. Empty: a random key kept in ``instance/secret_key`` (mode 0600)."""
    encryption_keys: SecretStr = Field(SecretStr(""), repr=False)
    """Fernet keys, comma-separated, newest first, sealing the secrets kept to sign with (webhook subscribers' and
    work-chat robots'): the first seals, every one opens (rotation: docs/api.md). Empty: one key derived from the
    secret key."""
    secure_cookies: bool = True
    """Session cookie ``Secure`` flag; always off in debug and tests (plain http on 127.0.0.1)."""
    token_ttl_days: PositiveInt = 30
    """Default lifetime of a new bearer token (``flask users token --days`` may ask for another)."""
    token_max_days: PositiveInt = 365
    """No token lives longer than this, whatever its creator asks for."""
    session_idle_minutes: PositiveInt = 30
    """A browser session unused this long ends (docs/security.md: Sessions and tokens)."""
    session_max_hours: PositiveInt = 12
    """A browser session ends this long after sign-in, however busy (one working day)."""
    login_limit_per_attempt: str = "5 per minute; 10 per 15 minutes; 20 per hour; 40 per day"
    """Failed sign-ins of one account from one address: each tier breached makes the wait longer."""
    login_limit_per_account: str = "30 per hour; 100 per day"
    """Failed sign-ins of one account from everywhere, except from a browser it signed in on before."""
    login_limit_per_address: str = "30 per minute; 300 per hour"
    """Failed sign-ins from one address, whichever accounts (password spraying)."""
    token_failure_limit: str = "30 per minute; 300 per hour"
    """Refused bearer tokens from one address before the API answers 429."""
    attachment_max_bytes: PositiveInt = 10 * 1024 * 1024
    """Largest task attachment accepted."""
    roster_max_bytes: PositiveInt = 20 * 1024 * 1024
    """Largest roster (XLSX ledger of children) accepted for import; its unpacked size may be 10 times this."""
    roster_max_rows: PositiveInt = 50_000
    """Most rows one roster import takes (a county has tens of thousands of children at most)."""

    # -- engine -------------------------------------------------------------------------------------
    script_step_budget: PositiveInt = 100_000
    """Steps one BPMN script or expression may take (the sandbox's budget)."""
    script_time_budget: PositiveFloat = 2.0
    """CPU seconds (of the thread running it) one BPMN script or expression may take; a busy machine does not shorten it."""
    engine_backstop: bool = True
    """Run engine commands in a limited child process (``0`` only to measure or debug)."""
    engine_cpu_seconds: PositiveInt = 20
    """Backstop per engine command (all its scripts together): CPU seconds (docs/security.md)."""
    engine_wall_seconds: PositiveFloat = 30.0
    """Backstop per engine command: wall-clock seconds."""
    engine_memory_mb: PositiveInt = 512
    """Memory an engine command may add to the process; over it the command fails with a clear error."""
    engine_fast_lane: bool = True
    """Run commands of provably bounded process versions in the calling process, not a worker (``0``: always the pool)."""

    # -- county, deadlines, mail --------------------------------------------------------------------
    county_timezone: str = Field("Asia/Shanghai", validation_alias=_alias("LIANDONG_TIMEZONE", "county_timezone"))
    """IANA zone in which deadlines, working days and digests are counted."""
    digest_time: str = "08:30"
    """County-local time (HH:MM) after which the daily digests of a working day are sent."""
    sweep_interval: PositiveInt = 30
    """Seconds between deadline sweeps (RQ cron, or the in-process loop without Redis)."""
    sweep_connections: int = Field(2, ge=1, le=16)
    """Database connections (threads) that drain one inline sweep's due tasks in parallel on PostgreSQL, once
    more than one batch is due (SQLite: always one). About the number of the database server's cores."""
    duplicate_report_minutes: int = Field(10, ge=0)
    """A report without an idempotency key that repeats one the same person filed this many minutes ago
    about the same child is held as a possible duplicate (0: never)."""
    late_report_hours: int = Field(24, ge=1, le=720)
    """A mandatory reporter's report filed more than this many hours after the reporter learned of the situation
    is flagged late (the policy's "at the first moment", 第一时间). A county overrides it: ``flask settings
    county late_report_hours HOURS --county CODE`` (the overrides are listed below the table)."""
    inline_loop: bool = False
    """Start the in-process sweep thread (no Redis). ``make run`` sets it; tests never do."""
    smtp_host: str | None = None
    """No host: mails wait in the outbox (the embedded pilot may have no mail server)."""
    smtp_port: int = Field(25, gt=0, lt=65536)
    """SMTP server port."""
    smtp_user: str | None = None
    """SMTP login; none: no AUTH."""
    smtp_password: SecretStr | None = Field(None, repr=False)
    """SMTP password."""
    smtp_from: str = "liandong@localhost"
    """Sender address of every mail."""
    smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS."""
    smtp_timeout: PositiveFloat = 10.0
    """Seconds to wait for the SMTP server."""
    public_url: str = ""
    """Base of the links in messages that leave the app (webhooks, SMS, work chat): ``https://liandong.county.gov.cn``.
    Empty: links are paths (``/cases/12``) the receiver puts after the address it knows."""
    webhook_timeout: PositiveFloat = 10.0
    """Seconds a webhook receiver has to answer one delivery attempt before it counts as failed."""
    webhook_allowed_networks: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    """Comma-separated networks a webhook subscriber may be in besides public addresses (``10.8.0.0/16``: the
    county's intranet). Empty: public addresses only; loopback, private, link-local and metadata addresses are
    refused at registration and at every attempt, also when a name resolves to them."""
    sms_url: str | None = None
    """SMS gateway address (docs/notifications.md, "The two peers"). None: SMS is not offered."""
    sms_key: SecretStr | None = Field(None, repr=False)
    """Shared secret with the SMS gateway (``whsec_`` + base64): it signs every request."""
    sms_secure: bool = False
    """The SMS gateway is the county's own and may carry case titles (never on a public carrier's)."""
    chat_url_prefixes: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [
        "https://qyapi.weixin.qq.com/", "https://oapi.dingtalk.com/", "https://open.feishu.cn/"])
    """Comma-separated address prefixes a user's work-chat robot may have (the platform posts there: no others)."""
    chat_secure_prefixes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated prefixes of work-chat robots the county runs itself, which may carry case titles."""
    channel_timeout: PositiveFloat = 10.0
    """Seconds to wait for the SMS gateway or a work-chat robot."""

    # -- readiness, logs, metrics, error reports (docs/operations.md) -------------------------------
    ready_sweep_lag: PositiveInt = 300
    """Seconds since the last sweep after which ``/readyz`` answers 503 (the cron or the workers stalled)."""
    ready_outbox_backlog: PositiveInt = 500
    """Unsent mails older than ``ready_outbox_age`` seconds after which ``/readyz`` answers 503."""
    ready_outbox_age: PositiveInt = 600
    """Age in seconds from which an unsent mail counts as backlog."""
    log_format: Literal["auto", "json", "text"] = "auto"
    """``json`` (one object a line), ``text`` (for people), ``auto``: text on a terminal or in debug, else JSON."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level logged."""
    metrics_allowed_networks: Annotated[list[Network], NoDecode] = Field(
        default_factory=lambda: [ip_network("127.0.0.0/8"), ip_network("::1/128")])
    """Comma-separated networks whose requests may read ``/metrics`` without a token (empty: none)."""
    metrics_token: SecretStr | None = Field(None, repr=False)
    """Bearer token that reads ``/metrics`` from anywhere (a Prometheus outside the allowed networks)."""
    prometheus_multiproc_dir: Path | None = Field(
        None, validation_alias=_alias("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"))
    """Folder for prometheus_client's per-process files under gunicorn (deploy/gunicorn.conf.py sets it)."""
    sentry_dsn: SecretStr | None = Field(None, repr=False, validation_alias=_alias("SENTRY_DSN", "sentry_dsn"))
    """Sentry (or GlitchTip) DSN: errors of web requests and jobs are reported there. Empty: no reports."""
    sentry_environment: str = Field("production", validation_alias=_alias("SENTRY_ENVIRONMENT", "sentry_environment"))
    """Environment name shown on each Sentry report."""

    # -- web server (deploy/gunicorn.conf.py) -------------------------------------------------------
    web_bind: str = "127.0.0.1:8000"
    """Address gunicorn listens on."""
    web_workers: PositiveInt = Field(default_factory=lambda: min(max(os.cpu_count() or 1, 2), 8),
                                     json_schema_extra={"doc_default": "cores, at least 2, at most 8"})
    """gunicorn worker processes. One per core: each runs Python on one core at a time and its threads cover
    the waits for the database; 2 x cores + 1 on 2 cores cost 15-21 % more CPU per completion (bench/README.md)."""
    web_threads: PositiveInt = 4
    """Threads per gunicorn worker."""
    web_timeout: PositiveInt = 30
    """Seconds after which a request's worker is killed and replaced."""
    web_graceful_timeout: PositiveInt = 20
    """Seconds gunicorn lets requests in flight finish on SIGTERM."""
    web_max_requests: int = Field(20000, ge=0)
    """Requests after which a gunicorn worker is recycled (0: never). A new worker spends 3-4 CPU-seconds importing and
    building the app (then warms its caches): at 2000 that was ~1.7 ms of every request, at 20000 a tenth of it."""
    web_access_log: str = "-"
    """gunicorn access log file (``-``: stderr; ``off`` or empty: no access log)."""
    web_log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    """gunicorn's own log level."""
    proxy_hops: int = Field(0, ge=0)
    """Reverse proxies in front of the app that append to ``X-Forwarded-For``. 0: the peer address is the
    client (audit rows and rate limits see it); 1 behind one nginx. Never more than there are: a client
    could then choose the address it is counted under."""
    web_forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-* headers gunicorn trusts."""

    testing: bool = False
    """Tests only: the app under pytest."""

    _extra: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def extra(self) -> dict[str, Any]:
        """Objects a test hands to the app (a fixed clock); never read from the environment."""
        return self._extra

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment (or the mapping :meth:`from_env` was given); no ``.env`` file."""
        return init_settings, _MappingEnvSource(settings_cls)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, raw: str) -> str:
        if not raw:
            return ""
        for prefix in ("postgresql://", "postgres://"):  # psycopg 3 is the driver we ship
            if raw.startswith(prefix):
                raw = "postgresql+psycopg://" + raw[len(prefix):]
        try:
            make_url(raw)
        except (ArgumentError, ValueError):
            raise ValueError("not a database URL (postgresql://user@host/db or sqlite:///path)") from None
        return raw

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, raw: str | None) -> str | None:
        if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("not a Redis URL (redis://host:6379/0, rediss://, unix://)")
        return raw or None

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, raw: str) -> str:
        if raw and not re.fullmatch(r"https?://[^/\s?#@]+(/[^\s?#]*)?", raw):
            raise ValueError("not the app's public address (https://host[/path], no query)")
        return raw.rstrip("/")

    @field_validator("digest_time")
    @classmethod
    def _digest_time(cls, raw: str) -> str:
        """Whole text, on Python's engine as the other checks here: a ``pattern=`` with ``$`` depended on
        pydantic's regex engine to refuse ``08:30\\n`` (Python's ``$`` matches before a final newline)."""
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", raw):
            raise ValueError("not a time of day HH:MM (00:00 .. 23:59)")
        return raw

    @field_validator("sentry_dsn")
    @classmethod
    def _dsn(cls, raw: SecretStr | None) -> SecretStr | None:
        if raw is not None and not re.fullmatch(r"https?://[^@/\s]+@[^/\s]+/\S+", raw.get_secret_value()):
            raise ValueError("not a Sentry DSN (https://<key>@<host>/<project>)")
        return raw

    @field_validator("county_timezone")
    @classmethod
    def _timezone(cls, raw: str) -> str:
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone (Asia/Shanghai)") from None
        return raw

    @field_validator("login_limit_per_attempt", "login_limit_per_account", "login_limit_per_address",
                     "token_failure_limit")
    @classmethod
    def _rate_limit(cls, raw: str) -> str:
        try:
            parse_many(raw)
        except ValueError:
            raise ValueError("not a rate limit list ('5 per minute; 20 per hour')") from None
        return raw

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, raw: SecretStr) -> SecretStr:
        for key in (k.strip() for k in raw.get_secret_value().split(",") if k.strip()):
            try:
                valid = len(base64.urlsafe_b64decode(key.encode())) == 32
            except (ValueError, binascii.Error):
                valid = False
            if not valid:
                raise ValueError("each key is a Fernet key: 32 bytes in URL-safe base64 (Fernet.generate_key())")
        return raw

    @field_validator("db_application_name")
    @classmethod
    def _application_name(cls, raw: str) -> str:
        return raw[:60]  # PostgreSQL truncates at 63 bytes; keep room

    @field_validator("chat_url_prefixes", "chat_secure_prefixes", mode="before")
    @classmethod
    def _prefixes(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        for prefix in raw:
            if not re.match(r"https?://[^\s/?#@]+/", prefix):
                raise ValueError("each prefix is http(s)://host/... ending the host with a slash")
        return raw

    @field_validator("sms_url")
    @classmethod
    def _sms_url(cls, raw: str | None) -> str | None:
        if raw and not re.fullmatch(r"https?://[^\s/?#@]+(/\S*)?", raw):
            raise ValueError("not an http(s) URL")
        return raw or None

    @field_validator("metrics_allowed_networks", "webhook_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return [part.strip() for part in raw.split(",") if part.strip()]
        return raw

    @model_validator(mode="after")
    def _defaults_in_instance(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.instance_dir / 'liandong.db'}"
        if not self.secret_key.get_secret_value():
            self.secret_key = SecretStr(installation_secret_key(self.instance_dir))
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Read ``env`` (default: the process environment); ``overrides`` (field names) win over it.

        Raises :class:`SettingsError` naming the first wrong variable(s)."""
        overrides = dict(overrides or {})
        extra = overrides.pop("extra", None) or {}
        with _environment(env):
            try:
                settings = cls(**overrides)
            except ValidationError as exc:
                raise SettingsError(describe_errors(exc)) from None
        settings._extra = dict(extra)
        return settings

    def shown(self) -> dict[str, str]:
        """Every setting with its current value as an operator may see it: secrets and URL passwords masked."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif name in URL_FIELDS and value:
                value = mask_url(value)
            elif isinstance(value, list):
                value = ",".join(str(item) for item in value)
            out[env_name(name, type(self).model_fields[name])] = "" if value is None else str(value)
        return out


URL_FIELDS = frozenset({"database_url", "redis_url"})
"""Fields whose value may carry a password (``postgresql://user:password@host/db``)."""

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("liandong_settings_environ", default=None)


@contextmanager
def _environment(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(env)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


class _MappingEnvSource(EnvSettingsSource):
    """The process environment, or the mapping handed to :meth:`Settings.from_env` (tests, ``settings doc``)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        mapping = _ENVIRON.get()
        if mapping is None:
            mapping = os.environ
        values = dict(parse_env_vars(mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str))
        for name in EMPTY_MEANS_OFF:  # an empty value is a choice here, not "unset"
            if mapping.get(name) == "":
                values[name.lower()] = "off"
        return values


def describe_errors(exc: ValidationError) -> str:
    """One line: every wrong variable, its (masked) value and why, e.g.
    ``LIANDONG_SMTP_PORT='x': Input should be a valid integer``."""
    fields = Settings.model_fields
    by_env = {env_name(name, info).lower(): name for name, info in fields.items()}
    parts = []
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else ""
        name = key if key in fields else by_env.get(key.lower(), key)
        label = env_name(name, fields[name]) if name in fields else key
        value = error.get("input")
        if name in SECRET_FIELDS:
            shown = ""
        elif name in URL_FIELDS and isinstance(value, str):
            shown = f"={mask_url(value)!r}"
        elif isinstance(value, str | int | float):
            shown = f"={value!r}"
        else:
            shown = ""
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{label}{shown}: {message}")
    return "Liandong cannot start, a setting is wrong: " + "; ".join(parts)


EMPTY_MEANS_OFF = ("LIANDONG_WEB_ACCESS_LOG",)
"""Variables whose empty value meant "none" before this object existed (``LIANDONG_WEB_ACCESS_LOG=``)."""

COUNTY_OVERRIDABLE = ("late_report_hours",)
"""Settings a county may give its own value (``app.org.county_settings``; docs/settings.md, "County overrides")."""
SECRET_FIELDS = frozenset({"secret_key", "encryption_keys", "smtp_password", "metrics_token", "sentry_dsn",
                           "sms_key"})
