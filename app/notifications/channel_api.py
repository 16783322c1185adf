"""REST endpoints for notification channels: your choice per kind of notification, and what was delivered.

Everyone manages only their own channels. The delivery list is yours; an admin may ask for everyone's
(``everyone=true``): those of the users they manage (their jurisdiction, ``org.jurisdiction``), which carry no
title or body, so no child's data (the kind, the channel, the state).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, SelectPage, current_api_user
from app.common.errors import Forbidden
from app.org.roles import Role

from .channel_schemas import (
    ChannelDeliveryArgs,
    ChannelDeliveryPage,
    ChannelPreferencesIn,
    ChannelPreferencesOut,
)
from .channels import parse_preferences
from .operations import set_channels
from .queries import channel_settings, deliveries

blp = ApiBlueprint("notification_channels", __name__, url_prefix="/api/v1/notification-channels",
                   description="Where your notifications go (email, SMS, work chat) and what was delivered")


@blp.route("/preferences")
class Preferences(MethodView):
    @blp.endpoint(writes=False, scope=PEOPLE_ONLY)
    @blp.response(200, ChannelPreferencesOut)
    def get(self) -> Any:
        """Your channels per kind of notification, quiet hours, your phone number and work-chat robot."""
        return channel_settings(current_api_user())

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(ChannelPreferencesIn)
    @blp.response(200, ChannelPreferencesOut)
    def put(self, body: dict[str, Any]) -> Any:
        """Replace your channel choice (every kind you name; `*` for the rest); addresses left out stay."""
        user = current_api_user()
        set_channels(user, parse_preferences(body["kinds"], body["quiet"]), phone=body.get("phone"),
                     chat_url=body.get("chat_url"), chat_secret=body.get("chat_secret"))
        return channel_settings(user)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @blp.endpoint(writes=False, scope=PEOPLE_ONLY)
    @blp.arguments(ChannelDeliveryArgs, location="query")
    @blp.response(200, ChannelDeliveryPage)
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Your SMS and work-chat deliveries, newest first (admins: `everyone=true` for those of every user in
        their jurisdiction)."""
        user = current_api_user()
        if args["everyone"] and not user.has_role(Role.ADMIN):
            raise Forbidden("only admins see everyone's deliveries")
        return deliveries(user, everyone=args["everyone"], state=args.get("state"), channel=args.get("channel"))
