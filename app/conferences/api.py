"""REST endpoints for case conferences: schedule, read (audited), minutes and decisions, cancel, team view."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.cases.audit import audit
from app.cases.queries import get_case_for
from app.common.api import BEARER_SECURITY, committed, current_api_user, token_required
from app.common.clock import now
from app.common.errors import Forbidden, Invalid
from app.org.roles import Role

from . import operations
from .queries import conference_view, conferences_of_case, conferences_of_unit, team_view
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

blp = Blueprint("conferences", __name__, url_prefix="/api/v1/conferences", description="Case conferences (个案会商)")


@blp.route("")
class Conferences(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ConferenceListArgs, location="query")
    @blp.response(200, ConferenceBrief(many=True))
    @token_required
    @committed
    def get(self, args: dict[str, Any]) -> Any:
        """Conferences on a case you may see, or (without ``case_id``) those your unit takes part in."""
        user = current_api_user()
        if args.get("case_id") is not None:
            case, basis = get_case_for(user, args["case_id"])
            if basis.value == "reporter":
                raise Forbidden("you have no need to know this case")
            audit(user.id, "list", "conference", case.id, case_id=case.id, detail={"basis": basis.value})
            return conferences_of_case(case.id)
        if user.unit_id is None:
            raise Invalid("you belong to no unit", {"case_id": ["required"]})
        return conferences_of_unit(user.unit_id)

    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ConferenceIn)
    @blp.response(201, ConferenceOut)
    @token_required
    @committed
    def post(self, payload: dict[str, Any]) -> Any:
        """Schedule a conference: invited units get need-to-know access and a preparation task."""
        user = current_api_user()
        case, _basis = get_case_for(user, payload.pop("case_id"))
        conference = operations.schedule(case, user, **payload)
        return conference_view(conference, now()), 201


@blp.route("/team")
class Team(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(TeamArgs, location="query")
    @blp.response(200, TeamCaseOut(many=True))
    @token_required
    @committed
    def get(self, args: dict[str, Any]) -> Any:
        """The shared cases your conference team reviews, with what changed since the last conference."""
        user = current_api_user()
        unit_id = args.get("unit_id", user.unit_id)
        if unit_id != user.unit_id and not user.has_role(Role.COUNTY_COORDINATOR):
            raise Forbidden("you can see only your own unit's conference team")
        if unit_id is None:
            raise Invalid("you belong to no unit", {"unit_id": ["required"]})
        rows = team_view(unit_id, now())
        for row in rows:
            audit(user.id, "list", "case", row["case_id"], case_id=row["case_id"], detail={"via": "conference_team"})
        return rows


@blp.route("/<int:conference_id>")
class ConferenceResource(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, ConferenceOut)
    @token_required
    @committed
    def get(self, conference_id: int) -> Any:
        """The conference with its agenda, participants, minutes and actions (audited)."""
        user = current_api_user()
        conference = operations.get_conference(conference_id)
        basis = operations.ensure_can_see(user, conference)
        audit(user.id, "view", "conference", conference.id, case_id=conference.case_id, detail={"basis": basis})
        return conference_view(conference, now())


@blp.route("/<int:conference_id>/minutes")
class Minutes(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(MinutesIn)
    @blp.response(200, ConferenceOut)
    @token_required
    @committed
    def post(self, payload: dict[str, Any], conference_id: int) -> Any:
        """Record that the conference was held: minutes, attendance, and decisions that become tasks."""
        conference = operations.get_conference(conference_id)
        operations.record_minutes(conference, current_api_user(), **payload)
        return conference_view(conference, now())


@blp.route("/<int:conference_id>/actions")
class Actions(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(DecisionsIn)
    @blp.response(201, ConferenceOut)
    @token_required
    @committed
    def post(self, payload: dict[str, Any], conference_id: int) -> Any:
        """Add decisions to a held conference; each becomes a task in its unit's queue."""
        conference = operations.get_conference(conference_id)
        operations.add_actions(conference, current_api_user(), payload["decisions"])
        return conference_view(conference, now()), 201


@blp.route("/<int:conference_id>/cancel")
class Cancel(MethodView):
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(CancelIn)
    @blp.response(200, ConferenceOut)
    @token_required
    @committed
    def post(self, payload: dict[str, Any], conference_id: int) -> Any:
        """Call a scheduled conference off; preparation tasks are withdrawn."""
        conference = operations.get_conference(conference_id)
        operations.cancel(conference, current_api_user(), payload["reason"])
        return conference_view(conference, now())
