"""The restore drill (issue 13, part 4): back up a county with cases, tasks, timeline and attachments; restore
into an empty installation; destroy it; restore again; every row, every attachment's bytes and the secret key
come back, and a browser session signed before the backup still works. A tampered archive changes nothing.

On PostgreSQL (``DATABASE_URL``) the restores go into a database this test creates beside the test database
(``<name>_restore``) and drops at the end, never into one others use.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flows.scenarios import SCENARIOS
from helpers import submit_report

from app import create_app
from app.extensions import db

pytestmark = pytest.mark.committing  # pg_dump and the restored app read what was committed
FIRST = next(s for s in SCENARIOS.values() if s.start["situation"] == "living_alone").steps[0]
PASSWORD = "liandong-demo"
PDF = b"%PDF-1.4 " + os.urandom(4096)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)


@dataclass
class Target:
    """An empty installation to restore into: its own instance folder and database."""

    database_url: str
    instance_dir: Path

    def app(self, clock: Any, **overrides: Any) -> Flask:
        """A new app on the target, as a restarted service would be (it reads the secret key now)."""
        return create_app({"database_url": self.database_url, "instance_dir": self.instance_dir, "testing": True,
                           "redis_url": None, "inline_loop": False, "extra": {"clock": clock}, **overrides})


@pytest.fixture
def target(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    monkeypatch.delenv("LIANDONG_SECRET_KEY", raising=False)
    source_url = app.config["LIANDONG"].database_url
    if not source_url.startswith("postgresql"):
        yield Target(f"sqlite:///{tmp_path / 'restored' / 'liandong.db'}", tmp_path / "restored")
        return
    url = sa.engine.make_url(source_url)
    name = f"{url.database}_restore"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield Target(url.set(database=name).render_as_string(hide_password=False), tmp_path / "restored")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _county_with_cases(as_user: Any) -> None:
    """Three reports (cases, first tasks), one step completed (more timeline, the next task), two attachments."""
    from app.org.queries import user_by_username
    from app.tasks.attachments import add_attachment
    from app.tasks.models import Task

    cases = [submit_report(as_user("reporter_school"), village=village, name=f"备份演练{n}",
                           id_number=f"37000020150601{n:04d}")["case_id"]
             for n, village in enumerate(("t01v01", "t01v02", "t02v01"))]
    police = as_user("police_t01")
    first = db.session.scalars(sa.select(Task).where(Task.case_id == cases[0])).one()
    assert police.post(f"/api/v1/tasks/{first.id}/claim").status_code == 200
    assert police.post(f"/api/v1/tasks/{first.id}/complete", json={"data": FIRST.data}).status_code == 200
    db.session.expire_all()
    officer = user_by_username("police_t01")
    assert officer is not None
    second = db.session.scalars(sa.select(Task).where(Task.case_id == cases[1])).one()
    add_attachment(first, officer, "warning.pdf", io.BytesIO(PDF))
    add_attachment(second, officer, "photo.png", io.BytesIO(PNG))
    db.session.commit()


def _snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    with app.app_context():
        rows = {}
        for table in db.metadata.sorted_tables:
            rows[table.name] = [tuple(r) for r in db.session.execute(
                sa.select(table).order_by(*table.primary_key.columns)).all()]
        db.session.remove()
        return rows


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _sign_in(app: Flask) -> str:
    """Sign in through /login as a person would; the session cookie's value."""
    from flask import g

    client = app.test_client()
    for key in ("_login_user", "_flask_babel", "csrf_token", "login_failed"):
        g.pop(key, None)
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert match
    for key in ("_login_user", "csrf_token"):
        g.pop(key, None)
    resp = client.post("/login", data={"username": "coordinator", "password": PASSWORD, "csrf_token": match.group(1)})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _still_signed_in(app: Flask, cookie: str) -> bool:
    client: FlaskClient = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/inbox").status_code == 200


