"""``flask demo``, ``flask users``, ``flask processes`` and ``flask settings`` commands. Each command commits once."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.cases.operations import file_report
from app.cases.schemas import ReportIn
from app.common.clock import now
from app.common.errors import DomainError, Invalid
from app.common.settings_doc import DOC_PATH, render_doc
from app.deadlines.ladder import seed_default_ladders
from app.duties.demo import load_demo_children
from app.duties.scheduler import start_due_duties
from app.extensions import db
from app.org.administration import add_first_admin, revoke_user_token, revoke_user_tokens
from app.org.county_settings import OVERRIDABLE, county_value, set_county_value
from app.org.demo import DEMO_PASSWORD, load_demo
from app.org.models import ApiToken
from app.org.operations import issue_token
from app.org.queries import region_by_code, token_state, tokens_of, user_by_username
from app.processes.operations import BundleRejected, deploy_folder
from app.tasks import operations
from app.tasks.queries import TaskFilter, task_query
from app.workflow import commands

demo_cli = AppGroup("demo", help="The demo county.")
users_cli = AppGroup("users", help="Users and API tokens.")
processes_cli = AppGroup("processes", help="Process definitions.")
settings_cli = AppGroup("settings", help="Show the settings in force, or write docs/settings.md.")


def deploy_shipped(note: str = "", reinstate: bool = True, county: str = "*",
                   folders: list[Path] | None = None) -> list[str]:
    """Deploy every process folder under ``bpmn/`` (or the ``folders`` given); unchanged folders keep their version.

    A folder whose content an older version has makes that version current again, unless
    ``reinstate`` is False (``demo load`` must not undo what a designer deployed since). With ``county``
    (a region code) the versions are current for that county's new cases only.
    """

    settings = current_app.config["LIANDONG"]
    lines = []
    for folder in folders or sorted(p for p in settings.bpmn_dir.iterdir() if p.is_dir()):
        spec = deploy_folder(folder, settings.forms_dir, note=note, reinstate=reinstate, county=county)
        lines.append(f"{spec.process_key} v{spec.version} ({spec.content_hash[:12]})")
    return lines


@demo_cli.command("load")
def demo_load() -> None:
    """Create the demo county and its logins (idempotent), and deploy the shipped processes."""

    logins = load_demo()
    deployed = deploy_shipped("demo load", reinstate=False)

    seed_default_ladders()  # the built-in escalation ladders as editable rows

    enrolled = load_demo_children()  # children in the programme, so recurring duties start in the demo
    started = start_due_duties(now())
    db.session.commit()
    click.echo(f"Programme: {enrolled} child(ren) enrolled, {started} duty cycle(s) started")
    click.echo("Processes: " + ", ".join(deployed))
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for login in logins:
        click.echo(f"  {login.username:32} {login.roles:34} {login.display_name}")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="a label for the token")
@click.option("--days", type=int, default=None, help="lifetime in days (default LIANDONG_TOKEN_TTL_DAYS, 30)")
def users_token(username: str, name: str, days: int | None) -> None:
    """Print a new bearer token for USERNAME (shown once; only its hash is stored)."""

    user = _user_or_exit(username)
    try:
        token = issue_token(user, name=name, ttl_days=days)
    except Invalid as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(token)


@users_cli.command("create-admin")
@click.argument("username")
@click.option("--region", "region_code", required=True,
              help="code of the region the administrator manages (a county, or the province for every county)")
@click.option("--name", "display_name", default="", help="the name shown to others (default: USERNAME)")
@click.password_option(help="at least 8 characters; asked twice when not given")
def users_create_admin(username: str, region_code: str, display_name: str, password: str) -> None:
    """Create an administrator for a region: the first account of a new installation, or a county's own admin.

    Administrators act only inside their region (``org.jurisdiction``), so one without a region could manage
    nobody; pages and the API can only create accounts inside an existing admin's region, which leaves the
    shell as the one way to make the first. Audited with no acting user (the CLI)."""

    region = region_by_code(region_code)
    if region is None:
        click.echo(f"no region {region_code!r}", err=True)
        sys.exit(1)
    if user_by_username(username) is not None:
        click.echo(f"user {username!r} exists", err=True)
        sys.exit(1)
    try:
        add_first_admin(username, password, region, display_name=display_name)
    except Invalid as exc:
        _fail(exc)
        return
    db.session.commit()
    click.echo(f"administrator {username} for {region.name} ({region.code})")


@users_cli.command("tokens")
@click.argument("username")
def users_tokens(username: str) -> None:
    """List USERNAME's tokens: id, name, created, expires, last used, state (never the token itself)."""

    user = user_by_username(username)
    if user is None:
        click.echo(f"no user {username!r}", err=True)
        sys.exit(1)
    rows = tokens_of(user.id)
    for t in rows:
        used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
        expires = t.expires_at.isoformat(timespec="minutes") if t.expires_at else "never"
        click.echo(f"{t.id:6}  {t.name:20} created {t.created_at.isoformat(timespec='minutes')}  "
                   f"expires {expires}  last used {used}  {token_state(t)}")
    if not rows:
        click.echo("no tokens")


