"""Retention (``flask backup prune``) and a restore of a backup older than the code (migrated after)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.backup import archive
from app.extensions import db

OLDER = "18c619ae2aa6"
"""A revision before today's head (timer backoff, sweep mark): the schema of an earlier release."""


def _archives(folder: Path, first: date, last: date) -> None:
    day = first
    while day <= last:
        (folder / f"liandong-{day:%Y%m%d}T023000Z.tar").write_bytes(b"")
        day += timedelta(days=1)


def test_prune_keeps_the_newest_of_the_last_days_weeks_and_months(app: Flask, tmp_path: Path) -> None:
    _archives(tmp_path, date(2025, 1, 1), date(2026, 3, 10))  # nightly for 14 months; 2026-03-10 is a Tuesday
    (tmp_path / "liandong-20260310T023000Z-2.tar").write_bytes(b"")  # a second one that night (a manual run)
    (tmp_path / "notes.txt").write_text("not an archive: never touched")
    with app.app_context():
        dry = app.test_cli_runner().invoke(args=["backup", "prune", "--in", str(tmp_path), "--dry-run"])
        assert dry.exit_code == 0 and "would delete 415" in dry.output
        assert len(list(tmp_path.glob("*.tar"))) == 435
        done = app.test_cli_runner().invoke(args=["backup", "prune", "--in", str(tmp_path), "--keep-daily", "7",
                                                  "--keep-weekly", "4", "--keep-monthly", "12"])
    assert done.exit_code == 0, done.output
    kept = sorted(p.name[9:17] + p.name[25:-4] for p in tmp_path.glob("*.tar"))
    daily = [f"202603{d:02d}" for d in range(4, 10)] + ["20260310-2"]  # the newest of each of 7 days
    weekly = ["20260301", "20260222"]  # the newest of each of the 4 latest weeks (the first two are daily's)
    monthly = ["20260228", "20260131", "20251231", "20251130", "20251031", "20250930", "20250831", "20250731",
               "20250630", "20250531", "20250430"]  # the newest of each of the 12 latest months (March's is daily's)
    assert kept == sorted(daily + weekly + monthly)
    assert (tmp_path / "notes.txt").exists()


def test_prune_always_keeps_the_newest(app: Flask, tmp_path: Path) -> None:
    _archives(tmp_path, date(2026, 3, 1), date(2026, 3, 3))
    with app.app_context():
        done = app.test_cli_runner().invoke(args=["backup", "prune", "--in", str(tmp_path), "--keep-daily", "0",
                                                  "--keep-weekly", "0", "--keep-monthly", "0"])
    assert done.exit_code == 0, done.output
    assert [p.name for p in tmp_path.glob("*.tar")] == ["liandong-20260303T023000Z.tar"]


def _sqlite_app(folder: Path, **extra: Any) -> Flask:
    return create_app({"database_url": f"sqlite:///{folder / 'liandong.db'}", "instance_dir": folder,
                       "testing": True, "redis_url": None, "inline_loop": False, **extra})


def test_a_backup_of_an_earlier_release_is_migrated_after_the_restore(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_migrate import upgrade

    monkeypatch.delenv("LIANDONG_SECRET_KEY", raising=False)
    old = _sqlite_app(tmp_path / "old", secret_key="old-release-key")
    with old.app_context():
        upgrade(revision=OLDER)
        db.session.execute(sa.text("INSERT INTO region (id, code, name, level) VALUES (1, 'c01', '示范县', 'county')"))
        db.session.commit()
        db.engine.dispose()
    path, manifest = archive.create(archive.Source(f"sqlite:///{tmp_path / 'old' / 'liandong.db'}", tmp_path / "old",
                                                   "old-release-key"), tmp_path / "backups",
                                    at=datetime(2026, 3, 1, 18, 30, tzinfo=UTC))
    assert path.name == "liandong-20260301T183000Z.tar" and manifest.alembic_revision == OLDER

    new = _sqlite_app(tmp_path / "new")
    with new.app_context():
        done = new.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        assert done.exit_code == 0, done.output
        assert f"the backup is at schema {OLDER}: upgrading" in done.output
        head = archive.migrations_heads()
        revision = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert revision is not None and head(revision) is True
        assert db.session.execute(sa.text("SELECT name FROM region")).scalar() == "示范县"
        db.session.remove()
        db.engine.dispose()
    assert (tmp_path / "new" / "secret_key").read_text() == "old-release-key"
