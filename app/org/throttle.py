"""Refused bearer tokens per address: after too many, the API answers 429 with ``Retry-After``.

A valid token is never slowed down and never touches the limiter's storage; only a refused one is
counted. The counters share the login limiter's storage (Redis when configured, so all processes
count together). When that storage is down or hangs the check is skipped with a logged warning:
the API keeps answering 401 as before rather than failing.
"""

from __future__ import annotations

import logging
import time

from flask import current_app, request
from limits import RateLimitItem, parse_many

from app.extensions import limiter

logger = logging.getLogger(__name__)


def _items() -> list[RateLimitItem]:
    return list(parse_many(current_app.config["LIANDONG"].token_failure_limit))


def _key() -> tuple[str, str, str]:
    return ("liandong", "api-token-refused", request.remote_addr or "")


def _wait(count: bool, what: str) -> int | None:
    """The seconds this address must wait, or None; ``count`` adds this refusal first (``hit``), else only looks
    (``test``). Storage down or hanging: skipped with a warning, never a failed request."""
    try:
        strategy = limiter.limiter
        check = strategy.hit if count else strategy.test
        for item in _items():
            if not check(item, *_key()):
                reset_at, _ = strategy.get_window_stats(item, *_key())
                return max(1, int(reset_at - time.time()) + 1)
    except Exception:  # noqa: BLE001 - storage down or hanging: skip, never fail the request
        logger.warning("rate-limit storage unreachable: %s throttle skipped for this request", what)
    return None


def refused_token_wait() -> int | None:
    """Count one refused token from this address; the seconds to wait if it is now over the limit."""
    return _wait(True, "refused-token")


def refused_credentials_wait() -> int | None:
    """Without counting: the seconds this address must wait because of the refused tokens and client credentials
    it sent (the token endpoint asks before checking a client's secret, so a guesser over the limit learns
    nothing more, right secret or not); None when it may try."""
    return _wait(False, "refused-credentials")
