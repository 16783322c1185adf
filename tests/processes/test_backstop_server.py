"""A real threaded server keeps answering /healthz while a designer's bomb is refused.

Before the backstop one C-level call in a script (comparing a hundred thousand
aliased rows) held the GIL for ~16 s: every other request of the process waited.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from app.engine import isolation

pytestmark = pytest.mark.committing  # threads, servers or processes of their own: real commits

DATA = Path(__file__).resolve().parent.parent / "data"
MINI = (DATA / "mini.bpmn").read_text(encoding="utf-8")
FORM = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
BOMB = "a = list(range(10**5))\nb = [a] * 10**5\nc = [list(a)] * 10**5\nsame = b == c\nscore = 2"
P = "/api/v1/processes"


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_healthz_keeps_answering_while_a_script_bomb_is_refused(live_server: str, as_user: Any) -> None:  # noqa: F811
    api = as_user("designer")
    bpmn = MINI.replace("score = 2 if ok else 1", BOMB)
    created = api.post(f"{P}/drafts", json={"files": {"mini.bpmn": bpmn}, "forms": {"mini/t1.json": FORM}})
    assert created.status_code == 201 and created.get_json()["valid"], created.get_json()
    run = api.post(f"{P}/drafts/{created.get_json()['id']}/test-runs", json={"data": {}}).get_json()
    [task] = run["ready"]
    outcome: dict[str, Any] = {}

    def complete_into_the_bomb() -> None:
        began = time.monotonic()
        outcome["status"], outcome["body"] = _post(
            f"{live_server}{P}/test-runs/{run['id']}/tasks/{task['id']}/complete",
            {"lane": "police", "data": {"ok": True}}, api.headers)
        outcome["elapsed"] = time.monotonic() - began

    latencies: list[float] = []
    with isolation.limits(cpu_seconds=2, wall_seconds=6):
        bomb = threading.Thread(target=complete_into_the_bomb)
        bomb.start()
        time.sleep(0.2)
        while bomb.is_alive():
            began = time.monotonic()
            with urllib.request.urlopen(f"{live_server}/healthz", timeout=120) as response:
                assert response.status == 200
            latencies.append(time.monotonic() - began)
            time.sleep(0.05)
        bomb.join()
    assert len(latencies) >= 5 and max(latencies) < 0.5, latencies
    assert outcome["status"] == 422, outcome
    message = outcome["body"]["message"]
    assert "stopped at s1" in message and ("CPU" in message or "longer than 6 s" in message), message
    assert outcome["elapsed"] < 8, outcome["elapsed"]  # the wall-clock limit holds even on a loaded machine
