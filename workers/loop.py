"""The in-process sweep for the embedded setup (no Redis): a daemon thread in the web server.

``make run`` sets ``LIANDONG_INLINE_LOOP=1`` so the server's ``create_app``
starts it; ``create_app`` never starts it otherwise (tests, CLI commands,
workers), and never when Redis is configured (``flask cron`` does the sweep
there). One pilot county's work fits in one process: a sweep every
``sweep_interval`` seconds runs the same job functions inline.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger(__name__)


class InlineLoop:
    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self.stopped = threading.Event()
        self.sweeps = 0
        self.thread = threading.Thread(target=self._run, name="liandong-sweep", daemon=True)

    def start(self) -> InlineLoop:
        self.thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        from .duties import DutiesTicker
        from .jobs import sweep

        duties = DutiesTicker()
        while not self.stopped.is_set():
            try:
                with self.app.app_context():
                    duties.maybe_run()
                    report = sweep(inline=True)
                self.sweeps += 1
                if report["steps_taken"] or report["instances_with_timers"] or report["mails"]:
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
