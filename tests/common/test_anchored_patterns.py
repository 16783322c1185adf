"""Validation patterns match the whole text: Python's ``$`` also matches before a final newline, so
``re.match(r"^...$", "ok\\n")`` accepted a value with a newline on its end (docs/security.md, hostile review).
Each check below was accepted with ``$`` and is refused with ``fullmatch`` / ``\\Z``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.backup.archive import _member_path
from app.backup.retention import archives_in
from app.common.errors import Invalid
from app.config import Settings, SettingsError
from app.designer.drafts import _check_file
from app.duties.period_labels import period_label
from app.processes.schemas import MigrateIn

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_id_ending_in_a_newline_is_replaced(client: Any) -> None:
    """The header is echoed and logged: a newline would split the log line (or the response header)."""
    answer = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": "lb-7f3a.42\n"})
    assert answer.status_code == 200
    made = answer.headers["X-Request-ID"]
    assert made != "lb-7f3a.42\n" and re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"}).headers["X-Request-ID"] == "lb-7f3a.42"


def test_a_designer_file_name_ending_in_a_newline_is_refused() -> None:
    _check_file("intake.bpmn", "<definitions/>")
    for name in ("intake.bpmn\n", "rules.dmn\n"):
        with pytest.raises(Invalid):
            _check_file(name, "<definitions/>")


def test_a_restored_attachment_path_part_ending_in_a_newline_is_refused() -> None:
    assert _member_path("attachments/12/statement.pdf")
    assert not _member_path("attachments/12\n/statement.pdf")
    assert not _member_path("attachments/12/statement.pdf\n")


def test_a_backup_named_with_a_trailing_newline_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "liandong-20261130T080000Z.tar").write_bytes(b"")
    (tmp_path / "liandong-20261130T090000Z.tar\n").write_bytes(b"")
    assert [p.name for p in archives_in(tmp_path)] == ["liandong-20261130T080000Z.tar"]


@pytest.mark.parametrize(("field", "value"), [
    ("public_url", "https://liandong.example.gov.cn\n"),
    ("sms_url", "https://sms.example.gov.cn/send\n"),
    ("sentry_dsn", "https://key@sentry.example/1\n"),
    ("digest_time", "08:30\n"),
])
def test_settings_ending_in_a_newline_are_refused(tmp_path: Path, field: str, value: str) -> None:
    Settings.from_env({}, {"secret_key": "k", "instance_dir": tmp_path, field: value.rstrip("\n")})
    with pytest.raises(SettingsError, match=f"(?i){field}"):
        Settings.from_env({}, {"secret_key": "k", "instance_dir": tmp_path, field: value})


def test_a_migration_plan_key_ending_in_a_newline_is_refused() -> None:
    assert MigrateIn().validate({"expected_versions": {"12": 3}}) == {}
    assert "expected_versions" in MigrateIn().validate({"expected_versions": {"12\n": 3}})


def test_a_period_key_ending_in_a_newline_is_shown_as_it_is(ctx: Any) -> None:
    assert period_label("2026") != "2026"
    assert period_label("2026\n") == "2026\n"


def test_no_validation_pattern_in_the_app_ends_with_a_bare_dollar() -> None:
    """A new ``r"^...$"`` fails here, also as a pydantic ``pattern=`` (whose meaning of ``$`` is the regex
    engine's): write ``fullmatch`` (or ``\\Z``) instead."""
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"""(re\.(compile|match|search)\(|Regexp\(|pattern=)r?["'][^"']*\$["']""", line):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert found == []


@pytest.mark.parametrize("value", ["24:00", "8:30", "08:60", " 08:30", "08:30\r", "08:30\n", "\n08:30"])
def test_a_digest_time_is_a_whole_hh_mm(tmp_path: Path, value: str) -> None:
    """The digest hour is split on ``:`` and read as numbers (``notifications.email``): only ``HH:MM`` itself."""
    for good in ("00:00", "08:30", "23:59"):
        assert Settings.from_env({}, {"secret_key": "k", "instance_dir": tmp_path, "digest_time": good}).digest_time == good
    with pytest.raises(SettingsError, match="LIANDONG_DIGEST_TIME"):
        Settings.from_env({}, {"secret_key": "k", "instance_dir": tmp_path, "digest_time": value})