@users_cli.command("revoke-token")
@click.argument("token_ids", nargs=-1, type=int)
@click.option("--user", "username", default=None, help="revoke every token of this user")
def users_revoke_token(token_ids: tuple[int, ...], username: str | None) -> None:
    """Revoke tokens by id (see `flask users tokens`), or all of one user's with --user."""

    if not token_ids and not username:
        click.echo("name token ids or --user USERNAME", err=True)
        sys.exit(2)
    revoked = 0
    if username:
        user = user_by_username(username)
        if user is None:
            click.echo(f"no user {username!r}", err=True)
            sys.exit(1)
        revoked += revoke_user_tokens(None, user)
    for token_id in token_ids:
        token = db.session.get(ApiToken, token_id)
        if token is None:
            db.session.rollback()
            click.echo(f"no token {token_id}", err=True)
            sys.exit(1)
        if token.revoked_at is None:
            revoked += 1
        revoke_user_token(None, token)
    db.session.commit()
    click.echo(f"revoked {revoked} token(s)")


@processes_cli.command("deploy")
@click.option("--note", default="", help="why this version")
@click.option("--county", default="*", help="a county's region code: its new cases only start on these versions")
@click.option("--folder", "folders", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="a process folder to deploy instead of every folder under bpmn/ (repeatable)")
def processes_deploy(note: str, county: str, folders: tuple[Path, ...]) -> None:
    """Validate and deploy the process folders under bpmn/; new cases start on what they hold.

    Identical content is not stored twice: the version that has it becomes current again (audited).
    ``--county c02 --folder my/four_in_one`` gives one county its own version (other deadlines, say);
    every other county keeps the deployment's.
    """

    try:
        lines = deploy_shipped(note, county=county, folders=list(folders) or None)
    except BundleRejected as exc:
        db.session.rollback()
        click.echo("refused:", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    except Invalid as exc:  # not a county
        db.session.rollback()
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    for line in lines:
        click.echo(line)


reports_cli = AppGroup("reports", help="Accept reports from the command line (hotline desk, imports).")
tasks_cli = AppGroup("tasks", help="Work a unit's tasks from the command line.")


def _user_or_exit(username: str):  # type: ignore[no-untyped-def]

    user = user_by_username(username)
    if user is None or not user.active:
        click.echo(f"no active user {username!r}", err=True)
        sys.exit(1)
    return user


def _fail(exc: Exception) -> None:
    db.session.rollback()
    if isinstance(exc, DomainError):
        click.echo(f"refused ({exc.status}): {exc.message}", err=True)
        for field, messages in exc.errors.items():
            click.echo(f"  {field}: {messages}", err=True)
        sys.exit(2)
    raise exc


@reports_cli.command("submit")
@click.option("--as", "username", required=True, help="the submitting user")
@click.argument("payload", type=click.File("r", encoding="utf-8"))
def reports_submit(username: str, payload) -> None:  # type: ignore[no-untyped-def]
    """Accept a report from a JSON file (same body as POST /api/v1/reports); '-' reads stdin."""
    import json

    from marshmallow import ValidationError

    user = _user_or_exit(username)
    try:
        body = ReportIn().load(json.load(payload))
        accepted = file_report(body, user)
        db.session.commit()
    except ValidationError as exc:
        _fail(Invalid("report is not valid", exc.messages_dict))
        return
    except DomainError as exc:
        _fail(exc)
        return
    case, earlier = accepted.case, accepted.possible_duplicate_of
    if case is None:
        ids = ", ".join(str(m.child_id) for m in accepted.likely_matches)
        click.echo(f"held: children on file with this name, birth date and village (ids {ids}); add "
                   f"\"id\": <one of them> to \"child\", or \"confirm_new_child\": true")
        return
    if earlier is not None and not accepted.created:
        click.echo(f"held: {case.number} (id {case.id}) has a report by you about this child from "
                   f"{earlier.received_at:%H:%M}; to file a new one anyway add \"confirm_duplicate\": true")
        return
    flag = f" (possible duplicate of {earlier.case.number})" if earlier is not None else ""
    verb = {"added_to_open_case": "added to the open", "replayed": "already received"}.get(accepted.outcome, "opened")
    click.echo(f"{verb}: case {case.number} (id {case.id}){flag}")


@tasks_cli.command("list")
@click.option("--as", "username", required=True, help="whose unit's queue")
@click.option("--overdue", is_flag=True, help="only overdue tasks")
def tasks_list(username: str, overdue: bool) -> None:
    """Open tasks of the user's unit, soonest due first."""

    user = _user_or_exit(username)
    at = now()
    rows = db.session.scalars(task_query(
        TaskFilter(unit_id=user.unit_id, state="open", overdue=True if overdue else None), at)).all()
    for t in rows:
        due = t.due_at.isoformat(timespec="minutes") if t.due_at else "-"
        flag = " OVERDUE" if t.is_overdue(at) else ""
        click.echo(f"{t.id:6}  case {t.case_id:<6} {t.bpmn_id:42} due {due}{flag}")
    if not rows:
        click.echo("no open tasks")


@tasks_cli.command("complete")
@click.option("--as", "username", required=True, help="the liaison completing the task")
@click.argument("task_id", type=int)
@click.argument("data", default="{}")
def tasks_complete(username: str, task_id: int, data: str) -> None:
    """Complete TASK_ID with DATA (a JSON object, validated against the step's form)."""
    import json

    user = _user_or_exit(username)
    try:
        parsed = json.loads(data)
        task = commands.complete(operations.get_task(task_id), user, parsed)
        db.session.commit()
    except json.JSONDecodeError as exc:
        _fail(Invalid(f"DATA is not JSON: {exc}"))
        return
    except DomainError as exc:
        _fail(exc)
        return
    click.echo(f"completed task {task.id} ({task.bpmn_id})")


@settings_cli.command("show")
def show() -> None:
    """Print each setting in force, ``VARIABLE=value``; secrets and URL passwords masked."""
    settings = current_app.config["LIANDONG"]
    for key, value in settings.shown().items():
        click.echo(f"{key}={value}")


@settings_cli.command("county")
@click.argument("name", type=click.Choice(OVERRIDABLE))
@click.argument("value", required=False)
@click.option("--county", "county_code", required=True, help="the county's region code")
@click.option("--unset", is_flag=True, help="remove the county's own value (the variable's applies again)")
def county_setting(name: str, value: str | None, county_code: str, unset: bool) -> None:
    """Print, set or remove a county's own value of NAME (docs/settings.md, "County overrides"). Audited."""
    try:
        if value is not None or unset:
            set_county_value(name, county_code, None if unset else value)
            db.session.commit()
        county = region_by_code(county_code)
        click.echo(f"{county_code} {name}={county_value(name, county.id if county else None)}")
    except DomainError as exc:
        _fail(exc)


@settings_cli.command("doc")
@click.option("--check", is_flag=True, help="Exit 1 when docs/settings.md differs from the code.")
def doc(check: bool) -> None:
    """Print docs/settings.md as generated from the settings class."""
    text = render_doc()
    if check:
        if DOC_PATH.read_text(encoding="utf-8") != text:
            raise click.ClickException("docs/settings.md is out of date: flask settings doc > docs/settings.md")
        click.echo("docs/settings.md is up to date")
        return
    click.echo(text, nl=False)


from app.processes import cli as _designer_commands  # noqa: E402,F401  (history, diff, migrate, rollback, designer)
