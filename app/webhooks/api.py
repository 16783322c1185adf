"""REST endpoints for administrators: register and change webhook subscribers, read the delivery log,
issue a new secret, redeliver (docs/api.md, "Webhooks"). The operations write the audit rows."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, SelectPage, current_api_user
from app.common.errors import NotFound
from app.org.roles import Role

from . import operations, queries
from .models import WebhookSubscription
from .schemas import (
    DeliveryArgs,
    DeliveryOut,
    DeliveryPage,
    SecretOut,
    SubscriptionIn,
    SubscriptionListOut,
    SubscriptionOut,
    SubscriptionPatch,
)

blp = ApiBlueprint("webhooks", __name__, url_prefix="/api/v1/webhooks",
                   description="Other systems receiving signed events (administrators)")
ADMINS = (Role.ADMIN,)
REFUSAL = "only administrators manage webhook subscribers"


def _subscription(subscription_id: int) -> WebhookSubscription:
    return queries.managed_subscription(current_api_user(), subscription_id, "no such subscriber")


@blp.route("")
class Subscriptions(MethodView):
    @blp.endpoint(writes=False, roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.response(200, SubscriptionListOut)
    def get(self) -> Any:
        """Every subscriber of the administrator's counties with its delivery counts per status (never a secret)."""
        subs = queries.subscriptions(current_api_user())
        counts = queries.status_counts([s.id for s in subs])
        return {"items": [Beside(s, deliveries=counts[s.id]) for s in subs]}

    @blp.endpoint(roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.arguments(SubscriptionIn)
    @blp.response(201, SecretOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a subscriber; the answer carries its secret, shown this once."""
        sub, secret = operations.subscribe(current_api_user(), **body)
        return {"subscription": sub, "secret": secret}


@blp.route("/<int:subscription_id>")
class Subscription(MethodView):
    @blp.endpoint(writes=False, roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.response(200, SubscriptionOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, subscription_id: int) -> Any:
        """One subscriber (never its secret)."""
        return _subscription(subscription_id)

    @blp.endpoint(roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.arguments(SubscriptionPatch)
    @blp.response(200, SubscriptionOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, body: dict[str, Any], subscription_id: int) -> Any:
        """Change the name, address, kinds or county; `active: false` pauses, `true` resumes."""
        sub = _subscription(subscription_id)
        operations.change(current_api_user(), sub, **body)
        return sub


@blp.route("/<int:subscription_id>/secret")
class Secret(MethodView):
    @blp.endpoint(roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.response(200, SecretOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, subscription_id: int) -> Any:
        """Issue a new secret; the old one stops signing at once. Shown this once."""
        sub = _subscription(subscription_id)
        return {"subscription": sub, "secret": operations.rotate_secret(current_api_user(), sub)}


@blp.route("/<int:subscription_id>/deliveries")
class Deliveries(MethodView):
    @blp.endpoint(writes=False, roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.arguments(DeliveryArgs, location="query")
    @blp.response(200, DeliveryPage)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.paginate(SelectPage)
    def get(self, args: dict[str, Any], subscription_id: int) -> Any:
        """The delivery log, newest first: status, attempts, the receiver's answer, the last error."""
        return queries.deliveries(_subscription(subscription_id).id, args.get("status"))


@blp.route("/deliveries/<int:delivery_id>/redeliver")
class Redeliver(MethodView):
    @blp.endpoint(roles=ADMINS, refusal=REFUSAL, scope=PEOPLE_ONLY)
    @blp.response(200, DeliveryOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, delivery_id: int) -> Any:
        """Send a delivery again (same event id) from a fresh set of attempts; 409 while its first waits."""
        delivery = queries.delivery(delivery_id)
        if delivery is None:
            raise NotFound("no such delivery")
        queries.managed_subscription(current_api_user(), delivery.subscription_id, "no such delivery")
        return operations.redeliver(current_api_user(), delivery)
