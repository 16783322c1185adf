"""Hostile review (docs/security.md, "Hostile review of issue 16"): a webhook subscriber's address cannot make the
server post to itself, the cloud metadata service or a private network (typed, or behind a DNS name), and a
hostile peer cannot hold a worker past the timeout or fill the delivery log."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_network
from typing import Any

import pytest
import sqlalchemy as sa
from webhook_peer import receiving

from app.common.signed_http import destination_problem, post
from app.extensions import db
from app.org.queries import user_by_username
from app.webhooks import operations
from app.webhooks.delivery import send
from app.webhooks.models import WebhookDelivery, WebhookSubscription

INSIDE = ["http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data/", "http://100.100.100.200/latest/",
          "http://10.0.0.5/hook", "http://192.168.1.1/", "http://172.16.0.1/", "http://[::1]:5000/metrics",
          "http://[::ffff:127.0.0.1]/", "http://[fd00::1]/", "http://0.0.0.0:5000/", "http://2130706433/",
          "http://0x7f.0.0.1/", "http://0177.0.0.1/", "http://localhost:5000/", "http://api.localhost/",
          "http://224.0.0.1/"]


@pytest.fixture
def public_only(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default: no network besides public addresses (the suite admits 127.0.0.0/8 for its peers)."""
    monkeypatch.setattr(app.config["LIANDONG"], "webhook_allowed_networks", [])


@pytest.mark.parametrize("url", INSIDE)
def test_an_address_inside_is_refused_at_registration_and_nothing_is_saved(
        as_user: Any, public_only: None, url: str) -> None:
    resp = as_user("admin").post("/api/v1/webhooks", json={"name": "probe", "url": url, "kinds": ["case.closed"],
                                                           "county": "c01"})
    assert resp.status_code == 422, resp.get_json()
    assert "url" in str(resp.get_json()["errors"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) == 0


def test_a_network_the_operator_allows_and_public_names_are_accepted(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert destination_problem("https://hotline.example.gov.cn/events", []) is None  # a name: checked at each post
    assert destination_problem("http://8.8.8.8/hook", []) is None
    assert destination_problem("http://10.8.1.2/hook", []) is not None
    assert destination_problem("http://10.8.1.2/hook", [ip_network("10.8.0.0/16")]) is None
    assert destination_problem("http://10.9.1.2/hook", [ip_network("10.8.0.0/16")]) is not None


@contextmanager
def resolving(name: str, address: str) -> Iterator[None]:
    """``name`` resolves to ``address`` (a hostile or rebinding DNS answer), other names as usual."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real(address if host == name else host, port, *args, **kwargs)

    socket.getaddrinfo = fake  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]


def test_a_name_resolving_to_loopback_is_refused_when_posting_and_the_peer_sees_nothing() -> None:
    with receiving("whsec_x") as peer, resolving("hooks.example.com", "127.0.0.1"):
        port = peer.url.split(":")[2].split("/")[0]
        refused = post(f"http://hooks.example.com:{port}/hook", b"{}", {}, networks=[])
        allowed = post(f"http://hooks.example.com:{port}/hook", b"{}", {}, networks=[ip_network("127.0.0.0/8")])
    assert refused.status is None and refused.error and "not a public address" in refused.error
    assert allowed.status == 401  # the same peer, reached once admitted (it refuses the unsigned body)
    assert len(peer.arrivals) == 1 and peer.arrivals[0].headers["host"] == f"hooks.example.com:{port}"


def test_a_subscriber_moved_inside_after_registration_gets_no_post_and_the_log_says_why(
        demo: Any, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with receiving("whsec_x") as peer:
        sub, peer.secret = operations.subscribe(user_by_username("admin"), name="hotline", url=peer.url,
                                                kinds=["case.closed"], county="c01")
        row = WebhookDelivery(subscription_id=sub.id, event_id="evt_ssrf", kind="case.closed", body="{}",
                              status="pending", attempts=0, created_at=sub.created_at,
                              next_attempt_at=sub.created_at)
        db.session.add(row)
        db.session.flush()
        monkeypatch.setattr(app.config["LIANDONG"], "webhook_allowed_networks", [])
        assert send(row.id) == "retry"
    assert peer.arrivals == []
    assert row.response_status is None and "not a public address" in (row.last_error or "")


@contextmanager
def trickling(first: bytes, every: float) -> Iterator[str]:
    """A peer that accepts, sends ``first`` and then one more header byte every ``every`` seconds, forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(first)
                    while not stop.wait(every):
                        conn.sendall(b"X")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def test_a_peer_trickling_its_answer_is_cut_off_at_the_timeout() -> None:
    """Before: the timeout counted per read, so a byte every 0.3 s held the worker for as long as the peer liked."""
    with trickling(b"HTTP/1.1 200 OK\r\nX-Slow: ", every=0.3) as url:
        started = time.monotonic()
        result = post(url, b"{}", {}, timeout=1.0)
        took = time.monotonic() - started
    assert result.status is None and "within 1 s" in (result.error or "")
    assert took < 2.5


def test_a_huge_answer_is_read_only_up_to_the_excerpt() -> None:
    head = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 100000000\r\n\r\n" + b"A" * 65536
    with trickling(head, every=0.01) as url:
        result = post(url, b"{}", {}, timeout=5.0)
    assert result.status == 500 and len(result.excerpt) == 500 and result.seconds < 2
