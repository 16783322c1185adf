"""``make serve``'s stack, started by its own script (deploy/serve.sh: migrations, gunicorn, worker, cron) on
the test database and a Redis the test starts: a report filed over HTTP becomes the police's task, the cron and
the worker escalate an overdue step, the audit row names the client behind the proxy, and SIGTERM stops all
three gracefully: requests in flight finish, nothing accepted is lost, the script exits 0, no process is left.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from deadline_helpers import open_case
from helpers import report_payload
from procs import ROOT, RedisServer, app_env, free_port, group_alive, http_status, wait_for

from app.extensions import db

pytestmark = [pytest.mark.committing, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def call(self, method: str, path: str, token: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return int(resp.status), json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read() or b"null")


@pytest.fixture
def served(app: Any, county: Any, tmp_path: Path) -> Iterator[Served]:
    redis = RedisServer().start()
    port = free_port()
    log = tmp_path / "serve.log"
    env = app_env(os.environ["DATABASE_URL"], redis.url, tmp_path, LIANDONG_BIN=str(Path(sys.executable).parent),
                  LIANDONG_WEB_BIND=f"127.0.0.1:{port}", LIANDONG_WEB_WORKERS="2", LIANDONG_WEB_THREADS="4",
                  LIANDONG_WEB_GRACEFUL_TIMEOUT="15", LIANDONG_SWEEP_INTERVAL="1", LIANDONG_SECURE_COOKIES="0",
                  LIANDONG_PROXY_HOPS="1", LIANDONG_DB_APPLICATION_NAME=f"liandong-serve-{os.getpid()}")
    with open(log, "ab") as out:
        proc = subprocess.Popen(["bash", "deploy/serve.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    running = Served(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: http_status(running.base + "/healthz") == 200 or proc.poll() is not None, 90,
                 "gunicorn to answer")
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        yield running
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        redis.stop()


def _tokens(*usernames: str) -> dict[str, str]:
    from app.org.models import ApiToken
    from app.org.operations import issue_token
    from app.org.queries import user_by_username

    tokens = {name: issue_token(user_by_username(name), name="serve") for name in usernames}  # type: ignore[arg-type]
    # Issued on the test clock (March); the stack runs on the real clock: valid for the next hour there.
    db.session.execute(sa.update(ApiToken).where(ApiToken.name == "serve").values(
        expires_at=datetime.now(UTC) + timedelta(hours=1)))
    db.session.commit()
    return tokens


@dataclass
class Shutdown:
    """Reports filed while the stack is told to stop: what each answer was."""

    answers: list[int] = field(default_factory=list)
    refused: int = 0
    reset: dict[str, str] = field(default_factory=dict)
    """Idempotency key -> error of requests that got no answer (connection reset)."""
    accepted: list[int] = field(default_factory=list)


def _file_reports_until_refused(served: Served, token: str, outcome: Shutdown, go: threading.Event) -> None:
    n = 0
    while True:
        n += 1
        body = report_payload("living_alone", "t01v02", name=f"停机儿童{n}", id_number=f"3700002016{n:08d}")
        try:
            status, answer = served.call("POST", "/api/v1/reports", token, body)
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                outcome.refused += 1  # the listener is closed: the client knows nothing was filed
                return
            outcome.reset[body["idempotency_key"]] = repr(exc)
            continue  # the offline client retries with the same key
        except (http.client.HTTPException, ConnectionError) as exc:
            outcome.reset[body["idempotency_key"]] = repr(exc)
            continue
        outcome.answers.append(status)
        if status == 201:
            outcome.accepted.append(int(answer["case_id"]))
        go.set()


def test_serve_runs_the_stack_and_stops_it_gracefully(served: Served) -> None:
    from app.audit.models import AuditEvent
    from app.common.models import CommandKey
    from app.deadlines.models import Escalation
    from app.tasks.models import Task

    overdue = open_case("past_deadline", "t01v01")  # due in March on the test clock: long past for the stack
    tokens = _tokens("reporter_school", "police_t01")
    status, filed = served.call("POST", "/api/v1/reports", tokens["reporter_school"], report_payload(),
                                headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.77"})
    assert status == 201, filed
    case_id = int(filed["case_id"])

    status, inbox = served.call("GET", "/api/v1/tasks?state=open&per_page=100", tokens["police_t01"])
    assert status == 200, inbox
    [step] = [t for t in inbox["items"] if t["case_id"] == case_id]
    assert step["bpmn_id"] == "police_triage" and step["state"] == "open"
    status, _ = served.call("GET", f"/api/v1/cases/{case_id}", tokens["police_t01"],
                            headers={"X-Forwarded-For": "203.0.113.78"})
    assert status == 200

    def audited() -> list[str]:
        db.session.rollback()
        return list(db.session.scalars(sa.select(AuditEvent.address).where(
            AuditEvent.case_id == case_id, AuditEvent.action == "view")))

    assert audited() == ["203.0.113.78"]  # the proxy's client, not 127.0.0.1 nor what the client claimed

    def escalated() -> bool:
        db.session.rollback()
        return bool(db.session.scalar(sa.select(sa.func.count(Escalation.id)).where(
            Escalation.case_id == overdue.id)))

    wait_for(escalated, 60, "the cron's sweep, run by the worker, to escalate the overdue step")
    assert http_status(served.base + "/readyz") == 200

    outcome, go = Shutdown(), threading.Event()
    clients = [threading.Thread(target=_file_reports_until_refused, args=(served, tokens["reporter_school"], outcome, go))
               for _ in range(4)]
    for client in clients:
        client.start()
    assert go.wait(30), "no report was filed before the stop"
    started = time.monotonic()
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(40) == 0, served.log.read_text(errors="replace")[-3000:]
    stopped_in = time.monotonic() - started
    for client in clients:
        client.join(30)
    left = _children_of(served.proc.pid)
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200] for pid in left]

    log = served.log.read_text(errors="replace")
    assert set(outcome.answers) == {201} and outcome.refused == len(clients)
    db.session.rollback()
    filed_cases = set(db.session.scalars(sa.select(Task.case_id).where(Task.case_id.in_(outcome.accepted))))
    assert filed_cases == set(outcome.accepted)  # every report answered 201 has its case and first step
    # A connection still in the listen queue when gunicorn stops accepting is reset (the kernel's doing):
    # such a request never reached the app. Every request the app took was finished and answered.
    processed = set(db.session.scalars(sa.select(CommandKey.key).where(CommandKey.key.in_(outcome.reset))))
    assert processed == set(), {key: outcome.reset[key] for key in processed}
    assert "Traceback" not in log, log[-3000:]
    assert "Shutting down: Master" in log  # gunicorn's graceful path
    assert "Control socket" not in log  # no per-user socket another gunicorn of the host would fight over
    print(f"\nstop took {stopped_in:.2f} s; {len(outcome.accepted)} reports filed by 4 clients around the stop, "
          f"{len(outcome.reset)} reset in the listen queue (none of them filed), then {outcome.refused} refused")


def _children_of(pgid: int) -> list[int]:
    """Processes of the stack's process group still running (zombies aside)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.getpgid(int(entry.name)) == pgid and state != "Z":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
