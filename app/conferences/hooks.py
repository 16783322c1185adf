"""Tell the escalation ladders who a case's conference team is (the ``conference_team`` audience)."""

from __future__ import annotations

from app.cases.models import Case
from app.org.models import User
from app.tasks.models import Task

from .queries import conference_team_users


def _team(task: Task, case: Case) -> list[User]:
    return conference_team_users(case.id)


def connect() -> None:
    """Called once by ``create_app``; registering again replaces the resolver."""
    from app.tasks.escalation import register_audience

    register_audience("conference_team", _team)
