"""The systemd units in deploy/systemd/ start commands that exist, with options they accept: a renamed CLI
option or a moved config file fails here, not on a county's server at 02:30."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import click
import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("liandong-*"))
INSTALL = "/opt/liandong"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def _exec_lines(path: Path) -> list[list[str]]:
    """Every ExecStart= line (a oneshot may have several; configparser keeps the last, so read them here)."""
    lines = [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith("ExecStart=")]
    return [shlex.split(line.replace("%i", "engine,notify,default")) for line in lines]


def test_every_unit_names_what_it_needs() -> None:
    names = {p.name for p in UNITS}
    assert {"liandong-web.service", "liandong-cron.service", "liandong-worker@.service", "liandong-backup.service",
            "liandong-backup.timer"} <= names
    for path in UNITS:
        unit = _unit(path)
        if path.suffix == ".timer":
            assert (path.with_suffix(".service")).exists(), path.name  # a timer starts the service of its name
            assert unit["Timer"]["OnCalendar"] and unit["Timer"]["Persistent"] == "true"
            continue
        service = unit["Service"]
        assert service["User"] == "liandong" and service["EnvironmentFile"] == "/etc/liandong/liandong.env", path.name
        assert service["ProtectSystem"] == "strict" and "/opt/liandong/instance" in service["ReadWritePaths"], path.name
        assert _exec_lines(path), path.name
    backup = _unit(ROOT / "deploy/systemd/liandong-backup.service")["Service"]
    assert backup["Type"] == "oneshot" and backup["UMask"] == "0077"  # archives hold the secret key
    assert "/var/backups/liandong" in backup["ReadWritePaths"]


@pytest.mark.parametrize("path", [p for p in UNITS if p.suffix == ".service"], ids=lambda p: p.name)
def test_every_command_a_unit_starts_exists_with_those_options(app: Flask, path: Path) -> None:
    for argv in _exec_lines(path):
        program, args = argv[0], argv[1:]
        assert program.startswith(f"{INSTALL}/.venv/bin/"), program
        if program.endswith("/gunicorn"):
            assert args[:1] == ["--config"] and (ROOT / args[1]).is_file(), args
            continue
        assert program.endswith("/flask"), program
        with app.app_context():
            ctx = click.Context(app.cli)
            command: click.Command | None = app.cli
            while isinstance(command, click.Group) and args and not args[0].startswith("-"):
                command, args = command.get_command(ctx, args[0]), args[1:]
                assert command is not None, argv
            assert command is not None
            command.make_context(command.name or "", list(args))  # raises on an unknown option or a bad value
