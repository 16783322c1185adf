"""Shared by the designer tests: the demo county with only the four-in-one process deployed."""

from __future__ import annotations

from typing import Any

from flask import current_app

from app.extensions import db


def four_in_one_demo() -> dict[str, Any]:
    from app.org.demo import load_demo
    from app.processes.operations import deploy_folder

    settings = current_app.config["LIANDONG"]
    logins = load_demo()
    deploy_folder(settings.bpmn_dir / "four_in_one", settings.forms_dir, note="tests")
    db.session.commit()
    return {login.username: login for login in logins}
