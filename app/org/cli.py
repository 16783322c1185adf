"""``flask service-accounts``: create, list, rotate and revoke machine clients; ``flask org import``: a county's
regions and units from a file. Each command commits once.

The secret is printed once (create, rotate) and never stored; changes are audited with no user (the CLI), by
the operations that make them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from app.common.errors import DomainError
from app.common.scopes import SCOPES
from app.extensions import db

from .models import ServiceAccount, Unit
from .org_file import OrgFileRejected, apply_import, plan_import
from .service_accounts import account_state, create_account, revoke_account, rotate_secret, service_accounts

service_accounts_cli = AppGroup("service-accounts", help="Machine clients with client credentials and scoped tokens.")
org_cli = AppGroup("org", help="A county's regions and department units.")
MAX_FILE_BYTES = 50 * 1024 * 1024


def _account(account_id: int) -> ServiceAccount:
    account = db.session.get(ServiceAccount, account_id)
    if account is None:
        click.echo(f"no service account {account_id}", err=True)
        sys.exit(1)
    return account


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()) if exc.errors else exc.message
    click.echo(f"refused: {detail}", err=True)
    sys.exit(1)


@service_accounts_cli.command("create")
@click.argument("name")
@click.option("--unit", "unit_id", type=int, required=True, help="id of the unit the account acts for")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(sorted(SCOPES)),
              help="a scope it may use (repeat for several)")
def create(name: str, unit_id: int, scopes: tuple[str, ...]) -> None:
    """Create a service account; prints its client id and secret (the secret only this once)."""
    unit = db.session.get(Unit, unit_id) if 0 < unit_id < 2**31 else None
    try:
        account, secret = create_account(None, name, unit, list(scopes))
    except DomainError as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(f"id             {account.id}\nclient_id      {account.client_id}\nclient_secret  {secret}")


@service_accounts_cli.command("list")
def list_accounts() -> None:
    """Every service account: id, client id, state, scopes, name (never a secret)."""
    rows = service_accounts()
    for a in rows:
        click.echo(f"{a.id:>4}  {a.client_id}  {account_state(a):8} {' '.join(a.scope_list):40} {a.name}")
    if not rows:
        click.echo("no service accounts")


@service_accounts_cli.command("rotate")
@click.argument("account_id", type=int)
def rotate(account_id: int) -> None:
    """A new secret (printed once); the old one and every token issued with it stop now."""
    account = _account(account_id)
    try:
        secret = rotate_secret(None, account)
    except DomainError as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(f"client_id      {account.client_id}\nclient_secret  {secret}")


@service_accounts_cli.command("revoke")
@click.argument("account_id", type=int)
def revoke(account_id: int) -> None:
    """Revoke the account for good: its credentials and tokens stop at once."""
    account = revoke_account(None, _account(account_id))
    db.session.commit()
    click.echo(f"revoked {account.client_id}")


@org_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check the file and print what would change; change nothing")
def import_org(file: Path, dry_run: bool) -> None:
    """Create or rename the regions and units FILE lists (CSV: docs/organisation.md). The whole file is checked
    first: any problem, each printed with its line, and nothing changes. Nothing is deleted or moved; running it
    again changes nothing."""
    if file.stat().st_size > MAX_FILE_BYTES:
        click.echo(f"refused: {file} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", err=True)
        sys.exit(1)
    try:
        plan = plan_import(file.read_bytes())
        changes = plan.changes if dry_run else apply_import(plan)
    except OrgFileRejected as exc:
        db.session.rollback()
        click.echo(f"refused: {file} has {len(exc.problems)} problem(s); nothing was changed", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for change in changes:
        click.echo(f"line {change.line}: {'would ' if dry_run else ''}{change.action} {change.what}")
    made = sum(c.action == "create" for c in changes)
    click.echo(f"{'dry run: ' if dry_run else ''}{made} created, {len(changes) - made} renamed, "
               f"{plan.unchanged} unchanged")
