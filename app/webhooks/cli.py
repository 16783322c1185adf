"""``flask webhooks``: register, list, pause and resume subscribers; show and redeliver deliveries."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.common.errors import DomainError
from app.common.sealed import SealError, new_key
from app.extensions import db
from app.notifications.operations import reseal_chat_secrets

from . import operations, queries
from .payloads import KINDS

webhooks_cli = AppGroup("webhooks", help="Other systems receiving signed events (docs/api.md, Webhooks).")


def _fail(exc: DomainError) -> click.ClickException:
    errors = getattr(exc, "errors", None) or {}
    detail = "; ".join(f"{field}: {' '.join(map(str, words))}" for field, words in errors.items())
    return click.ClickException(detail or str(exc))


@webhooks_cli.command("add")
@click.argument("url")
@click.option("--name", required=True, help="Who receives (e.g. 'Hotline 12355 call system')")
@click.option("--kind", "kinds", multiple=True, required=True, type=click.Choice(list(KINDS)),
              help="An event kind; repeat for several")
@click.option("--county", required=True, help="The county's region code, or * for every county")
@click.option("--paused", is_flag=True, help="Register it paused")
def add(url: str, name: str, kinds: tuple[str, ...], county: str, paused: bool) -> None:
    """Register a subscriber and print its secret (shown once: hand it to the receiving system)."""
    try:
        sub, secret = operations.subscribe(None, name=name, url=url, kinds=list(kinds), county=county,
                                           active=not paused)
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    click.echo(f"subscriber {sub.id} registered; its secret (shown once):")
    click.echo(secret)


@webhooks_cli.command("list")
def list_() -> None:
    """Every subscriber with its kinds, county, state and delivery counts (never its secret)."""
    subs = queries.subscriptions()
    counts = queries.status_counts([s.id for s in subs])
    for sub in subs:
        state = "active" if sub.active else "paused"
        tally = " ".join(f"{k}={v}" for k, v in sorted(counts[sub.id].items())) or "no deliveries"
        click.echo(f"{sub.id:4} {state:6} {sub.county_code:10} {sub.name} <{sub.url}> "
                   f"[{','.join(sub.kind_list)}] {tally}")


def _set_active(subscription_id: int, active: bool) -> None:
    sub = queries.subscription(subscription_id)
    if sub is None:
        raise click.ClickException(f"no subscriber {subscription_id}")
    operations.change(None, sub, active=active)
    db.session.commit()
    click.echo(f"subscriber {sub.id} {'resumed' if active else 'paused'}")


@webhooks_cli.command("pause")
@click.argument("subscription_id", type=int)
def pause(subscription_id: int) -> None:
    """Stop new deliveries; pending ones wait until it is resumed."""
    _set_active(subscription_id, False)


@webhooks_cli.command("resume")
@click.argument("subscription_id", type=int)
def resume(subscription_id: int) -> None:
    """Deliver again (the sweep sends what waited)."""
    _set_active(subscription_id, True)


@webhooks_cli.command("deliveries")
@click.argument("subscription_id", type=int)
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=50)
def deliveries(subscription_id: int, status: str | None, limit: int) -> None:
    """The subscriber's delivery log, newest first: status, attempts, answer, last error."""
    for row in db.session.scalars(queries.deliveries(subscription_id, status).limit(limit)):
        click.echo(f"{row.id:6} {row.kind:16} {row.status:9} attempts={row.attempts} "
                   f"http={row.response_status or '-'} {row.event_id} {row.last_error or ''}".rstrip())


@webhooks_cli.command("redeliver")
@click.argument("delivery_id", type=int)
def redeliver(delivery_id: int) -> None:
    """Send a delivery again (same event id) from a fresh set of attempts."""
    row = queries.delivery(delivery_id)
    if row is None:
        raise click.ClickException(f"no delivery {delivery_id}")
    try:
        operations.redeliver(None, row)
    except DomainError as exc:
        raise _fail(exc) from exc
    db.session.commit()
    click.echo(f"delivery {row.id} queued again")


@webhooks_cli.group("keys")
def keys() -> None:
    """The keys that seal subscribers' secrets at rest (LIANDONG_ENCRYPTION_KEYS; docs/api.md)."""


@keys.command("new")
def new_key_() -> None:
    """Print a fresh key: put it first in LIANDONG_ENCRYPTION_KEYS, restart, then run ``reseal``."""
    click.echo(new_key())


@keys.command("reseal")
def reseal_() -> None:
    """Seal every secret kept at rest again under the first key (webhook subscribers' and users' work-chat
    robots'), so the older keys can be dropped. All or nothing: one that no key opens changes none."""
    try:
        count = operations.reseal_secrets()
        chat = reseal_chat_secrets()
    except SealError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"{count} secrets sealed under the first key, and {chat} work-chat robot secrets; "
               "keys after it may now be removed")
