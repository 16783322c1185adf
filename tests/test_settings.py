"""Settings: one typed object, refused at start when wrong, secrets never shown, the doc matches the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.common.settings_doc import DOC_PATH, render_doc
from app.config import ROOT, Settings, SettingsError

SECRETS = {"LIANDONG_SECRET_KEY": "sk-never-shown-1", "LIANDONG_SMTP_PASSWORD": "smtp-never-shown-2",
           "LIANDONG_METRICS_TOKEN": "metrics-never-shown-3",
           "SENTRY_DSN": "http://dsnkeynevershown4@127.0.0.1:9/1",
           "DATABASE_URL": "postgresql://liandong:dbpw-never-shown-5@127.0.0.1:1/x",
           "REDIS_URL": "redis://:redispw-never-shown-6@127.0.0.1:1/0"}


def flask(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "FLASK_APP": "app:create_app", "PYTHONPATH": str(ROOT),
            "LIANDONG_INSTANCE_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_docs_settings_md_is_generated_from_the_code() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_doc(), \
        "docs/settings.md is out of date: run `flask settings doc > docs/settings.md`"
    for name, info in Settings.model_fields.items():
        assert info.description, f"setting {name} has no docstring, so docs/settings.md cannot say what it does"


def test_the_existing_variables_keep_their_names_and_meaning(tmp_path: Path) -> None:
    settings = Settings.from_env({
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/5",
        "LIANDONG_TIMEZONE": "Asia/Urumqi", "LIANDONG_INSTANCE_DIR": str(tmp_path),
        "LIANDONG_SECURE_COOKIES": "0", "LIANDONG_SMTP_HOST": "mail", "LIANDONG_SMTP_PORT": "587",
        "LIANDONG_SMTP_STARTTLS": "yes", "LIANDONG_INLINE_LOOP": "1", "LIANDONG_ENGINE_BACKSTOP": "0",
        "LIANDONG_ENGINE_WALL_SECONDS": "7.5", "LIANDONG_SWEEP_INTERVAL": "5", "LIANDONG_DIGEST_TIME": "09:15",
        "LIANDONG_DUPLICATE_REPORT_MINUTES": "0", "LIANDONG_READY_SWEEP_LAG": "60",
        "LIANDONG_DB_APPLICATION_NAME": "x" * 80, "LIANDONG_WEB_ACCESS_LOG": "",
    })
    assert settings.database_url == "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    assert (settings.redis_url, settings.county_timezone, settings.instance_dir) == (
        "redis://127.0.0.1:6379/5", "Asia/Urumqi", tmp_path)
    assert (settings.secure_cookies, settings.smtp_port, settings.smtp_starttls, settings.inline_loop) == (
        False, 587, True, True)
    assert (settings.engine_backstop, settings.engine_wall_seconds, settings.sweep_interval) == (False, 7.5, 5)
    assert (settings.digest_time, settings.duplicate_report_minutes, settings.ready_sweep_lag) == ("09:15", 0, 60)
    assert len(settings.db_application_name) == 60
    assert settings.web_access_log == "off"  # empty kept its old meaning: no access log
    key = settings.secret_key.get_secret_value()
    assert key and (tmp_path / "secret_key").read_text() == key  # generated once, kept in the instance folder
    assert Settings.from_env({"LIANDONG_INSTANCE_DIR": str(tmp_path)}).secret_key.get_secret_value() == key


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    clock = object()
    settings = Settings.from_env({"LIANDONG_SWEEP_INTERVAL": "5", "LIANDONG_SECRET_KEY": "env"},
                                 {"sweep_interval": 9, "instance_dir": tmp_path, "extra": {"clock": clock}})
    assert (settings.sweep_interval, settings.instance_dir, settings.extra["clock"]) == (9, tmp_path, clock)
    assert settings.database_url == f"sqlite:///{tmp_path / 'liandong.db'}"


@pytest.mark.parametrize(("variable", "value", "why"), [
    ("DATABASE_URL", "not a url", "not a database URL"),
    ("REDIS_URL", "http://127.0.0.1:6379", "not a Redis URL"),
    ("LIANDONG_SMTP_TIMEOUT", "-1", "greater than 0"),
    ("LIANDONG_SMTP_PORT", "70000", "less than 65536"),
    ("LIANDONG_LOG_FORMAT", "xml", "'auto', 'json' or 'text'"),
    ("LIANDONG_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
    ("LIANDONG_DIGEST_TIME", "8h30", "not a time of day HH:MM"),
    ("LIANDONG_SECURE_COOKIES", "maybe", "valid boolean"),
    ("LIANDONG_LOGIN_LIMIT_PER_ADDRESS", "lots", "not a rate limit"),
    ("LIANDONG_METRICS_ALLOWED_NETWORKS", "10.0.0.0/33", "network"),
    ("SENTRY_DSN", "sentry.example.org", "not a Sentry DSN"),
])
def test_a_wrong_value_is_refused_naming_the_variable(variable: str, value: str, why: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value, "LIANDONG_INSTANCE_DIR": str(tmp_path)})
    assert f"{variable}" in refused.value.message and why in refused.value.message
    assert variable == "SENTRY_DSN" or f"{variable}={value!r}" in refused.value.message
    assert variable != "SENTRY_DSN" or value not in refused.value.message  # a secret is never echoed
    assert "\n" not in refused.value.message


def test_the_process_refuses_to_start_with_one_line_and_no_secret(tmp_path: Path) -> None:
    done = flask(["settings", "show"], {**SECRETS, "LIANDONG_SESSION_IDLE_MINUTES": "-5",
                                        "DATABASE_URL": "postgresql://u:dbpw-never-shown-5@127.0.0.1:port/x"},
                 tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "LIANDONG_SESSION_IDLE_MINUTES='-5': Input should be greater than 0" in lines[0]
    assert "DATABASE_URL='postgresql://u:***@127.0.0.1:port/x'" in lines[0]
    assert not re.search("never-shown|dsnkey", done.stdout + done.stderr)


def test_settings_show_masks_every_secret(tmp_path: Path) -> None:
    done = flask(["settings", "show"], SECRETS, tmp_path)
    assert done.returncode == 0, done.stderr
    shown = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert shown["LIANDONG_SECRET_KEY"] == shown["LIANDONG_SMTP_PASSWORD"] == shown["SENTRY_DSN"] == "**********"
    assert shown["DATABASE_URL"] == "postgresql+psycopg://liandong:***@127.0.0.1:1/x"
    assert shown["REDIS_URL"] == "redis://:***@127.0.0.1:1/0"
    assert not re.search("never-shown|dsnkey", done.stdout + done.stderr)
    settings = Settings.from_env(SECRETS | {"LIANDONG_INSTANCE_DIR": str(tmp_path)})
    assert not re.search("never-shown|dsnkey", repr(settings) + str(settings))


def test_nothing_else_reads_the_environment() -> None:
    """Convention 3: app/config.py is the one reader; everything else gets the settings object.
    (Handing the environment on to a child process, ``{**os.environ}``, is not reading a setting.)"""
    readers = []
    for path in [*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")]:
        if path.name == "config.py" and path.parent.name == "app":
            continue
        if re.search(r"os\.environ(\.get\b|\[)|getenv\(", path.read_text(encoding="utf-8")):
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []
