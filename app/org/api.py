"""REST endpoints about the caller and the organisation, and the caller's bearer tokens."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.common.api import abort
from app.common.clock import now
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, ObjectOut, current_api_user, list_of
from app.common.errors import Invalid
from app.common.inputs import Id, Moment
from app.extensions import db
from app.org.absence import ON_RETURN, absence_state, current_or_next, end_absence, may_set_for, set_absence
from app.org.absence import AbsenceIn as AbsenceForm
from app.org.administration import revoke_user_token
from app.org.jurisdiction import manages_user, unknown
from app.org.models import ApiToken, User
from app.org.queries import token_state, tokens_of
from app.org.roles import Role
from app.tasks.handover import run_due

blp = ApiBlueprint("org", __name__, url_prefix="/api/v1", description="Who am I, my unit, my tokens, absences")


class MeOut(ObjectOut):
    """The signed-in ``User`` dumped as it is."""

    computed = {
        "roles": lambda user: sorted(r.value for r in user.roles),
        "region": lambda user: user.region.code if user.region else None,
        "unit": lambda user: {"id": user.unit.id, "name": user.unit.name, "kind": user.unit.kind} if user.unit else None,
    }

    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    unit = fields.Dict(allow_none=True)
    region = fields.String(allow_none=True)


@blp.route("/me")
class Me(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, MeOut)
    def get(self) -> Any:
        """The token's user, roles and unit."""
        return current_api_user()


class TokenOut(ObjectOut):
    """An ``ApiToken`` dumped as it is (never the token itself: the row keeps only its hash)."""

    computed = {"username": lambda token: token.user.username, "state": token_state}

    id = fields.Integer()
    user_id = fields.Integer()
    username = fields.String()
    name = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "recorded at most once a minute"})
    revoked_at = fields.DateTime(allow_none=True)
    state = fields.String(metadata={"description": "active, expired, revoked, password_reset, deactivated, "
                                                   "access_changed"})


TokenListOut = list_of(TokenOut, "TokenListOut")


class TokenQuery(Schema):
    user_id = Id(metadata={"description": "administrators: another user's tokens"})


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(TokenQuery, location="query")
    @blp.response(200, TokenListOut)
    def get(self, args: dict[str, Any]) -> Any:
        """Your bearer tokens (never the token itself); administrators may ask for the tokens of a user in their
        jurisdiction (anyone else's list is empty, as an unknown user's is)."""

        user = current_api_user()
        user_id = args.get("user_id", user.id)
        if user_id != user.id and not user.has_role(Role.ADMIN):
            abort(403, message="only administrators list other users' tokens")
        owner = db.session.get(User, user_id) if user_id != user.id else user
        if owner is not None and owner is not user and not manages_user(user, owner):
            unknown(user, "user", owner.id, "no such user")  # recorded; answered as an unknown user
            return {"items": []}
        return {"items": tokens_of(user_id)}


@blp.route("/tokens/<int:token_id>/revoke")
class RevokeToken(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, TokenOut)
    def post(self, token_id: int) -> Any:
        """Revoke a token: it stops working at once (idempotent). Yours, or anyone's for administrators."""

        user = current_api_user()
        token = db.session.get(ApiToken, token_id)
        if token is None or (token.user_id != user.id and not user.has_role(Role.ADMIN)):
            abort(404, message="no such token")
        revoke_user_token(user, token)  # an administrator's: 404 outside their jurisdiction
        return token


class AbsenceIn(Schema):
    starts_at = Moment(required=True, metadata={"description": "when the absence begins (with an offset)"})
    ends_at = Moment(required=True, metadata={"description": "when it ends: after the start, in the future, "
                                                             "at most 366 days after the start"})
    substitute_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1),
                                   metadata={"description": "an active liaison or head of the same unit who is not "
                                                            "away then; null: the unit's heads receive what is "
                                                            "meant for the person, and the tasks stay"})
    on_return = fields.String(load_default="return", validate=validate.OneOf(ON_RETURN), metadata={
        "description": "`return`: at the end the tasks handed over go back to the person; `stay`: they stay "
                       "with the substitute"})


class AbsenceOut(ObjectOut):
    """An ``Absence`` dumped as it is, with the names of the people and where it stands."""

    computed = {
        "user": lambda a: a.user.display_name,
        "substitute": lambda a: a.substitute.display_name if a.substitute else None,
        "state": lambda a: absence_state(a, now()),
    }

    id = fields.Integer()
    user_id = fields.Integer()
    user = fields.String()
    substitute_id = fields.Integer(allow_none=True)
    substitute = fields.String(allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    on_return = fields.String()
    state = fields.String(metadata={"description": "scheduled, under_way, or ended"})
    handed_over_at = fields.DateTime(allow_none=True, metadata={"description": "when the tasks went to the substitute"})
    settled_at = fields.DateTime(allow_none=True, metadata={"description": "when they came back (or were kept)"})
    cancelled_at = fields.DateTime(allow_none=True)


def _person(user_id: int) -> User:
    """The person whose absence is asked about: themselves or, for a unit head, a member of the unit (else 404,
    so an outsider cannot learn who exists)."""
    caller = current_api_user()
    user = db.session.get(User, user_id)
    if user is None or not may_set_for(caller, user):
        abort(404, message="no such member of your unit")
    return user


@blp.route("/users/<int:user_id>/absence")
class UserAbsence(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, AbsenceOut)
    def get(self, user_id: int) -> Any:
        """The person's absence under way, else the next one set (404 when none). Yours, or a member's of your
        unit for a unit head."""
        absence = current_or_next(_person(user_id).id)
        if absence is None:
            abort(404, message="no absence set")
        return absence

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(AbsenceIn)
    @blp.response(200, AbsenceOut)
    def put(self, payload: dict[str, Any], user_id: int) -> Any:
        """Set or change the absence (one at a time). From its start the person's claimed tasks are with the
        substitute and their reminders and escalations go to the substitute (or the unit's heads when none is
        named); an absence that has begun keeps its start and substitute. Audited; 422 names each bad field."""
        user = _person(user_id)
        substitute = None
        if payload["substitute_id"] is not None:
            substitute = db.session.get(User, payload["substitute_id"])
            if substitute is None or substitute.unit_id != user.unit_id:  # the same words: ids cannot be probed
                raise Invalid("the absence cannot be set", {"substitute_id": [
                    "an active liaison or head of the same unit (a person, not a service account)"]})
        absence = set_absence(user, current_api_user(), AbsenceForm(
            payload["starts_at"], payload["ends_at"], substitute, payload["on_return"]))
        run_due(now(), [absence.id])  # an absence already under way hands over at once
        return absence

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, AbsenceOut)
    def delete(self, user_id: int) -> Any:
        """End the absence now (or withdraw one not yet begun): the tasks come back or stay, as it says. 404
        when none is set."""
        absence = end_absence(_person(user_id), current_api_user())
        if absence is None:
            abort(404, message="no absence set")
        run_due(now(), [absence.id])
        return absence
