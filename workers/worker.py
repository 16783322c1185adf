"""``flask worker``: an RQ worker that outlives Redis outages and never orphans its scheduler.

RQ's ``Worker.work`` returns ("quitting") on a Redis timeout or on any error
outside a job, and ``with_scheduler=True`` forks the scheduler (which moves
retries whose wait is over back onto their queues) into a second process that
lives on when the worker is killed. Here the scheduler is a thread of the worker
process (it dies with it; another worker takes the lock once its lease runs out),
and ``work`` runs in a loop: when it returns without a stop request, the worker
waits with a bounded backoff and starts again on a fresh connection. A job whose
worker died is left "abandoned" and retried by RQ's cleanup; jobs are idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler

from .cron import Backoff
from .queues import REDIS_ERRORS

log = logging.getLogger(__name__)
WORKER_TTL = 60
"""Seconds of silence after which RQ counts a worker dead; also bounds its blocking dequeue (TTL - 15 s)."""
SCHEDULER_INTERVAL = 1.0
"""Seconds between the scheduler thread's moves of due retries onto their queues."""


class SchedulerThread:
    """RQ's scheduler loop (take the per-queue lock, move due scheduled jobs) on a daemon thread."""

    def __init__(self, queue_names: Sequence[str], connection_factory: Callable[[], Redis],
                 interval: float = SCHEDULER_INTERVAL) -> None:
        self.queue_names = list(queue_names)
        self.connection_factory = connection_factory
        self.interval = interval
        self.stopped = threading.Event()
        self.scheduler: RQScheduler | None = None
        self.thread = threading.Thread(target=self._run, name="rq-scheduler", daemon=True)

    def start(self) -> SchedulerThread:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        self.thread.join(timeout)
        if self.scheduler is not None:
            with contextlib.suppress(*REDIS_ERRORS):
                self.scheduler.release_locks()

    def _run(self) -> None:
        backoff = Backoff(1.0, 30.0)
        while not self.stopped.is_set():
            wait = self.interval
            try:
                if self.scheduler is None:
                    self.scheduler = RQScheduler(self.queue_names, connection=self.connection_factory(),
                                                 interval=max(1, int(self.interval)))
                scheduler = self.scheduler
                if scheduler.should_reacquire_locks or not scheduler.acquired_locks:
                    scheduler.acquire_locks()
                if scheduler.acquired_locks:
                    scheduler.heartbeat()
                    scheduler.enqueue_scheduled_jobs()
                backoff.reset()
            except REDIS_ERRORS as exc:
                wait = backoff.next()
                log.warning("scheduler: Redis unavailable (%s), retrying in %.0f s", type(exc).__name__, wait)
            except Exception:
                wait = backoff.next()
                log.exception("scheduler: tick failed")
            self.stopped.wait(wait)


class _Worker(SimpleWorker):
    """``SimpleWorker`` that remembers a stop signal (RQ raises ``StopRequested`` inside its loop when
    idle and returns from ``work`` as it does after a Redis timeout; we must tell the two apart)."""

    stop_signalled = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)


class SurvivingWorker:
    """Runs ``SimpleWorker.work`` again after Redis errors; only a stop signal ends it."""

    def __init__(self, queue_names: Sequence[str], connection_factory: Callable[[], Redis],
                 worker_ttl: int = WORKER_TTL, backoff: Backoff | None = None) -> None:
        self.queue_names = list(queue_names)
        self.connection_factory = connection_factory
        self.worker_ttl = worker_ttl
        self.backoff = backoff or Backoff(1.0, 30.0)
        self.stopped = threading.Event()
        self.worker: _Worker | None = None
        self.restarts = 0

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopped.set()
        if self.worker is not None:  # RQ's own handler: warm shutdown after the current job
            self.worker.request_stop(signum, frame)

    def run(self, burst: bool = False) -> None:
        scheduler = SchedulerThread(self.queue_names, self.connection_factory).start() if not burst else None
        try:
            while not self.stopped.is_set():
                try:
                    connection = self.connection_factory()
                    self.worker = _Worker([Queue(n, connection=connection) for n in self.queue_names],
                                               connection=connection, worker_ttl=self.worker_ttl)
                    self.worker.work(burst=burst)
                    # RQ installs its own SIGTERM handler in work(); a stop it saw counts as ours
                    if burst or self.worker.stop_signalled or self.worker._stop_requested:
                        return
                except StopRequested:
                    return
                except REDIS_ERRORS as exc:  # e.g. Redis down while the worker registers itself
                    log.warning("worker: Redis unavailable (%s)", type(exc).__name__)
                self.install_signal_handlers()
                if self.stopped.is_set():
                    return
                wait = self.backoff.next()
                self.restarts += 1
                log.warning("worker: stopped without a stop request (Redis?); starting again in %.0f s", wait)
                self.stopped.wait(wait)
        finally:
            if scheduler is not None:
                scheduler.stop()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
