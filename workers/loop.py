"""The in-process sweep for the embedded setup (no Redis): a daemon thread in the web server.

``make run`` sets ``LIANDONG_INLINE_LOOP=1`` so the server's ``create_app``
starts it; ``create_app`` never starts it otherwise (tests, CLI commands,
workers), and never when Redis is configured (``flask cron`` does the sweep
there). One pilot county's work fits in one process: a sweep every
``sweep_interval`` seconds runs the same job functions inline.

Several web processes (gunicorn with ``workers > 1``, or ``flask run`` twice) each start the thread, but
only one of them sweeps: the one holding an exclusive ``flock`` on ``<instance>/sweep.lock``. The others
try again every interval, so when the holder ends (a worker recycled after ``max_requests``, or killed),
another takes over within one interval: the kernel drops a dead process's lock, there is no stale lock
file to clean up. Two sweeps at once would still be correct (the sweep skips locked rows and records each
escalation step once); the lock spares the SQLite writer lock the contention. ``fcntl.flock`` rather than a
lock library: it is the primitive those libraries wrap, and this needs nothing more.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from flask import Flask

from .duties import DutiesTicker
from .jobs import sweep

log = logging.getLogger(__name__)

LOCK_NAME = "sweep.lock"


class HostLock:
    """An exclusive, non-blocking ``flock`` on a file: at most one process of the host holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who sweeps, for an operator reading the file
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class InlineLoop:
    def __init__(self, app: Flask, interval: float, lock: HostLock | None = None) -> None:
        self.app = app
        self.interval = interval
        self.lock = lock or HostLock(Path(app.config["LIANDONG"].instance_dir) / LOCK_NAME)
        self.stopped = threading.Event()
        self.sweeps = 0
        self.thread = threading.Thread(target=self._run, name="liandong-sweep", daemon=True)

    def start(self) -> InlineLoop:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        self.thread.join(timeout)
        self.lock.release()

    def _take_turn(self, waiting: bool) -> bool:
        """True when this process holds the host's sweep lock (logged once each way)."""
        if self.lock.held:
            return True
        if self.lock.acquire():
            log.info("inline sweep loop: process %s sweeps for this host", os.getpid())
            return True
        if not waiting:
            log.info("inline sweep loop: another process of this host sweeps; process %s stands by", os.getpid())
        return False

    def _run(self) -> None:
        duties = DutiesTicker()
        waiting = False
        while not self.stopped.is_set():
            waiting = not self._take_turn(waiting)
            if waiting:
                self.stopped.wait(self.interval)
                continue
            try:
                with self.app.app_context():
                    duties.maybe_run()
                    report = sweep(inline=True)
                self.sweeps += 1
                if (report["steps_taken"] or report["instances_with_timers"] or report["mails"] or report["webhooks"]
                        or report["deliveries"]):
                    log.info("sweep: %s", report)
            except Exception:  # keep sweeping: one bad instance must not stop every deadline
                log.exception("sweep failed")
            self.stopped.wait(self.interval)


_started: InlineLoop | None = None


def start_inline_loop(app: Flask) -> InlineLoop | None:
    """Start the loop once per process, only for the embedded setup."""
    global _started
    settings = app.config["LIANDONG"]
    if settings.redis_url or _started is not None:
        return _started
    _started = InlineLoop(app, settings.sweep_interval).start()
    return _started
