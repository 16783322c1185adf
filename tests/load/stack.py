"""The production stack for load and fault tests: gunicorn (deploy/gunicorn.conf.py), ``flask worker``
and ``flask cron`` on the test database and a Redis the test starts itself, plus HTTP clients.

Every PostgreSQL connection of the stack carries an ``application_name`` of its own
(``liandong-load-<pid>-web|worker|cron``), so the test finds and terminates exactly the stack's
connections (never the test's own or anyone else's).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from invariants import ClientLog
from procs import RedisServer, app_env, free_port, http_status, spawn, stop_group, wait_for


class Stack:
    def __init__(self, instance_dir: Path, redis: RedisServer, web_workers: int = 3) -> None:
        self.redis = redis
        self.port = free_port()
        self.application_name = f"liandong-load-{os.getpid()}"
        self.env = app_env(os.environ["DATABASE_URL"], redis.url, instance_dir, LIANDONG_SWEEP_INTERVAL="1",
                           LIANDONG_SECURE_COOKIES="0", LIANDONG_WEB_BIND=f"127.0.0.1:{self.port}",
                           LIANDONG_WEB_WORKERS=str(web_workers), LIANDONG_WEB_THREADS="4",
                           LIANDONG_WEB_ACCESS_LOG="", LIANDONG_WEB_LOG_LEVEL="warning")
        self.logs = instance_dir
        self.procs: dict[str, Any] = {}
        self.kills: list[tuple[float, float]] = []
        """(start, end) of each fault window: a 5xx answered inside one is a request in flight at a kill."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self, role: str) -> dict[str, str]:
        return {**self.env, "LIANDONG_DB_APPLICATION_NAME": f"{self.application_name}-{role}"}

    def start(self) -> Stack:
        self.procs["web"] = spawn(["gunicorn", "--config", "deploy/gunicorn.conf.py"], self._env("web"),
                                  self.logs / "web.log")
        self.start_worker()
        self.procs["cron"] = spawn(["flask", "cron"], self._env("cron"), self.logs / "cron.log")
        wait_for(lambda: http_status(self.base + "/healthz") == 200, 60, "gunicorn to answer")
        return self

    def start_worker(self) -> None:
        self.procs["worker"] = spawn(["flask", "worker"], self._env("worker"), self.logs / "worker.log")

    def web_workers(self) -> list[int]:
        """Pids of gunicorn's worker processes (children of the master)."""
        master = self.procs["web"].pid
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(entry.name))
        return found

    def fault(self, started: float) -> None:
        self.kills.append((started, time.monotonic() + 1.0))

    def kill_web_worker(self) -> None:
        started = time.monotonic()
        pids = self.web_workers()
        assert pids, "gunicorn has no workers"
        os.kill(pids[0], signal.SIGKILL)
        self.fault(started)

    def kill_worker(self) -> None:
        started = time.monotonic()
        proc = self.procs["worker"]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.fault(started)
        self.start_worker()  # what systemd's Restart=always does

    def alive(self, name: str) -> bool:
        return bool(self.procs[name].poll() is None)

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_group(proc)

    def error_kinds(self) -> dict[str, int]:
        """Exception classes in the stack's logs (what the 5xx were), counted."""
        import re
        from collections import Counter

        found: Counter[str] = Counter()
        for name in ("web", "worker", "cron"):
            path = self.logs / f"{name}.log"
            if path.exists():
                text = path.read_text(errors="replace")
                found.update(f"{name}:{m}" for m in re.findall(r"^(?:[a-z_]+\.)+([A-Z][A-Za-z]+(?:Error|Detected|Violation))",
                                                               text, re.M))
        return dict(found)

    def excused(self, started: float, ended: float) -> bool:
        return any(started <= end and ended >= begin for begin, end in self.kills)


class Client:
    """A bearer-token API client that records every answer in a shared ``ClientLog``."""

    def __init__(self, stack: Stack, token: str, log: ClientLog) -> None:
        self.stack, self.token, self.log = stack, token, log

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.stack.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        started = time.monotonic()
        try:
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    status, raw = int(resp.status), resp.read()
            except urllib.error.HTTPError as exc:
                status, raw = int(exc.code), exc.read()
        except (OSError, http.client.HTTPException):  # dropped (a killed web worker): outcome unknown
            with self.log.lock:
                self.log.dropped += 1
            return 0, None
        self.log.saw(status, f"{method} {path}", excused=self.stack.excused(started, time.monotonic()))
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, None
