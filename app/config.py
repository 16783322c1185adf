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
    token_ttl_days: int = 365
    testing: bool = False
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
        }
        if "secret_key" not in overrides:
            values["secret_key"] = env.get("LIANDONG_SECRET_KEY") or _secret_key(instance)
        values.update(overrides)
        if "database_url" in overrides:
            values["database_url"] = _database_url(overrides["database_url"], instance)
        return cls(**values)
