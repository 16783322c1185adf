"""The backup archive: write one, check one, restore one.

Format 1 is an uncompressed tar (the PostgreSQL dump is compressed already; attachments are mostly JPEG/PDF),
created with mode 0600 because it holds the secret key and every child's file:

- ``database.sqlite3`` or ``database.pgdump`` (``databases.dump``),
- ``attachments/<xx>/<stored name>``: every file under ``<instance>/attachments`` (written after the database
  is copied, so every attachment row in the copy has its file),
- ``secret_key``: the key sessions and signed links are signed with,
- ``manifest.json`` last: format, created_at, app version, Alembic revision, database kind, and the size and
  sha256 of every other member.

A restore unpacks every member into a staging folder and checks it against the manifest BEFORE it touches
anything: a damaged or altered archive, a member the format does not have, a backup of the other database
kind or one made by a newer version is refused and nothing changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from app.config import ROOT

from . import databases
from .databases import BackupError

FORMAT = 1
MANIFEST = "manifest.json"
SECRET_KEY = "secret_key"
ATTACHMENTS = "attachments"
ARCHIVE_NAME = re.compile(r"liandong-(\d{8}T\d{6})Z(?:-(\d+))?\.tar")
_SAFE_PART = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    created_at: str
    app_version: str
    alembic_revision: str | None
    database: str
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Member name -> ``{"sha256": hex, "size": bytes}``, every member but the manifest."""
    format: int = FORMAT

    @property
    def attachments(self) -> int:
        return sum(1 for name in self.parts if name.startswith(ATTACHMENTS + "/"))


@dataclass(frozen=True)
class Source:
    """What a backup is made of: the database URL and the installation's instance folder and key."""

    database_url: str
    instance_dir: Path
    secret_key: str

    @property
    def attachments_dir(self) -> Path:
        return self.instance_dir / ATTACHMENTS  # app.tasks.attachments.storage_dir


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _app_version() -> str:
    try:
        return metadata.version("liandong")
    except metadata.PackageNotFoundError:
        return "unknown"


def _new_archive(to_dir: Path, at: datetime) -> tuple[Path, IO[bytes]]:
    """A new archive file, mode 0600 from its first byte (never readable by others, not even briefly)."""
    stem = "liandong-" + at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        path = to_dir / (f"{stem}.tar" if n == 1 else f"{stem}-{n}.tar")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "wb")
    raise BackupError(f"too many backups named {stem} in {to_dir}")


def create(source: Source, to_dir: Path, at: datetime | None = None) -> tuple[Path, Manifest]:
    """Write one archive into ``to_dir``; return its path and manifest."""
    at = at or datetime.now(UTC)
    kind = databases.kind_of(source.database_url)
    to_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".liandong-backup-", dir=to_dir))
    path, out = _new_archive(to_dir, at)
    try:
        dump = staging / databases.dump_file_name(kind)
        databases.dump(source.database_url, dump)
        revision = databases.revision_at(f"sqlite:///{dump}" if kind == "sqlite" else source.database_url)
        (staging / SECRET_KEY).write_text(source.secret_key)
        members: list[tuple[str, Path]] = [(dump.name, dump), (SECRET_KEY, staging / SECRET_KEY)]
        if source.attachments_dir.is_dir():
            members += [(f"{ATTACHMENTS}/{p.relative_to(source.attachments_dir).as_posix()}", p)
                        for p in sorted(source.attachments_dir.rglob("*")) if p.is_file() and not p.is_symlink()]
        parts: dict[str, dict[str, Any]] = {}
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, file in members:
                parts[name] = {"sha256": _sha256(file), "size": file.stat().st_size}
                tar.add(file, arcname=name, recursive=False, filter=_private)
            manifest = Manifest(created_at=at.astimezone(UTC).isoformat(), app_version=_app_version(),
                                alembic_revision=revision, database=kind, parts=parts)
            (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True))
            tar.add(staging / MANIFEST, arcname=MANIFEST, filter=_private)
        out.flush()
        os.fsync(out.fileno())
    except BaseException:
        out.close()
        path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    out.close()
    return path, manifest


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def _member_path(name: str) -> bool:
    """The names format 1 has; anything else (``..``, absolute paths, links, devices) is refused."""
    if name in (MANIFEST, SECRET_KEY, "database.sqlite3", "database.pgdump"):
        return True
    parts = name.split("/")
    return parts[0] == ATTACHMENTS and 2 <= len(parts) <= 4 and all(_SAFE_PART.fullmatch(p) for p in parts[1:])


