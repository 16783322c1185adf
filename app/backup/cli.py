"""``flask backup create | verify | restore | prune`` (docs/operations.md, "Backups").

Errors end the command with exit status 1 and one sentence saying what was (not) changed; nothing here
prints a child's name, only counts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

from . import archive
from .databases import BackupError
from .retention import Policy, prune

backup_cli = AppGroup("backup", help="Back up and restore the database, attachments and secret key.")


def _source() -> archive.Source:
    settings = current_app.config["LIANDONG"]
    return archive.Source(database_url=settings.database_url, instance_dir=Path(settings.instance_dir),
                          secret_key=settings.secret_key.get_secret_value())


def _default_dir() -> Path:
    return Path(current_app.config["LIANDONG"].instance_dir) / "backups"


def _describe(manifest: archive.Manifest) -> str:
    return (f"{manifest.database} database at schema {manifest.alembic_revision}, {manifest.attachments} "
            f"attachment(s), made {manifest.created_at} by Liandong {manifest.app_version}")


@backup_cli.command("create")
@click.option("--to", "to_dir", type=click.Path(file_okay=False, path_type=Path),
              help="folder for the archive (default: <instance>/backups)")
def create_command(to_dir: Path | None) -> None:
    """Write one archive (mode 0600: it holds the secret key) while the app keeps running."""
    try:
        path, manifest = archive.create(_source(), to_dir or _default_dir())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path} ({path.stat().st_size} bytes): {_describe(manifest)}")


@backup_cli.command("verify")
@click.argument("archive_path", metavar="ARCHIVE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_command(archive_path: Path) -> None:
    """Check every member of an archive against its manifest, and that it can be restored here; changes nothing."""
    instance = Path(current_app.config["LIANDONG"].instance_dir)
    instance.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".liandong-verify-", dir=instance) as staging:
        try:
            manifest = archive.unpack(archive_path, Path(staging))
            archive.restorable(archive_path, manifest, current_app.config["LIANDONG"].database_url)
        except BackupError as exc:
            raise click.ClickException(str(exc).replace("nothing was restored", "the archive is not usable")) from exc
    click.echo(f"{archive_path}: intact; {_describe(manifest)}")


@backup_cli.command("restore")
@click.argument("archive_path", metavar="ARCHIVE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="replace an installation that already holds data")
def restore_command(archive_path: Path, yes: bool) -> None:
    """Replace the database, attachments and secret key with an archive's; stop web, workers and cron first."""
    from flask_migrate import upgrade

    source = _source()
    key_file = source.instance_dir / archive.SECRET_KEY
    key_from_file = key_file.read_text().strip() if key_file.exists() else None
    db.session.remove()
    try:
        restored = archive.restore(archive_path, source, db.engine, overwrite=yes)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if not restored.at_head:
        click.echo(f"the backup is at schema {restored.manifest.alembic_revision}: upgrading to this version's")
        upgrade()
    counts = {name: db.session.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
              for name in ("case_file", "task", "timeline_entry", "attachment")}
    db.session.remove()
    click.echo(f"restored {archive_path}: {_describe(restored.manifest)}; now "
               + ", ".join(f"{n} {name}" for name, n in counts.items()))
    running_key = source.secret_key
    if running_key != key_file.read_text() and running_key != key_from_file:
        click.echo("warning: LIANDONG_SECRET_KEY is set and differs from the restored key: set it to the content of "
                   f"{key_file} (or remove it), or every session and signed link from before is refused", err=True)
    click.echo("start (or restart) web, workers and cron: they read the restored key and data at start")


@backup_cli.command("prune")
@click.option("--in", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="folder of archives (default: <instance>/backups)")
@click.option("--keep-daily", default=7, show_default=True, type=click.IntRange(0))
@click.option("--keep-weekly", default=4, show_default=True, type=click.IntRange(0))
@click.option("--keep-monthly", default=12, show_default=True, type=click.IntRange(0))
@click.option("--dry-run", is_flag=True, help="only list what would be deleted")
def prune_command(folder: Path | None, keep_daily: int, keep_weekly: int, keep_monthly: int, dry_run: bool) -> None:
    """Delete the archives the retention policy does not keep (the newest is always kept)."""
    kept, deleted = prune(folder or _default_dir(), Policy(keep_daily, keep_weekly, keep_monthly), dry_run)
    for path in deleted:
        click.echo(f"{'would delete' if dry_run else 'deleted'} {path}")
    click.echo(f"kept {len(kept)} archive(s), {'would delete' if dry_run else 'deleted'} {len(deleted)}")
