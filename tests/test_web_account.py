"""deploy/gunicorn.conf.py's accounting for bench/load.py (``LIANDONG_WEB_ACCOUNT_DIR``): what a worker writes when it
exits, from a real gunicorn serving real requests."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from procs import app_env, free_port, spawn, stop_group, wait_for

pytestmark = pytest.mark.slow


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except OSError:
        return 0


@pytest.mark.parametrize("profiled", [False, True])
def test_a_worker_writes_the_requests_it_served_and_their_cpu_when_it_exits(
        app: Flask, tmp_path: Path, profiled: bool) -> None:
    port = free_port()
    extra = {"LIANDONG_WEB_PROFILE_DIR": str(tmp_path / "profile")} if profiled else {}
    (tmp_path / "profile").mkdir()
    env = app_env(os.environ.get("DATABASE_URL") or app.config["SQLALCHEMY_DATABASE_URI"], None,
                  Path(app.config["LIANDONG"].instance_dir), LIANDONG_WEB_BIND=f"127.0.0.1:{port}",
                  LIANDONG_WEB_WORKERS="1", LIANDONG_WEB_THREADS="2", LIANDONG_WEB_ACCESS_LOG="",
                  PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"), LIANDONG_WEB_ACCOUNT_DIR=str(tmp_path), **extra)
    proc = spawn(["gunicorn", "--config", "deploy/gunicorn.conf.py"], env, tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _status(base + "/healthz") == 200, 90, "gunicorn to answer")
        for _ in range(5):
            assert _status(base + "/healthz") == 200
    finally:
        stop_group(proc)
    written = list(tmp_path.glob("account-*.json"))
    if profiled:  # the profile's hooks, not the accounting's: one set of hooks at a time
        assert written == [] and list((tmp_path / "profile").glob("web-*.prof"))
        return
    [account] = [json.loads(path.read_text()) for path in written]
    assert account["requests"] >= 6  # the readiness check's answered request and the five
    assert 0 < account["request_cpu"] < account["process_cpu"]
    assert 0 < account["startup_cpu"] <= account["process_cpu"] - account["request_cpu"]
