"""With Redis configured but down or hanging, signing in and the pages still work (issue 11: it was a 500).

The app runs as its own server process on the test database, pointed at a ``redis-server`` this test
starts on a free port and then stops or freezes (never the shared one). The rate limiter counts in
memory meanwhile and says so in the log.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deadline_helpers import free_port
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = "/usr/bin/redis-server"
pytestmark = pytest.mark.committing  # the app serves from a process of its own: real commits
SERVE = """
import logging, sys
logging.basicConfig(level=logging.WARNING)  # as a deployment would: warnings reach the log
from werkzeug.serving import make_server
from app import create_app

app = create_app({"database_url": sys.argv[1], "redis_url": sys.argv[2], "instance_dir": sys.argv[3],
                  "secret_key": "test-secret", "testing": True, "inline_loop": False})
make_server("127.0.0.1", int(sys.argv[4]), app, threaded=True).serve_forever()
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects (we want to see the 302)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, float]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        started = time.monotonic()
        try:
            with self.opener.open(self.base + path, data=body, timeout=20) as resp:
                return resp.status, resp.read().decode(), time.monotonic() - started
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(), time.monotonic() - started

    def sign_in(self, username: str, password: str) -> tuple[int, float]:
        _, page, _ = self.request("/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page[:500]
        status, _, took = self.request("/login", {"username": username, "password": password,
                                                  "csrf_token": match.group(1)})
        return status, took


def _wait_port(port: int, process: subprocess.Popen[Any], what: str) -> None:
    import socket

    end = time.monotonic() + 30
    while time.monotonic() < end:
        assert process.poll() is None, f"{what} exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not start")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, process, "redis-server")
    yield process, port
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(app: Flask, demo: Any, database_url: str, redis_server: Any,
           tmp_path: Path) -> Iterator[tuple[str, Path]]:
    from app.extensions import db

    db.session.commit()
    _, redis_port = redis_server
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, database_url, f"redis://127.0.0.1:{redis_port}/1",
             str(tmp_path / "instance"), str(port)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        _wait_port(port, process, "the app server")
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(timeout=10)


def _redis_keys(port: int) -> list[bytes]:
    from redis import Redis

    conn = Redis(host="127.0.0.1", port=port, db=1, socket_timeout=2)
    try:
        return list(conn.keys("*"))
    finally:
        conn.close()


def test_sign_in_and_pages_work_with_redis_down(server: Any, redis_server: Any) -> None:
    base, log = server
    process, redis_port = redis_server
    assert Browser(base).sign_in("police_t01", "not-the-password")[0] == 200
    assert any(b"login" in key for key in _redis_keys(redis_port))  # the limiter really counts in Redis

    process.terminate()
    process.wait(timeout=10)
    browser = Browser(base)
    status, took = browser.sign_in("police_t01", "liandong-demo")
    print(f"sign-in with Redis stopped: {took:.2f} s")
    assert status == 302 and took < 5
    assert browser.request("/inbox")[0] == 200
    assert Browser(base).sign_in("police_t01", "not-the-password")[0] == 200  # a refusal, not a 500
    for _ in range(5):  # still throttled, in memory
        Browser(base).sign_in("police_t01", "not-the-password")
    assert Browser(base).sign_in("police_t01", "liandong-demo")[0] == 429
    text = log.read_text(encoding="utf-8")
    assert "falling back to in-memory storage" in text
    assert "liandong-demo" not in text and "not-the-password" not in text


def test_sign_in_works_with_redis_hanging(server: Any, redis_server: Any) -> None:
    base, log = server
    process, _ = redis_server
    assert Browser(base).sign_in("police_t01", "not-the-password")[0] == 200  # the connection is up
    os.kill(process.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        browser = Browser(base)
        status, took = browser.sign_in("police_t01", "liandong-demo")
        print(f"sign-in with Redis hanging: {took:.2f} s")
        assert status == 302 and took < 5, (status, took)
        assert browser.request("/inbox")[0] == 200
        status, took = Browser(base).sign_in("police_t02", "not-the-password")
        assert status == 200 and took < 5
    finally:
        os.kill(process.pid, signal.SIGCONT)
    assert "falling back to in-memory storage" in log.read_text(encoding="utf-8")
