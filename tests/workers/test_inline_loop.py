"""Without Redis, the in-process loop sweeps on its own; create_app never starts it unless asked."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from deadline_helpers import escalation_rows, open_case, tasks_of
from procs import ROOT, app_env, free_port, spawn, stop_group, wait_for

from app.extensions import db
from workers import loop


@pytest.mark.committing  # the loop sweeps on a thread of its own
def test_loop_takes_due_steps_in_the_background(app: Any, county: Any, clock: Any) -> None:
    case = open_case("four_in_one", "t01v01")
    [task] = tasks_of(case.id)
    clock.advance(minutes=61)
    db.session.commit()
    runner = loop.InlineLoop(app, interval=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(escalation_rows(task.id)) < 2:
            db.session.rollback()
            time.sleep(0.05)
    finally:
        runner.stop()
    assert [e.level for e in escalation_rows(task.id)] == [1, 2]
    assert runner.sweeps >= 1 and not runner.thread.is_alive()


def test_the_loop_is_started_only_for_the_embedded_setup(app: Any, monkeypatch: Any) -> None:
    assert loop._started is None  # the session's app (inline_loop=False) did not start one
    monkeypatch.setattr(app.config["LIANDONG"], "redis_url", "redis://127.0.0.1:6379/0")
    assert loop.start_inline_loop(app) is None and loop._started is None  # with Redis, `flask cron` sweeps


STAND_IN = """
import json, os, sys
from app import create_app
from workers import loop
create_app({"database_url": sys.argv[1], "instance_dir": sys.argv[2], "secret_key": "test-secret",
            "testing": True, "redis_url": None, "inline_loop": True, "sweep_interval": 1})
for _ in sys.stdin:  # one line in, one status line out
    running = loop._started
    print(json.dumps({"pid": os.getpid(), "sweeps": running.sweeps, "holds": running.lock.held}), flush=True)
"""
"""A web process of the embedded setup (``LIANDONG_INLINE_LOOP=1``), as each gunicorn worker or ``flask run`` is."""


class WebProcess:
    def __init__(self, database_url: str, instance: Path) -> None:
        with open(instance / f"web-{time.monotonic_ns()}.log", "w") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen([sys.executable, "-c", STAND_IN, database_url, str(instance)], cwd=ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, stderr=log)

    def status(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("?\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)  # closes our ends of its pipes


def test_several_web_processes_on_one_host_sweep_in_one_of_them_at_a_time(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from app import create_app

    url = f"sqlite:///{tmp_path / 'liandong.db'}"
    schema = create_app({"database_url": url, "instance_dir": tmp_path, "secret_key": "test-secret",
                         "testing": True, "redis_url": None, "inline_loop": False})
    with schema.app_context():
        upgrade()
        db.engine.dispose()
    first = WebProcess(url, tmp_path)
    second: WebProcess | None = None
    try:
        # a fresh interpreter, app and first sweep: 30 s was too short at load 9-24 (bench/README.md, session 9)
        wait_for(lambda: first.status()["sweeps"] >= 1, 120, "the first process to sweep")
        second = WebProcess(url, tmp_path)
        wait_for(lambda: second.status()["pid"], 120, "the second process to start")  # type: ignore[union-attr]
        before = first.status()["sweeps"]
        # two more sweeps, however long a loaded machine makes each one (a fixed 3.5 s for three 1 s intervals
        # counted sweeps that a busy 2-core box had not finished yet)
        wait_for(lambda: first.status()["sweeps"] >= before + 2, 30, "the first process to sweep twice more")
        assert second.status() == {"pid": second.proc.pid, "sweeps": 0, "holds": False}
        assert (tmp_path / loop.LOCK_NAME).read_text().strip() == str(first.proc.pid)

        first.proc.send_signal(signal.SIGKILL)  # a worker killed (or recycled): its lock goes with it
        first.proc.wait(10)
        wait_for(lambda: second.status()["sweeps"] >= 1, 10, "the second process to take over")  # type: ignore[union-attr]
        assert second.status()["holds"] is True
        assert (tmp_path / loop.LOCK_NAME).read_text().strip() == str(second.proc.pid)
    finally:
        first.end()
        if second is not None:
            second.end()


def _sweepers(log: Path) -> list[int]:
    """Pids that logged taking the host's sweep, in order."""
    found = re.findall(r"inline sweep loop: process (\d+) sweeps for this host", log.read_text(errors="replace"))
    return [int(pid) for pid in found]


def test_gunicorn_workers_of_the_embedded_setup_sweep_in_one_worker(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    from app import create_app

    url = f"sqlite:///{tmp_path / 'liandong.db'}"
    schema = create_app({"database_url": url, "instance_dir": tmp_path, "secret_key": "test-secret",
                         "testing": True, "redis_url": None, "inline_loop": False})
    with schema.app_context():
        upgrade()
        db.engine.dispose()
    port, log = free_port(), tmp_path / "web.log"
    env = app_env(url, None, tmp_path, LIANDONG_INLINE_LOOP="1", LIANDONG_SWEEP_INTERVAL="1",
                  LIANDONG_WEB_BIND=f"127.0.0.1:{port}", LIANDONG_WEB_WORKERS="3", LIANDONG_LOG_LEVEL="INFO")
    web = spawn(["gunicorn", "--config", "deploy/gunicorn.conf.py"], env, log)
    try:
        wait_for(lambda: log.read_text(errors="replace").count("inline sweep loop:") >= 3, 90,
                 "three workers to start their loops")
        time.sleep(2)
        [first] = _sweepers(log)
        assert log.read_text().count("stands by") == 2
        assert (tmp_path / loop.LOCK_NAME).read_text().strip() == str(first)
        os.kill(first, signal.SIGKILL)  # gunicorn starts a new worker; one of the others takes the sweep over
        wait_for(lambda: len(_sweepers(log)) == 2, 30, "another worker to take the sweep over")
        second = _sweepers(log)[1]
        assert second != first and (tmp_path / loop.LOCK_NAME).read_text().strip() == str(second)
        time.sleep(2)
        assert len(_sweepers(log)) == 2  # and nobody else
    finally:
        stop_group(web)
