"""Marshmallow schemas of the notification channels API: a user's choice per kind, their deliveries."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.common.endpoints import ObjectOut, page_of
from app.common.signed_http import valid_secret

from .channels import (
    CHANNELS,
    OUTSIDE,
    PreferenceError,
    chat_address_problem,
    parse_preferences,
    phone_problem,
)

STATES = ("queued", "held", "sent", "failed")


class ChannelKindOut(Schema):
    kind = fields.String()
    label = fields.String()


class ChannelPreferencesOut(Schema):
    kinds = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "channels per kind of notification besides the app (always on); `*`: every other kind. "
                       "Channels: email, sms, chat"})
    quiet = fields.Boolean(metadata={"description": "hold SMS and work chat outside working time on the county "
                                                    "calendar (urgent first-moment steps are sent at once)"})
    offered = fields.List(fields.String(), metadata={"description": "channels this installation can send on"})
    known_kinds = fields.List(fields.Nested(ChannelKindOut))
    phone = fields.String(allow_none=True, metadata={"description": "your number for SMS (null: none)"})
    chat_url = fields.String(allow_none=True, metadata={
        "description": "your work-chat robot, shown up to its host only (its path carries the robot's key)"})
    chat_secret_set = fields.Boolean(metadata={"description": "whether the robot's signing secret is set "
                                                              "(never shown back)"})
    chat_secure = fields.Boolean(metadata={"description": "the robot is on a system the county runs: messages "
                                                          "there carry the case's title"})


class ChannelPreferencesIn(Schema):
    kinds = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=40)),
                        values=fields.List(fields.String(validate=validate.OneOf(CHANNELS)),
                                           validate=validate.Length(max=len(CHANNELS))),
                        required=True, validate=validate.Length(max=40))
    quiet = fields.Boolean(load_default=True)
    phone = fields.String(validate=validate.Length(max=16), metadata={
        "description": "digits, an optional leading +; empty string removes it; absent: unchanged"})
    chat_url = fields.String(validate=validate.Length(max=2000), metadata={
        "description": "the robot's address (under an allowed prefix); empty string removes it; absent: unchanged"})
    chat_secret = fields.String(validate=validate.Length(max=200), metadata={
        "description": "the robot's signing secret, `whsec_` + base64 (Standard Webhooks); empty: unsigned"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        try:
            preferences = parse_preferences(data["kinds"], data.get("quiet", True))
        except PreferenceError as exc:
            raise ValidationError(str(exc), field_name="kinds") from None
        if data.get("phone") and (problem := phone_problem(data["phone"])):
            raise ValidationError(problem, field_name="phone")
        if data.get("chat_url") and (problem := chat_address_problem(data["chat_url"])):
            raise ValidationError(problem, field_name="chat_url")
        if data.get("chat_secret") and not valid_secret(data["chat_secret"]):
            raise ValidationError("whsec_ followed by the base64 of 24 to 64 bytes", field_name="chat_secret")
        uses = {c for channels in preferences.kinds.values() for c in channels}
        for channel, key in zip(OUTSIDE, ("phone", "chat_url"), strict=True):
            if channel in uses and data.get(key) == "":
                raise ValidationError(f"{channel} is chosen for some kinds: keep an address for it", field_name=key)


class ChannelDeliveryOut(ObjectOut):
    id = fields.Integer()
    notification_id = fields.Integer()
    user_id = fields.Integer()
    kind = fields.String()
    channel = fields.String(metadata={"description": "sms, chat"})
    state = fields.String(metadata={"description": "queued, held (quiet hours until next_attempt_at), sent, failed"})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class ChannelDeliveryArgs(Schema):
    state = fields.String(validate=validate.OneOf(STATES))
    channel = fields.String(validate=validate.OneOf(OUTSIDE))
    everyone = fields.Boolean(load_default=False, metadata={"description": "admins: the deliveries of every user in their jurisdiction"})


ChannelDeliveryPage = page_of(ChannelDeliveryOut, "ChannelDeliveryPage")
