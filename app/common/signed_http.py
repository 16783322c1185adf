"""Signed HTTP POSTs to other systems (webhooks out, chat and SMS gateways): sign, post, verify.

The signature is the Standard Webhooks scheme (standardwebhooks.com), through its reference library
``standardwebhooks`` (no dependencies, typed): HMAC-SHA256 keyed with the shared secret over
``"{webhook-id}.{webhook-timestamp}.{body}"``, sent as three headers::

    webhook-id: <event id, the same on every retry: the receiver's de-duplication key>
    webhook-timestamp: <seconds since the epoch when this attempt was signed>
    webhook-signature: v1,<base64 of the HMAC>

Why a published scheme and not our own header names: a county system can verify it with a maintained
library in its own language (Standard Webhooks and Svix ship them for Python, Java, Go, C#, PHP, ...),
and the timestamp inside the signed text lets it refuse replays (the library allows five minutes).

Why urllib3 (already installed with ``requests`` and ``sentry-sdk``, pinned as our own dependency):
one thread-safe connection pool per process, separate connect and read timeouts, and retries and
redirects turned off here, so a peer can neither hold a worker longer than ``timeout`` nor send the
signed body on to an address the admin never entered. Retries are the caller's (an outbox row with
its own backoff), never hidden in the client.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3
from standardwebhooks import Webhook, WebhookVerificationError

__all__ = ["PostResult", "SignatureError", "new_secret", "post", "signed_headers", "valid_secret", "valid_url",
           "verify"]

SECRET_PREFIX = "whsec_"
USER_AGENT = "Liandong-Webhooks/1"
MAX_URL = 2000
EXCERPT = 500
"""Characters of a peer's answer kept for the delivery log (an error page can be long)."""

_pool = urllib3.PoolManager(retries=False, maxsize=4)


class SignatureError(ValueError):
    """A body and its headers do not carry a valid, fresh signature for the secret."""


def new_secret() -> str:
    """A fresh shared secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def valid_secret(secret: str) -> bool:
    """Whether ``secret`` is a usable Standard Webhooks secret (``whsec_`` + base64 of 24 to 64 bytes)."""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (ValueError, TypeError):
        return False
    return 24 <= len(raw) <= 64


def valid_url(url: str) -> str | None:
    """Why ``url`` cannot receive signed posts, or None: http(s) with a host, no user:password in it."""
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "names no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password (the signature authenticates us)"
    if port == 0 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "not a URL"
    return None


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers (and the JSON content type) for ``body`` sent as ``message_id``."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(secret).sign(message_id, at, body.decode())
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature, "content-type": "application/json"}


def verify(secret: str, body: bytes, headers: dict[str, str]) -> Any:
    """The JSON body when its signature is valid and at most five minutes old; ``SignatureError`` otherwise.

    What a receiver runs (tests and the example in docs/api.md use it); the app itself never receives."""
    try:
        return Webhook(secret).verify(body, dict(headers))
    except (WebhookVerificationError, ValueError) as exc:
        raise SignatureError(str(exc) or type(exc).__name__) from exc


@dataclass(frozen=True)
class PostResult:
    """One attempt: the peer's status (None when none came back), its answer's start, the error, the time."""

    status: int | None
    excerpt: str
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0) -> PostResult:
    """POST ``body`` once; never raises for the peer's failures (they are in the result).

    A 3xx is a failure like a 4xx or 5xx: redirects are not followed. The error text names the
    exception class and the peer's words, never the body or the headers (the signature stays out of
    logs and the delivery log)."""
    started = time.monotonic()
    try:
        response = _pool.request("POST", url, body=body, headers={"User-Agent": USER_AGENT, **headers}, redirect=False, preload_content=False,
                                 timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout))
        try:
            excerpt = response.read(EXCERPT, decode_content=True).decode("utf-8", "replace")
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        return PostResult(None, "", f"{type(exc).__name__}: {exc}"[:300], time.monotonic() - started)
    status = response.status
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return PostResult(status, excerpt[:EXCERPT], error, time.monotonic() - started)
