"""Tell lower layers about conference teams: the escalation ladders (the ``conference_team`` audience) and
the need-to-know rule (the ``conference`` basis, ``app.cases.access``)."""

from __future__ import annotations

from app.cases.access import Basis, register_basis
from app.deadlines.escalation import LadderCase, LadderTask, register_audience
from app.org.models import User

from .queries import PREPARE_STEP, cases_invited_to, conference_team_users, conference_teams, invited_to_case

STEPS_WITHOUT_UNIT_BASIS = (PREPARE_STEP,)
"""A unit asked to prepare for a conference sees the case through its invitation, not through that task."""


def _team(task: LadderTask, case: LadderCase) -> list[User]:
    return conference_team_users(case.id)


def connect() -> None:
    """Called once by ``create_app``; registering again replaces the resolver and the provider."""

    register_audience("conference_team", _team, conference_teams)
    register_basis(Basis.CONFERENCE, invited_to_case, cases_invited_to)
