#!/usr/bin/env python
"""How long a designer's bomb takes to be refused, and how /healthz answers meanwhile.

    .venv/bin/python bench/bombs.py                 # backstop limits: 2 s CPU, 10 s wall, 256 MB
    .venv/bin/python bench/bombs.py --cpu-seconds 20 --wall-seconds 30 --memory-mb 512   # the defaults

Each bomb runs as a web request thread would run it (an engine command completing a
step whose script task holds the bomb, or a form validation), on a thread of a
process that also serves the app on a real threaded HTTP server; the main thread
asks ``/healthz`` every 50 ms until the bomb is refused. SQLite in a temporary
directory; nothing is asserted, numbers go to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

MINI = (ROOT / "tests" / "data" / "mini.bpmn").read_text(encoding="utf-8")
SCRIPT_BOMBS = {
    "pow(10, 10**9)": "x = pow(10, 10**9)",
    "'a' * 10**10": "x = 'a' * 10**10",
    "10**10**10": "x = 10**10**10",
    "pow(7, 2**40000, 2**40000-1)": "x = pow(7, 2**40000, 2**40000 - 1)",
    "aliased rows ==  (10**12 compares)": "a = list(range(10**6))\nb = [a] * 10**6\nc = [list(a)] * 10**6\nx = b == c",
    "hash of tuple of tuples": "t = tuple(range(10**5))\nu = (t,) * 10**5\nx = len({u})",
    "64 x 8 MB lists": "rows = [[0] * 10**6 for i in range(64)]",
}
REGEX = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}


def _engine_bomb(script: str) -> Callable[[], str]:
    from app import engine

    def run() -> str:
        bundle = engine.parse_bundle({"mini.bpmn": MINI.replace("score = 2 if ok else 1", script)})
        key = f"bomb-{abs(hash(script))}"
        started = engine.start_instance(key, bundle.spec_json, {})
        try:
            engine.complete_task(key, bundle.spec_json, started.state, started.ready_tasks[0].id, {"ok": True})
        except engine.ProcessScriptError as exc:
            return f"refused: {str(exc).splitlines()[0][:110]}"
        return "NOT refused"

    return run


def _regex_bomb() -> str:
    from app.common.errors import Invalid
    from app.tasks.forms import validate_form_data

    try:
        validate_form_data(REGEX, {"code": "a" * 40 + "!"})
    except Invalid as exc:
        return f"refused: {exc.errors}"
    return "NOT refused"


def _static_refusal(script: str) -> str:
    from app import engine

    problems = engine.check_bounds(script, "exec")
    return "at save: " + (problems[0][:60] if problems else "(not decidable before run)")


def _measure(base: str, work: Callable[[], str]) -> tuple[float, str, list[float]]:
    outcome: dict[str, Any] = {}

    def target() -> None:
        began = time.perf_counter()
        outcome["text"] = work()
        outcome["elapsed"] = time.perf_counter() - began

    thread = threading.Thread(target=target)
    latencies: list[float] = []
    thread.start()
    while True:  # at least one answer, even when the refusal is immediate
        began = time.perf_counter()
        with urllib.request.urlopen(f"{base}/healthz", timeout=3600) as response:
            response.read()
        latencies.append(time.perf_counter() - began)
        if not thread.is_alive():
            break
        time.sleep(0.05)
    thread.join()
    return outcome["elapsed"], outcome["text"], latencies


def _python_re_growth() -> str:
    import re

    times = []
    for n in (18, 20, 22):
        began = time.perf_counter()
        re.search("^(a+)+$", "a" * n + "!")
        times.append(f"n={n}: {time.perf_counter() - began:.3f}s")
    return "Python re on 'a'*n+'!' (for comparison, doubles per n; n=40 is ~2^18 x n=22): " + ", ".join(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-seconds", type=int, default=2)
    parser.add_argument("--wall-seconds", type=float, default=10.0)
    parser.add_argument("--memory-mb", type=int, default=256)
    args = parser.parse_args()

    import logging

    from werkzeug.serving import make_server

    from app import create_app
    from app.engine import isolation
    from app.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"database_url": f"sqlite:///{tmp}/bombs.db", "instance_dir": tmp, "secret_key": "bench"})
        with app.app_context():
            db.create_all()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        isolation.configure(isolation.Backstop(cpu_seconds=args.cpu_seconds, wall_seconds=args.wall_seconds,
                                               memory_mb=args.memory_mb))
        print(f"backstop: {isolation.current()}")
        print(f"{'bomb':38} {'refused after':>13} {'healthz n':>9} {'median':>8} {'max':>8}  outcome")
        cases: list[tuple[str, Callable[[], str], str]] = [
            (name, _engine_bomb(script), _static_refusal(script)) for name, script in SCRIPT_BOMBS.items()]
        cases.append(("form pattern (a+)+$ on 'a'*40+'!'", _regex_bomb, "at save: linear on RE2"))
        for name, work, static in cases:
            elapsed, text, latencies = _measure(base, work)
            median = statistics.median(latencies) if latencies else float("nan")
            worst = max(latencies) if latencies else float("nan")
            print(f"{name:38} {elapsed:12.3f}s {len(latencies):9d} {median * 1000:6.1f}ms {worst * 1000:6.1f}ms  "
                  f"{text}  [{static}]")
        print(_python_re_growth())
        server.shutdown()


if __name__ == "__main__":
    main()