def _cli(app: Flask, *args: str) -> Any:
    """``flask ARGS`` on ``app`` (its own context: the session app's, pushed by the fixtures, would be used)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def _destroy(target: Target) -> None:
    """What a lost server leaves: no database content, no attachments, no key."""
    if target.database_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(sa.engine.make_url(target.database_url).database + suffix).unlink(missing_ok=True)  # type: ignore[operator]
    else:
        engine = sa.create_engine(target.database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                                  poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    shutil.rmtree(target.instance_dir / "attachments")
    (target.instance_dir / "secret_key").unlink()


def test_back_up_destroy_restore_finds_everything_again(app: Flask, as_user: Any, clock: Any, target: Target,
                                                        tmp_path: Path) -> None:
    _county_with_cases(as_user)
    cookie = _sign_in(app)
    before = _snapshot(app)
    assert all(before[t] for t in ("case_file", "task", "timeline_entry", "attachment", "audit_event"))
    files = _files(Path(app.config["LIANDONG"].instance_dir) / "attachments")
    assert sorted(files.values()) == sorted([PDF, PNG])

    made = _cli(app, "backup", "create", "--to", str(tmp_path / "backups"))
    assert made.exit_code == 0, made.output
    [archive] = (tmp_path / "backups").glob("liandong-*.tar")
    assert archive.stat().st_mode & 0o777 == 0o600  # it holds the secret key and every child's file
    assert "2 attachment(s)" in made.output and "备份演练" not in made.output

    for attempt in ("into an empty installation", "after destroying it"):
        restorer = target.app(clock)  # a fresh instance folder makes itself a key; the restore replaces it
        done = _cli(restorer, "backup", "restore", str(archive))
        assert done.exit_code == 0, f"{attempt}: {done.output}"
        assert "warning" not in done.output and "restart" in done.output
        restarted = target.app(clock)
        assert _snapshot(restarted) == before, attempt
        assert _files(target.instance_dir / "attachments") == files, attempt
        assert (target.instance_dir / "secret_key").read_text() == "test-secret"
        assert (target.instance_dir / "secret_key").stat().st_mode & 0o777 == 0o600
        assert _still_signed_in(restarted, cookie), attempt  # same key, same session epoch
        with restarted.app_context():
            db.engine.dispose()
        if attempt == "into an empty installation":
            refused = _cli(target.app(clock), "backup", "restore", str(archive))
            assert refused.exit_code == 1 and "already holds data" in refused.output and "--yes" in refused.output
            # A key in LIANDONG_SECRET_KEY would win over the restored one: the operator is told.
            again = _cli(target.app(clock, secret_key="from-the-environment"), "backup", "restore", str(archive),
                         "--yes")
            assert again.exit_code == 0, again.output
            assert "warning: LIANDONG_SECRET_KEY is set and differs from the restored key" in again.output
            assert _snapshot(target.app(clock)) == before
            _destroy(target)


def _rewrite(archive: Path, out: Path, change: dict[str, bytes]) -> Path:
    """A copy of ``archive`` with some members' content replaced (the manifest left as it was)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            data = change.get(member.name)
            content = src.extractfile(member).read()  # type: ignore[union-attr]
            if data is not None:
                content = data(content) if callable(data) else data
                member.size = len(content)
            dst.addfile(member, io.BytesIO(content))
    return out


def test_a_tampered_archive_is_refused_and_changes_nothing(app: Flask, as_user: Any, clock: Any, target: Target,
                                                           tmp_path: Path) -> None:
    _county_with_cases(as_user)
    assert _cli(app, "backup", "create", "--to", str(tmp_path)).exit_code == 0
    [archive] = tmp_path.glob("liandong-*.tar")
    assert _cli(target.app(clock), "backup", "restore", str(archive)).exit_code == 0
    restored, files, key = _snapshot(target.app(clock)), _files(target.instance_dir / "attachments"), \
        (target.instance_dir / "secret_key").read_text()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    [dump] = [n for n in names if n.startswith("database.")]
    [attachment, *_] = [n for n in names if n.startswith("attachments/")]

    def flip(content: bytes) -> bytes:
        return content[:-100] + bytes([content[-100] ^ 1]) + content[-99:]

    hostile = {
        "a changed database": (_rewrite(archive, tmp_path / "db.tar", {dump: flip}), "database"),
        "a changed attachment": (_rewrite(archive, tmp_path / "att.tar", {attachment: b"%PDF-1.4 other"}), "attachments/"),
        "a changed key": (_rewrite(archive, tmp_path / "key.tar", {"secret_key": b"attacker-key"}), "secret_key"),
        "a newer schema": (_rewrite(archive, tmp_path / "new.tar", {"manifest.json": lambda c: re.sub(
            rb'"alembic_revision": "[^"]+"', b'"alembic_revision": "ffffffffffff"', c)}), "newer version"),
        "not a tar": (tmp_path / "junk.tar", "not a readable Liandong backup"),
    }
    (tmp_path / "junk.tar").write_bytes(b"\x00garbage" * 100)
    for what, (bad, message) in hostile.items():
        for args in ((), ("--yes",)):
            refused = _cli(target.app(clock), "backup", "restore", str(bad), *args)
            assert refused.exit_code == 1, what
            assert message in refused.output and "nothing was restored" in refused.output, (what, refused.output)
        verified = _cli(app, "backup", "verify", str(bad))
        assert verified.exit_code == 1 and message in verified.output, what
    assert _snapshot(target.app(clock)) == restored
    assert _files(target.instance_dir / "attachments") == files
    assert (target.instance_dir / "secret_key").read_text() == key
    assert not list(target.instance_dir.glob(".liandong-*"))  # no staging left behind
    assert _cli(app, "backup", "verify", str(archive)).exit_code == 0


def test_members_outside_the_format_are_refused_before_anything_is_written(app: Flask, tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        for name in ("../escaped", "/etc/escaped", "attachments/../../escaped"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    refused = _cli(app, "backup", "verify", str(evil))
    assert refused.exit_code == 1 and "unexpected member '../escaped'" in refused.output
    assert not (tmp_path.parent / "escaped").exists()
    link = tmp_path / "link.tar"
    with tarfile.open(link, "w") as tar:
        info = tarfile.TarInfo("secret_key")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    refused = _cli(app, "backup", "verify", str(link))
    assert refused.exit_code == 1 and "unexpected member 'secret_key'" in refused.output
