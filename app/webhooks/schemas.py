"""Marshmallow schemas of the webhook admin API (subscribers, their delivery log)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.common.endpoints import ObjectOut, list_of, page_of

from .models import DeliveryStatus
from .payloads import KINDS

_KIND = fields.String(validate=validate.OneOf(list(KINDS)))
_KINDS_DOC = "event kinds: " + ", ".join(KINDS)


class SubscriptionIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120),
                         metadata={"description": "who receives, e.g. the 12355 hotline's call system"})
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                        metadata={"description": "http(s) address that receives the signed POSTs"})
    kinds = fields.List(_KIND, required=True, validate=validate.Length(min=1, max=len(KINDS)),
                        metadata={"description": _KINDS_DOC})
    county = fields.String(required=True, validate=validate.Length(min=1, max=32),
                           metadata={"description": "the county's region code, or * for every county"})
    active = fields.Boolean(load_default=True, metadata={"description": "false: registered paused"})


class SubscriptionPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    url = fields.String(validate=validate.Length(min=1, max=2000))
    kinds = fields.List(_KIND, validate=validate.Length(min=1, max=len(KINDS)), metadata={"description": _KINDS_DOC})
    county = fields.String(validate=validate.Length(min=1, max=32))
    active = fields.Boolean(metadata={"description": "false pauses (pending deliveries wait), true resumes"})


class SubscriptionOut(ObjectOut):
    """A ``WebhookSubscription`` without its secret (shown only when it is issued)."""

    computed = {"kinds": lambda sub: sub.kind_list, "county": lambda sub: sub.county_code}

    id = fields.Integer()
    name = fields.String()
    url = fields.String()
    kinds = fields.List(fields.String())
    county = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    deliveries = fields.Dict(keys=fields.String(), values=fields.Integer(),
                             metadata={"description": "how many deliveries per status (lists only)"})


SubscriptionListOut = list_of(SubscriptionOut, "SubscriptionListOut")


class SecretOut(Schema):
    subscription = fields.Nested(SubscriptionOut)
    secret = fields.String(metadata={"description": "whsec_...: shown this once; verify signatures with it"})


class DeliveryOut(ObjectOut):
    id = fields.Integer()
    subscription_id = fields.Integer()
    event_id = fields.String(metadata={"description": "the webhook-id header: the same on every retry"})
    kind = fields.String()
    case_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "pending, delivered, failed"})
    attempts = fields.Integer()
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    response_status = fields.Integer(allow_none=True, metadata={"description": "the receiver's last HTTP status"})
    last_error = fields.String(allow_none=True)


class DeliveryArgs(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in DeliveryStatus]))


DeliveryPage = page_of(DeliveryOut, "DeliveryPage")
