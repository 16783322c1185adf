"""``flask service-accounts``: create, list, rotate and revoke machine clients. Each command commits once.

The secret is printed once (create, rotate) and never stored; changes are audited with no user (the CLI).
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.common.errors import DomainError
from app.common.scopes import SCOPES
from app.extensions import db

from .models import ServiceAccount, Unit
from .service_accounts import account_state, create_account, revoke_account, rotate_secret, service_accounts

service_accounts_cli = AppGroup("service-accounts", help="Machine clients with client credentials and scoped tokens.")


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