def unpack(archive: Path, into: Path) -> Manifest:
    """Unpack ``archive`` into the empty folder ``into`` and check every member against the manifest."""
    seen: dict[str, tuple[str, int]] = {}
    try:
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                if not member.isfile() or not _member_path(member.name) or member.name in seen:
                    raise BackupError(f"{archive}: unexpected member {member.name!r} (not a Liandong backup, or "
                                      "altered); nothing was restored")
                seen[member.name] = _extract(tar, member, into / member.name)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{archive} is not a readable Liandong backup ({exc}); nothing was restored") from exc
    manifest = _read_manifest(archive, into)
    wanted = set(manifest.parts)
    got = set(seen) - {MANIFEST}
    if wanted != got:
        missing, extra = sorted(wanted - got), sorted(got - wanted)
        raise BackupError(f"{archive} does not match its manifest (missing {missing[:3]}, not listed {extra[:3]}); "
                          "nothing was restored")
    for name, expected in sorted(manifest.parts.items()):
        if (expected.get("sha256"), expected.get("size")) != seen[name]:
            raise BackupError(f"{archive}: {name} does not match its checksum in the manifest (the archive is "
                              "damaged or was altered); nothing was restored")
    if databases.dump_file_name(manifest.database) not in got or SECRET_KEY not in got:
        raise BackupError(f"{archive} has no database or no secret key; nothing was restored")
    return manifest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> tuple[str, int]:
    """Copy one member out (never through ``extract``: no links, modes or owners from the archive)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    assert source is not None  # a regular file
    size = 0
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def _read_manifest(archive: Path, into: Path) -> Manifest:
    try:
        raw = json.loads((into / MANIFEST).read_text())
        if raw.get("format") != FORMAT:
            raise BackupError(f"{archive} is backup format {raw.get('format')!r}; this version reads format "
                              f"{FORMAT}; nothing was restored")
        manifest = Manifest(**raw)
        if manifest.database not in databases.KINDS or not isinstance(manifest.parts, dict) \
                or not all(isinstance(part, dict) for part in manifest.parts.values()):
            raise ValueError(f"database {manifest.database!r}")
        return manifest
    except FileNotFoundError as exc:
        raise BackupError(f"{archive} has no {MANIFEST}; nothing was restored") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise BackupError(f"{archive}: {MANIFEST} is not readable ({exc}); nothing was restored") from exc


def migrations_heads() -> Callable[[str], bool | None]:
    """``known(revision)``: True at head, False older but known, None unknown here (a newer version made it)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory(str(ROOT / "migrations"))
    heads = set(script.get_heads())

    def known(revision: str) -> bool | None:
        try:
            if script.get_revision(revision) is None:
                return None
        except CommandError:
            return None
        return revision in heads

    return known


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    at_head: bool
    """False: the backup is older than this version; the caller runs the migrations (``flask db upgrade``)."""


def restorable(archive: Path, manifest: Manifest, database_url: str) -> bool:
    """Refuse a backup of the other database kind or one made by a newer version; True: it is at our head."""
    kind = databases.kind_of(database_url)
    if manifest.database != kind:
        raise BackupError(f"{archive} is a {manifest.database} backup and this installation uses {kind}; "
                          "nothing was restored")
    if not manifest.alembic_revision:
        raise BackupError(f"{archive}: its database was never migrated; nothing was restored")
    at_head = migrations_heads()(manifest.alembic_revision)
    if at_head is None:
        raise BackupError(f"{archive} was made by a newer version of Liandong (schema revision "
                          f"{manifest.alembic_revision} is unknown here): install that version or a later one "
                          "first; nothing was restored")
    return at_head


def restore(archive: Path, target: Source, engine: sa.Engine, overwrite: bool = False) -> Restored:
    """Check ``archive``, then replace ``target``'s database, attachments and secret key with its content."""
    target.instance_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".liandong-restore-", dir=target.instance_dir))
    try:
        manifest = unpack(archive, staging)
        at_head = restorable(archive, manifest, target.database_url)
        if not overwrite:
            _refuse_to_overwrite(engine, target)
        engine.dispose()  # our own pooled connections must not hold the old tables during the restore
        databases.restore(target.database_url, staging / databases.dump_file_name(manifest.database))
        _swap_attachments(staging, target.attachments_dir)
        _write_secret_key(target.instance_dir / SECRET_KEY, (staging / SECRET_KEY).read_text())
        return Restored(manifest=manifest, at_head=at_head)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_to_overwrite(engine: sa.Engine, target: Source) -> None:
    filled = databases.tables_with_rows(engine)
    files = target.attachments_dir.is_dir() and any(p.is_file() for p in target.attachments_dir.rglob("*"))
    if filled or files:
        what = f"tables {', '.join(filled[:4])}{'…' if len(filled) > 4 else ''}" if filled else "attachments"
        raise BackupError(f"this installation already holds data ({what}); a restore replaces all of it. Run again "
                          "with --yes to replace it; nothing was changed")


def _swap_attachments(staging: Path, live: Path) -> None:
    """Put the archive's attachments in place of the live folder (the old one goes with the staging folder)."""
    restored = staging / ATTACHMENTS
    restored.mkdir(exist_ok=True, mode=0o700)
    if live.exists():
        live.rename(staging / "attachments.replaced")
    restored.rename(live)


def _write_secret_key(path: Path, key: str) -> None:
    partial = path.with_name(path.name + ".restoring")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(key)
    os.replace(partial, path)
