"""REST endpoints for case conferences: schedule, read (audited), minutes and decisions, cancel, team view."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.audit.operations import audit
from app.cases.access import Basis, CaseAccess, case_access, oversees_tasks, require_case, works_tasks
from app.cases.models import Case
from app.cases.queries import get_case_for
from app.common.clock import now
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, current_api_user
from app.common.errors import Forbidden, Invalid
from app.extensions import db
from app.org.models import User

from . import operations
from .models import Conference
from .queries import conference_view_for, conferences_of_case, conferences_of_unit, team_view
from .schemas import (
    CancelIn,
    ConferenceBrief,
    ConferenceIn,
    ConferenceListArgs,
    ConferenceOut,
    DecisionsIn,
    MinutesIn,
    TeamArgs,
    TeamCaseOut,
)


def _shown(conference: Conference, user: User) -> dict[str, Any]:
    """The conference as ``user`` may read it; one who has just lost their basis (cancelling the conference
    that was it) gets it with every step's free text cut."""
    case = db.session.get(Case, conference.case_id)
    assert case is not None
    access = case_access(user, case) or CaseAccess(user, case, Basis.REPORTER)
    return conference_view_for(conference, access, now())


blp = ApiBlueprint("conferences", __name__, url_prefix="/api/v1/conferences", description="Case conferences (个案会商)")


@blp.route("")
class Conferences(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(ConferenceListArgs, location="query")
    @blp.response(200, ConferenceBrief(many=True))
    @blp.alt_response(404, response="NOT_FOUND")  # the case filtered on
    def get(self, args: dict[str, Any]) -> Any:
        """Conferences on a case you may see, or (without ``case_id``) those your unit takes part in."""
        user = current_api_user()
        if args.get("case_id") is not None:
            access = require_case(user, args["case_id"], detail=True)
            audit(user.id, "list", "conference", access.case.id, case_id=access.case.id,
                  detail={"basis": access.basis.value})
            return conferences_of_case(access.case.id)
        if not works_tasks(user):
            raise Forbidden("only a unit's liaisons and head list its conferences; others name a case_id")
        return [c for c in conferences_of_unit(user.unit_id) if operations.visible_basis(user, c) is not None]

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(ConferenceIn)
    @blp.response(201, ConferenceOut)
    @blp.alt_response(404, response="NOT_FOUND")  # the case the conference is about
    def post(self, payload: dict[str, Any]) -> Any:
        """Schedule a conference: invited units get need-to-know access and a preparation task."""
        user = current_api_user()
        case, _basis = get_case_for(user, payload.pop("case_id"))
        conference = operations.schedule(case, user, **payload)
        return _shown(conference, current_api_user()), 201


@blp.route("/team")
class Team(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(TeamArgs, location="query")
    @blp.response(200, TeamCaseOut(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """The shared cases your conference team reviews, with what changed since the last conference."""
        user = current_api_user()
        if not (works_tasks(user) or oversees_tasks(user)):
            raise Forbidden("conference teams are for units' liaisons and heads and county coordinators")
        unit_id = args.get("unit_id", user.unit_id)
        if unit_id != user.unit_id and not oversees_tasks(user):
            raise Forbidden("you can see only your own unit's conference team")
        if unit_id is None:
            raise Invalid("you belong to no unit", {"unit_id": ["required"]})
        rows = team_view(unit_id, now(), user)
        for row in rows:
            audit(user.id, "list", "case", row["case_id"], case_id=row["case_id"], detail={"via": "conference_team"})
        return rows


@blp.route("/<int:conference_id>")
class ConferenceResource(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, ConferenceOut)
    def get(self, conference_id: int) -> Any:
        """The conference with its agenda, participants, minutes and actions (audited)."""
        user = current_api_user()
        conference = operations.get_conference(conference_id)
        operations.ensure_can_see(user, conference)
        access = require_case(user, conference.case_id, detail=True)
        audit(user.id, "view", "conference", conference.id, case_id=conference.case_id,
              detail={"basis": access.basis.value})
        return conference_view_for(conference, access, now())


@blp.route("/<int:conference_id>/minutes")
class Minutes(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(MinutesIn)
    @blp.response(200, ConferenceOut)
    def post(self, payload: dict[str, Any], conference_id: int) -> Any:
        """Record that the conference was held: minutes, attendance, and decisions that become tasks."""
        conference = operations.get_conference(conference_id)
        operations.record_minutes(conference, current_api_user(), **payload)
        return _shown(conference, current_api_user())


@blp.route("/<int:conference_id>/actions")
class Actions(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(DecisionsIn)
    @blp.response(201, ConferenceOut)
    def post(self, payload: dict[str, Any], conference_id: int) -> Any:
        """Add decisions to a held conference; each becomes a task in its unit's queue."""
        conference = operations.get_conference(conference_id)
        operations.add_actions(conference, current_api_user(), payload["decisions"])
        return _shown(conference, current_api_user()), 201


@blp.route("/<int:conference_id>/cancel")
class Cancel(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(CancelIn)
    @blp.response(200, ConferenceOut)
    def post(self, payload: dict[str, Any], conference_id: int) -> Any:
        """Call a scheduled conference off; preparation tasks are withdrawn."""
        conference = operations.get_conference(conference_id)
        operations.cancel(conference, current_api_user(), payload["reason"])
        return _shown(conference, current_api_user())
