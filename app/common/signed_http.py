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

Where a post may go (docs/security.md, "Hostile review of issue 16"): a webhook subscriber's address is
typed by an administrator, so a stolen admin session or a careless entry could point it at the server's
own ports (``127.0.0.1``), the cloud metadata service (``169.254.169.254``, ``100.100.100.200``) or the
county's private network, and read the answer back in the delivery log. ``post(..., networks=...)``
therefore resolves the name itself, refuses the post when any address it resolves to is not public
(``ipaddress``'s ``is_global``) and not inside one of ``networks`` (``LIANDONG_WEBHOOK_ALLOWED_NETWORKS``),
and connects to the address it checked (TLS still verifies the name), so a name that resolves elsewhere
a second later (DNS rebinding) cannot slip past. Each attempt has one deadline for the whole exchange
(a peer trickling a byte at a time is cut off at ``timeout``, not after ``timeout`` per byte), and at most
``EXCERPT`` bytes of the answer are read.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import urllib3
from standardwebhooks import Webhook, WebhookVerificationError
from urllib3.connection import HTTPConnection, HTTPSConnection

__all__ = ["PostResult", "SignatureError", "destination_problem", "new_secret", "post", "signed_headers",
           "valid_secret", "valid_url", "verify"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SECRET_PREFIX = "whsec_"
USER_AGENT = "Liandong-Webhooks/1"
MAX_URL = 2000
EXCERPT = 500
"""Characters of a peer's answer kept for the delivery log (an error page can be long)."""



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


def _literal_address(host: str) -> Address | None:
    """The address a host names literally: ``10.0.0.1``, ``[::1]``, and the legacy forms ``inet_aton`` (and so
    the resolver) accepts, ``2130706433``, ``0x7f.1``, ``0177.0.0.1``; None for a DNS name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not host or any(ch not in "0123456789abcdefxABCDEFX." for ch in host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return address


def _forbidden(address: Address, networks: Sequence[Network]) -> bool:
    """Whether a post may not reach ``address``: not public (loopback, private, link-local, shared, reserved,
    multicast; an IPv4-mapped IPv6 address counts as its IPv4 address) and in none of ``networks``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in networks):
        return False
    return not address.is_global or address.is_multicast


def destination_problem(url: str, networks: Sequence[Network] = ()) -> str | None:
    """Why ``url`` names a host no post may reach, as far as the text tells (a literal address outside public
    space and ``networks``, or ``localhost``); None otherwise. A DNS name is checked when a post resolves it."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "names this server (localhost)"
    address = _literal_address(host)
    if address is not None and _forbidden(address, networks):
        return f"{address} is not a public address (allowed networks: LIANDONG_WEBHOOK_ALLOWED_NETWORKS)"
    return None


class Refused(Exception):
    """A post's host resolves to an address it may not reach (``destination_problem``'s rule)."""


def _checked_address(host: str, port: int, networks: Sequence[Network]) -> str:
    """The address to connect to for ``host``: every address it resolves to must be allowed, else ``Refused``."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    bad = [a for a in addresses if _forbidden(a, networks)]
    if bad or not addresses:
        raise Refused(f"{host} resolves to {bad[0] if bad else 'nothing'}, not a public address "
                      "(LIANDONG_WEBHOOK_ALLOWED_NETWORKS admits private networks)")
    return str(addresses[0])


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


def _cut(connection: HTTPConnection, fired: threading.Event) -> None:
    """The deadline passed: shut the socket, so the read that waits on it ends now (in the posting thread).
    ``fired`` tells the poster the answer is cut (an answer cut mid-headers would otherwise parse as complete)."""
    fired.set()
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # closed meanwhile: nothing left to cut
            sock.shutdown(socket.SHUT_RDWR)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0,
         networks: Sequence[Network] | None = None) -> PostResult:
    """POST ``body`` once; never raises for the peer's failures (they are in the result).

    ``networks`` not None: the host must resolve to public addresses or addresses in ``networks`` only
    (module docstring); None posts anywhere (the operator's own SMS gateway and chat prefixes). The whole
    attempt, answer included, ends after ``timeout`` seconds; at most ``EXCERPT`` bytes are read back.
    A 3xx is a failure like a 4xx or 5xx: redirects are not followed. The error text names the
    exception class and the peer's words, never the body or the headers (the signature stays out of
    logs and the delivery log)."""
    started = time.monotonic()
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    try:
        target = _checked_address(host, port, networks) if networks is not None else host
    except Refused as exc:
        return PostResult(None, "", f"Refused: {exc}"[:300], time.monotonic() - started)
    connection: HTTPConnection = (HTTPSConnection(target, port, timeout=timeout, server_hostname=host) if https
                                  else HTTPConnection(target, port, timeout=timeout))
    fired = threading.Event()
    deadline = threading.Timer(timeout, _cut, (connection, fired))
    deadline.daemon = True
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers,
            "Host": parts.netloc.rpartition("@")[2]}
    try:
        deadline.start()
        connection.request("POST", path, body=body, headers=sent, preload_content=False)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT, decode_content=False).decode("utf-8", "replace")
        status = response.status
    except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
        late = fired.is_set() or time.monotonic() - started >= timeout
        error = f"ReadTimeoutError: no complete answer within {timeout:g} s" if late else f"{type(exc).__name__}: {exc}"
        return PostResult(None, "", error[:300], time.monotonic() - started)
    finally:
        deadline.cancel()
        connection.close()
    if fired.is_set():  # cut mid-answer: what arrived may parse as a whole answer, but it is not one
        return PostResult(None, "", f"ReadTimeoutError: no complete answer within {timeout:g} s",
                          time.monotonic() - started)
    return PostResult(status, excerpt[:EXCERPT], None if 200 <= status < 300 else f"HTTP {status}",
                      time.monotonic() - started)
