"""The periodic jobs, on RQ's cron scheduler (``flask cron`` runs it; run one per installation).

Two jobs are periodic. The recurring-duty scheduler (``workers.duties``, every
quarter of an hour; idempotent per duty cycle). And the sweep: it reads the
database for due ladder steps, timers and unsent mail and enqueues the jobs for them, and enqueues the
digest job (which does nothing until the county's digest time on a working
day, and then once per user). A second scheduler would only enqueue harmless
duplicate sweeps.

RQ's own ``CronScheduler.start`` exits on the first Redis error, and with it
every sweep, escalation, timer and mail retry stops. ``SurvivingCron`` runs the
same registered jobs in a loop that never exits on a Redis error or timeout:
it waits with a bounded backoff, and while Redis stays away it runs the sweep
itself, inline, from the database (escalations, timers and mail go on; the
sweep is idempotent, so catching up twice is harmless). Only a stop signal
ends it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from redis import Redis
from rq.cron import CronScheduler

from . import duties, jobs
from .queues import DEFAULT, JOB_TIMEOUT, REDIS_ERRORS, RESULT_TTL

log = logging.getLogger(__name__)


def build_scheduler(connection: Redis, sweep_interval: int) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    scheduler.register(jobs.sweep, DEFAULT, interval=sweep_interval, job_timeout=JOB_TIMEOUT,
                       result_ttl=RESULT_TTL, name="liandong.sweep")
    scheduler.register(duties.start_due_duties, DEFAULT, interval=duties.DUTIES_INTERVAL, job_timeout=JOB_TIMEOUT,
                       result_ttl=RESULT_TTL, name="liandong.duties")
    return scheduler


class Backoff:
    """Waits that double from ``first`` up to ``cap`` seconds; ``reset`` after a success."""

    def __init__(self, first: float = 1.0, cap: float = 30.0) -> None:
        self.first, self.cap = first, cap
        self.current = first

    def next(self) -> float:
        wait = self.current
        self.current = min(self.current * 2, self.cap)
        return wait

    def reset(self) -> None:
        self.current = self.first


class SurvivingCron:
    """RQ's cron jobs in a loop that outlives Redis outages and hangs (see the module docstring)."""

    def __init__(self, app: Flask, connection: Redis, sweep_interval: int,
                 fallback: Callable[[], Any] | None = None, backoff: Backoff | None = None) -> None:
        self.app = app
        self.scheduler = build_scheduler(connection, sweep_interval)
        self.sweep_interval = sweep_interval
        self.fallback = fallback or (lambda: jobs.sweep(inline=True))
        self.backoff = backoff or Backoff()
        self.stopped = threading.Event()
        self.registered = False
        self.redis_ok = False
        self.ticks = self.failures = self.fallback_sweeps = 0
        self._last_fallback = 0.0

    def stop(self, *_: Any) -> None:
        self.stopped.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def tick(self) -> float:
        """Enqueue what is due; returns how long to wait before the next tick."""
        try:
            if not self.registered:
                self.scheduler.register_birth()
                self.registered = True
            if self.scheduler.enqueue_jobs():
                self.scheduler.save()
            self.scheduler.heartbeat()
        except REDIS_ERRORS as exc:
            self.failures += 1
            wait = self.backoff.next()
            if self.redis_ok or self.failures == 1:
                log.warning("cron: Redis unavailable (%s); sweeping from the database, retrying Redis in %.0f s",
                            type(exc).__name__, wait)
            self.redis_ok = False
            self._sweep_without_redis()
            return wait
        if not self.redis_ok:
            log.info("cron: Redis reachable, enqueueing again")
        self.redis_ok = True
        self.backoff.reset()
        return max(0.2, min(self.scheduler.calculate_sleep_interval(), float(self.sweep_interval)))

    def _sweep_without_redis(self) -> None:
        """The database-driven sweep, inline, at most once per sweep interval while Redis is away."""
        if time.monotonic() - self._last_fallback < self.sweep_interval:
            return
        self._last_fallback = time.monotonic()
        try:
            with self.app.app_context():
                self.fallback()
            self.fallback_sweeps += 1
        except Exception as exc:  # the database may be down too: keep looping, the next tick retries
            log.warning("cron: sweep without Redis failed: %s", type(exc).__name__)

    def run(self) -> None:
        """Loop until stopped; never exits on a Redis error."""
        log.info("cron: started (sweep every %d s)", self.sweep_interval)
        while not self.stopped.is_set():
            try:
                wait = self.tick()
            except Exception:  # anything else: log it, back off, go on (a dead cron stops every deadline)
                log.exception("cron: tick failed")
                wait = self.backoff.next()
            self.ticks += 1
            self.stopped.wait(wait)
        with contextlib.suppress(*REDIS_ERRORS):
            self.scheduler.register_death()
        log.info("cron: stopped")
