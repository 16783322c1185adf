"""Signed posts against a real local receiver: the signature verifies, tampering and replays do not."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from webhook_peer import receiving

from app.common.signed_http import (
    SignatureError,
    new_secret,
    post,
    signed_headers,
    valid_secret,
    valid_url,
    verify,
)


def test_signed_post_reaches_receiver_and_verifies() -> None:
    secret = new_secret()
    body = json.dumps({"id": "evt_1", "kind": "case.closed"}).encode()
    with receiving(secret) as peer:
        result = post(peer.url, body, signed_headers(secret, "evt_1", body))
    assert result.ok and result.status == 204 and result.error is None
    assert peer.arrivals[0].verified and peer.events == {"evt_1": {"id": "evt_1", "kind": "case.closed"}}
    assert peer.arrivals[0].headers["webhook-id"] == "evt_1"
    assert peer.arrivals[0].headers["user-agent"].startswith("Liandong-Webhooks/")


def test_wrong_secret_tampered_body_and_old_timestamp_are_refused() -> None:
    secret, other = new_secret(), new_secret()
    body = b'{"id":"evt_2"}'
    with pytest.raises(SignatureError):
        verify(secret, body, signed_headers(other, "evt_2", body))
    with pytest.raises(SignatureError):
        verify(secret, b'{"id":"evt_3"}', signed_headers(secret, "evt_2", body))
    with pytest.raises(SignatureError):  # another id under the same signature (a replay under a new id)
        verify(secret, body, {**signed_headers(secret, "evt_2", body), "webhook-id": "evt_9"})
    old = datetime.now(UTC) - timedelta(minutes=10)
    with pytest.raises(SignatureError, match="too old"):
        verify(secret, body, signed_headers(secret, "evt_2", body, at=old))
    assert verify(secret, body, signed_headers(secret, "evt_2", body)) == {"id": "evt_2"}


def test_failures_come_back_as_results_not_exceptions() -> None:
    secret = new_secret()
    body = b"{}"
    with receiving(secret) as peer:
        peer.fail_next = 1
        first = post(peer.url, body, signed_headers(secret, "e", body))
        second = post(peer.url, body, signed_headers(secret, "e", body))
        peer.redirect_to = "http://127.0.0.1:1/elsewhere"
        third = post(peer.url, body, signed_headers(secret, "e", body))
    assert (first.status, first.error, first.ok) == (500, "HTTP 500", False)
    assert second.ok
    assert third.status == 307 and not third.ok  # not followed: the signed body goes nowhere else
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    refused = post(f"http://127.0.0.1:{closed}/hook", body, {})
    assert refused.status is None and refused.error and "Connection" in refused.error


def test_a_peer_that_never_answers_costs_the_timeout_only() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = post(f"http://127.0.0.1:{port}/hook", b"{}", {}, timeout=0.5)
    assert result.status is None and "Timeout" in (result.error or "")
    assert result.seconds < 3


@pytest.mark.parametrize("url, ok", [
    ("https://hotline.example.gov.cn/liandong/events", True),
    ("http://10.1.2.3:8080/hook", True),
    ("ftp://x.example/hook", False),
    ("javascript:alert(1)", False),
    ("https://user:pw@x.example/", False),
    ("https:///nohost", False),
    ("http://x.example:99999/", False),
    ("http://x.example/a b", False),
    ("https://x.example/" + "a" * 2100, False),
])
def test_valid_url(url: str, ok: bool) -> None:
    assert (valid_url(url) is None) is ok


def test_secret_shape() -> None:
    assert valid_secret(new_secret())
    assert not valid_secret("whsec_")
    assert not valid_secret("hunter2")
    assert not valid_secret("whsec_!!!notbase64")


def test_the_verification_examples_in_docs_api_md_accept_our_signature_and_refuse_a_forgery() -> None:
    """The two receiver examples of docs/api.md, "Webhooks", run as written."""
    import re
    from pathlib import Path

    text = Path(__file__).resolve().parents[2].joinpath("docs", "api.md").read_text(encoding="utf-8")
    section = text[text.index("## Webhooks"):]
    library, stdlib = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:2]
    secret, body = new_secret(), json.dumps({"type": "case.closed", "data": {}}).encode()
    headers = signed_headers(secret, "evt_doc", body)
    handled: list[str] = []
    scope: dict = {"SECRET": secret, "handle": lambda kind, data: handled.append(kind)}
    exec(library, scope)  # noqa: S102 - our own documentation
    assert scope["receive"](body, headers) == 204 and scope["receive"](body, headers) == 204
    assert handled == ["case.closed"]  # the retry was de-duplicated
    assert scope["receive"](body.replace(b"closed", b"opened"), headers) == 401
    plain: dict = {}
    exec(stdlib, plain)  # noqa: S102
    assert plain["valid"](secret, body, headers) and not plain["valid"](new_secret(), body, headers)
