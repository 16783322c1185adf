"""``flask processes history|diff|current|migrate|rollback|designer``: the designer's back office on the command line.

Each command commits once (or rolls back on refusal), like a page or API call.
"""

from __future__ import annotations

import json
import sys

import click

from app.cli import processes_cli
from app.common.errors import DomainError
from app.extensions import db
from app.org.queries import user_by_username
from app.processes.designers import require_designer, set_designer
from app.processes.operations import make_current
from app.processes.versions import diff_versions, get_version, history
from app.workflow import migration


def _user(username: str):  # type: ignore[no-untyped-def]

    user = user_by_username(username)
    if user is None or not user.active:
        click.echo(f"no active user {username!r}", err=True)
        sys.exit(1)
    return user


def _refused(exc: Exception) -> None:
    db.session.rollback()
    if not isinstance(exc, DomainError):
        raise exc
    click.echo(f"refused ({exc.status}): {exc.message}", err=True)
    sys.exit(2)


@processes_cli.command("history")
@click.argument("process_key")
def history_cmd(process_key: str) -> None:
    """Versions of PROCESS_KEY, newest first, with who deployed them, why, and running cases."""

    try:
        items = history(process_key)
    except DomainError as exc:
        _refused(exc)
        return
    for v in items:
        mark = "*" if v["current"] else " "
        click.echo(f"v{v['version']:<4}{mark} {v['deployed_at']:%Y-%m-%d %H:%M}  {v['deployed_by'] or '-':12} "
                   f"running {v['running_instances']:<4} {v['note']}")


@processes_cli.command("diff")
@click.argument("process_key")
@click.argument("old", type=int)
@click.argument("new", type=int)
def diff_cmd(process_key: str, old: int, new: int) -> None:
    """Elements and forms changed between two versions (JSON)."""

    result = diff_versions(get_version(process_key, old), get_version(process_key, new))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@processes_cli.command("migrate")
@click.argument("process_key")
@click.argument("version", type=int)
@click.option("--as", "username", required=True, help="the process designer doing it")
@click.option("--instance", "instances", type=int, multiple=True, help="only these instances (repeatable)")
@click.option("--dry-run", is_flag=True, help="only list who can move and why the others cannot")
def migrate_cmd(process_key: str, version: int, username: str, instances: tuple[int, ...], dry_run: bool) -> None:
    """Move running cases of PROCESS_KEY to VERSION (all that can, or --instance ...)."""

    user = _user(username)
    try:
        target = get_version(process_key, version)
        rows = (migration.dry_run(target, user) if dry_run
                else migration.migrate(target, user, list(instances) if instances else None))
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except DomainError as exc:
        _refused(exc)
        return
    for row in rows:
        state = ("moved" if row.migration_id else "can move") if row.can_move else "stays"
        extra = f" (migration {row.migration_id})" if row.migration_id else ""
        click.echo(f"instance {row.instance_id:<6} case {row.case_number:16} v{row.from_version} {state}{extra}"
                   + (": " + "; ".join(row.reasons) if row.reasons else ""))


@processes_cli.command("rollback")
@click.argument("migration_id", type=int)
@click.option("--as", "username", required=True, help="the process designer doing it")
def rollback_cmd(migration_id: int, username: str) -> None:
    """Put a migrated case back on its previous version (refused if it moved on since)."""

    user = _user(username)
    try:
        instance = migration.rollback(migration.get_migration(migration_id), user)
        db.session.commit()
    except DomainError as exc:
        _refused(exc)
        return
    click.echo(f"instance {instance.id} is back on v{instance.spec.version}")


@processes_cli.command("current")
@click.argument("process_key")
@click.argument("version", type=int)
@click.option("--as", "username", required=True, help="the process designer doing it")
@click.option("--note", required=True, help="why new cases should start on this version")
@click.option("--county", default="*", help="a county's region code: only its new cases start on VERSION")
def current_cmd(process_key: str, version: int, username: str, note: str, county: str) -> None:
    """New cases of PROCESS_KEY start on VERSION from now on (undoes a bad deploy; audited)."""

    user = _user(username)
    try:
        require_designer(user)
        changed = make_current(get_version(process_key, version), user, note, county=county)
        db.session.commit()
    except DomainError as exc:
        _refused(exc)
        return
    where = "" if county == "*" else f" in {county}"
    click.echo(f"{process_key}: new cases{where} start on v{version}" + ("" if changed else " (it already was current)"))


@processes_cli.command("designer")
@click.argument("action", type=click.Choice(["grant", "revoke"]))
@click.argument("username")
def designer_cmd(action: str, username: str) -> None:
    """Grant or revoke the process-designer role (audited; the admin pages do the same)."""

    changed = set_designer(_user(username), action == "grant", None)
    db.session.commit()
    click.echo(f"{username}: {'process designer' if action == 'grant' else 'not a process designer'}"
               + ("" if changed else " (unchanged)"))
