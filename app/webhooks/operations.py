"""An administrator's changes to subscribers and deliveries (pages, API and ``flask webhooks`` share them).

Each change writes its audit row in the same flush (``app.audit.operations``); the secret never goes
into an audit row, a log or a listing: it is returned once, to be handed to the receiving system, and
stored sealed (``app.common.sealed``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext

from app.audit.operations import audit
from app.common.clock import now
from app.common.errors import Conflict, Invalid
from app.common.sealed import reseal
from app.common.signed_http import destination_problem, new_secret, valid_url
from app.extensions import db
from app.org.jurisdiction import check_choice
from app.org.models import User
from app.org.queries import county_code

from . import outbox
from .models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from .payloads import KINDS

MAX_NAME = 120


def _clean(name: str | None, url: str | None, kinds: list[str] | None, county: str | None) -> dict[str, Any]:
    """The given fields checked; every problem at once, keyed by field (422)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if name is not None:
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            errors["name"] = [gettext("Required, at most %(n)d characters.", n=MAX_NAME)]
        values["name"] = name
    if url is not None:
        url = url.strip()
        problem = valid_url(url) or destination_problem(url, current_app.config["LIANDONG"].webhook_allowed_networks)
        if problem:
            errors["url"] = [gettext("Not an address that can receive events: %(why)s.", why=problem)]
        values["url"] = url
    if kinds is not None:
        unknown = sorted(set(kinds) - KINDS.keys())
        if unknown or not kinds:
            errors["kinds"] = [gettext("Choose one or more of: %(kinds)s.", kinds=", ".join(KINDS))]
        values["kinds"] = "," + ",".join(k for k in KINDS if k in kinds) + ","
    if county is not None:
        try:
            values["county_code"] = county_code(county.strip())
        except Invalid:
            errors["county"] = [gettext("A county's region code, or * for every county.")]
    if errors:
        raise Invalid("invalid webhook subscriber", errors)
    return values


def _shown(sub: WebhookSubscription) -> dict[str, Any]:
    return {"subscriber": sub.name, "url": sub.url, "kinds": sub.kind_list, "county": sub.county_code,
            "active": sub.active}


def subscribe(actor: User | None, *, name: str, url: str, kinds: list[str], county: str,
              active: bool = True) -> tuple[WebhookSubscription, str]:
    """Register a subscriber; returns it and its new secret (shown this once). ``actor`` None: the CLI; an
    administrator only for a county in their jurisdiction, ``*`` only when it holds every county (403)."""
    values = _clean(name, url, kinds, county)
    check_choice(actor, county=values["county_code"])
    secret = new_secret()
    at = now()
    sub = WebhookSubscription(**values, active=active, created_at=at, updated_at=at,
                              created_by_id=actor.id if actor else None)
    sub.set_secret(secret)
    db.session.add(sub)
    db.session.flush()
    audit(actor.id if actor else None, "webhook_create", "webhook", sub.id, detail=_shown(sub))
    outbox.forget()
    return sub, secret


def change(actor: User | None, sub: WebhookSubscription, *, name: str | None = None, url: str | None = None,
           kinds: list[str] | None = None, county: str | None = None, active: bool | None = None) -> None:
    """Change what was given (pause with ``active=False``, resume with True); a new county inside the
    administrator's jurisdiction, as at ``subscribe``. Flushes."""
    values = _clean(name, url, kinds, county)
    if "county_code" in values:
        check_choice(actor, county=values["county_code"])
    if active is not None:
        values["active"] = active
    before = _shown(sub)
    for key, value in values.items():
        setattr(sub, key, value)
    after = _shown(sub)
    if after == before:
        return
    sub.updated_at = now()
    changed = [k for k in after if after[k] != before[k]]
    audit(actor.id if actor else None, "webhook_update", "webhook", sub.id,
          detail={"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}})
    db.session.flush()
    outbox.forget()


def rotate_secret(actor: User | None, sub: WebhookSubscription) -> str:
    """A new secret at once (the old one stops signing); returned this once. Flushes."""
    secret = new_secret()
    sub.set_secret(secret)
    sub.updated_at = now()
    audit(actor.id if actor else None, "webhook_secret", "webhook", sub.id, detail={"subscriber": sub.name})
    db.session.flush()
    return secret


def reseal_secrets() -> int:
    """Every subscriber's secret sealed again under the first key (key rotation, ``flask webhooks keys
    reseal``): the secrets do not change, so receivers notice nothing. Flushes; returns how many."""
    subs = list(db.session.scalars(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)))
    for sub in subs:
        sub.secret_sealed = reseal(sub.secret_sealed)
    db.session.flush()
    return len(subs)


def redeliver(actor: User | None, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again from a fresh set of attempts (same event id: the receiver may drop a repeat).

    A delivery whose attempt is pending anyway is refused (409): it is already on its way."""
    if delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0:
        raise Conflict(gettext("This event is waiting for its first attempt already."))
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, now()
    delivery.delivered_at = None
    audit(actor.id if actor else None, "webhook_redeliver", "webhook_delivery", delivery.id,
          case_id=delivery.case_id, detail={"subscriber": delivery.subscription.name, "event_id": delivery.event_id})
    db.session.flush()
    outbox.after_commit([delivery.id])
    return delivery
