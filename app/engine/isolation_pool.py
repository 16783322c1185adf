"""Engine workers: long-lived forked children that run engine commands under the backstop's limits.

Forking per command (``isolation.run_isolated``) costs a fork plus the copy-on-write
faults of both processes: tens of milliseconds in a web process on a busy machine.
So the engine commands go to a small pool of workers instead, each forked once from
the process that needs it and reused. A request carries the command (a module-level
function), the spec's key, the spec's JSON only when that worker has not restored it
yet, and the instance state and data; the reply is the pickled snapshot or exception.

Per command the worker raises its own ``RLIMIT_CPU`` to "used so far + the command's
seconds"; its address space is capped when it is forked; the parent kills it at the
wall-clock deadline. A worker that was stopped is not reused (the next command forks a
fresh one); one that grew past half its memory margin, or ran ``MAX_COMMANDS``, retires
after answering. Workers exit when their parent goes away (their request pipe closes).
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import resource
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import isolation
from .isolation import (
    Backstop,
    _collect,
    _element_of,
    _mapped_bytes,
    _out_of_memory,
    _outcome,
    _wait,
    decoded_outcome,
)
from .serialization import PinnedSpec, SpecJson, restore_spec
from .timers import engine_clock
from .types import ProcessScriptError

MAX_COMMANDS = 2000
"""Commands a worker runs before it retires (its caches and heap start fresh)."""
MAX_IDLE = 4
"""Idle workers kept per process; more are forked when threads need them at the same time."""

Command = Callable[..., Any]


@dataclass
class _Worker:
    pid: int
    requests: int
    replies: int
    page: mmap.mmap
    memory_mb: int
    known: set[str] = field(default_factory=set)


_idle: list[_Worker] = []
_lock = threading.Lock()


def run_command(command: Command, spec_key: str, spec_json: SpecJson, now: datetime | None, *args: Any) -> Any:
    """``command(spec_key, spec, *args)`` on the engine clock ``now``, in a worker under the backstop."""
    backstop = isolation.current()
    if not backstop.enabled:
        with engine_clock(now):
            return command(spec_key, spec_json, *args)
    worker = _checkout(backstop)
    shipped = None if spec_key in worker.known else _spec_dict(spec_json)
    for _attempt in range(2):
        reply, status, timed_out = _ask(worker, (command, spec_key, shipped, now, args, backstop.cpu_seconds),
                                        backstop)
        if reply is not None and reply[0] == "need_spec":
            shipped = _spec_dict(spec_json)
            continue
        break
    if reply is None or status is not None:
        element = _element_of(worker.page)
        _retire(worker)
        return _outcome(b"", status or 0, timed_out, backstop, element)
    kind, value, retiring = reply
    element = _element_of(worker.page)
    if kind != "need_spec":
        worker.known.add(spec_key)
    if retiring:
        _retire(worker)
    else:
        _checkin(worker)
    return decoded_outcome(kind, value, backstop, element)


def _spec_dict(spec_json: SpecJson) -> dict[str, Any]:
    return spec_json() if callable(spec_json) else spec_json


def _ask(worker: _Worker, request: tuple[Any, ...], backstop: Backstop) -> tuple[Any, int | None, bool]:
    """Send one request; (reply or None, wait status if the worker ended, timed out)."""
    worker.page[:] = b"\0" * len(worker.page)
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        _write_all(worker.requests, len(payload).to_bytes(8, "big") + payload)
    except OSError:  # the worker is gone (killed by the system): fork another
        return None, _wait(worker.pid), False
    answer, timed_out, status = _collect(worker.replies, worker.pid, backstop.wall_seconds)
    if timed_out:
        return None, _wait(worker.pid), True
    if not answer:
        return None, status if status is not None else _wait(worker.pid), False
    return pickle.loads(answer), None, False  # noqa: S301 - our own worker, our own pipe


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _checkout(backstop: Backstop) -> _Worker:
    with _lock:
        for index, worker in enumerate(_idle):
            if worker.memory_mb == backstop.memory_mb:
                return _idle.pop(index)
    return _spawn(backstop)


def _checkin(worker: _Worker) -> None:
    with _lock:
        if len(_idle) < MAX_IDLE:
            _idle.append(worker)
            return
    _retire(worker)


def _retire(worker: _Worker) -> None:
    for fd in (worker.requests, worker.replies):
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGKILL)
    isolation._reap_later(worker.pid)


def _spawn(backstop: Backstop) -> _Worker:
    page = mmap.mmap(-1, 256)
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the worker; asserted through its answers
        os.close(request_write)
        os.close(reply_read)
        _serve(request_read, reply_write, page, backstop)
    os.close(request_read)
    os.close(reply_write)
    return _Worker(pid=pid, requests=request_write, replies=reply_read, page=page, memory_mb=backstop.memory_mb)


def _serve(requests: int, replies: int, page: mmap.mmap, backstop: Backstop) -> None:  # pragma: no cover
    """The worker's loop: one request in, one framed reply out, until the parent closes the pipe."""
    code = 0
    try:
        gc.freeze()  # the parent's objects are never collected (nor finalized) here
        isolation._element_page = page
        _forget_parent_pool()
        isolation.close_inherited_fds(requests, replies)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        baseline = _mapped_bytes()
        ceiling = baseline + backstop.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        for served in range(1, MAX_COMMANDS + 1):
            request = _read_frame(requests)
            if request is None:
                break
            reply = _run(pickle.loads(request))  # noqa: S301 - from our parent
            retiring = served == MAX_COMMANDS or _mapped_bytes() > baseline + backstop.memory_mb * 512 * 1024
            try:
                data = pickle.dumps((*reply, retiring), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an exception or value that does not pickle: keep its words
                data = pickle.dumps(("error", ProcessScriptError(f"{type(exc).__name__}: {exc}"), retiring))
            _write_all(replies, len(data).to_bytes(8, "big") + data)
            if retiring:
                break
    except BaseException as exc:  # noqa: BLE001 - the parent sees the exit status and says so
        code = 70
        with contextlib.suppress(Exception):  # the kind only: messages may quote case data
            os.write(2, f"liandong engine worker {os.getpid()} stopped: {type(exc).__name__}\n".encode())
    finally:
        os._exit(code)


def _forget_parent_pool() -> None:  # pragma: no cover - in the worker
    """The worker has only the forking thread: the pool it inherited is its parent's, not its own."""
    global _lock
    _lock = threading.Lock()
    for sibling in _idle:  # their pipes are the parent's to use; holding them would hide their EOF
        for fd in (sibling.requests, sibling.replies):
            with contextlib.suppress(OSError):
                os.close(fd)
    _idle.clear()


def _run(request: tuple[Any, ...]) -> tuple[str, Any]:  # pragma: no cover - in the worker
    command, spec_key, shipped, now, args, cpu_seconds = request
    try:
        restored = restore_spec(spec_key, shipped) if shipped is not None else _cached(spec_key)
    except LookupError:
        return ("need_spec", None)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    # Only the soft limit moves (SIGXCPU, whose default ends the worker): an unprivileged process
    # can lower its hard limit but never raise it again.
    resource.setrlimit(resource.RLIMIT_CPU, (used + cpu_seconds, resource.getrlimit(resource.RLIMIT_CPU)[1]))
    try:
        with engine_clock(now):
            return ("ok", command(spec_key, PinnedSpec(restored), *args))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        return ("memory", None) if _out_of_memory(exc) else ("error", exc)


def _cached(spec_key: str) -> tuple[Any, dict[str, Any]]:
    def missing() -> dict[str, Any]:
        raise LookupError(spec_key)

    return restore_spec(spec_key, missing)


def _read_frame(fd: int) -> bytes | None:
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    return _read_exactly(fd, int.from_bytes(header, "big"))


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, min(1 << 20, size - len(chunks)))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def retire_idle_workers() -> None:
    """Let every idle worker go (their restored specs with them): the next command forks a fresh one."""
    with _lock:
        leaving = list(_idle)
        _idle.clear()
    for worker in leaving:
        _retire(worker)
