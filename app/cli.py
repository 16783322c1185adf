"""``flask demo``, ``flask users`` and ``flask processes`` commands. Each command commits once."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

demo_cli = AppGroup("demo", help="The demo county.")
users_cli = AppGroup("users", help="Users and API tokens.")
processes_cli = AppGroup("processes", help="Process definitions.")


def deploy_shipped(note: str = "") -> list[str]:
    """Deploy every process folder under ``bpmn/``; unchanged folders keep their version."""
    from app.processes.operations import deploy_folder

    settings = current_app.config["LIANDONG"]
    lines = []
    for folder in sorted(p for p in settings.bpmn_dir.iterdir() if p.is_dir()):
        spec = deploy_folder(folder, settings.forms_dir, note=note)
        lines.append(f"{spec.process_key} v{spec.version} ({spec.content_hash[:12]})")
    return lines


@demo_cli.command("load")
def demo_load() -> None:
    """Create the demo county and its logins (idempotent), and deploy the shipped processes."""
    from app.org.demo import DEMO_PASSWORD, load_demo

    logins = load_demo()
    deployed = deploy_shipped("demo load")
    db.session.commit()
    click.echo("Processes: " + ", ".join(deployed))
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for login in logins:
        click.echo(f"  {login.username:32} {login.roles:34} {login.display_name}")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="a label for the token")
def users_token(username: str, name: str) -> None:
    """Print a new bearer token for USERNAME (shown once; only its hash is stored)."""
    from app.org.operations import issue_token
    from app.org.queries import user_by_username

    user = user_by_username(username)
    if user is None or not user.active:
        click.echo(f"no active user {username!r}", err=True)
        sys.exit(1)
    token = issue_token(user, name=name, ttl_days=current_app.config["LIANDONG"].token_ttl_days)
    db.session.commit()
    click.echo(token)


@processes_cli.command("deploy")
@click.option("--note", default="", help="why this version")
def processes_deploy(note: str) -> None:
    """Validate and deploy the process folders under bpmn/ (identical content is not redeployed)."""
    from app.processes.operations import BundleRejected

    try:
        lines = deploy_shipped(note)
    except BundleRejected as exc:
        db.session.rollback()
        click.echo("refused:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    db.session.commit()
    for line in lines:
        click.echo(line)
