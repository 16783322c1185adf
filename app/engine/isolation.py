"""The process-level backstop: each engine command that runs designer code runs in a forked child.

The sandbox bounds what it can see (operand sizes, lines, time checked between
lines), but one C-level call on bounded inputs can still take hours while holding
the GIL: ``big_list == same_sized_copy`` over aliased rows, hashing a tuple made
of the same tuple a million times. Nothing in the same process can interrupt it,
and every other thread (``/healthz``, other requests) freezes with it.

So ``run_isolated`` forks, and the child runs the command under
``RLIMIT_CPU`` (the kernel stops it), ``RLIMIT_AS`` (a ceiling above what the
parent already maps) and no core files, while the parent waits in ``select``
(GIL released, other threads keep serving) with a wall-clock deadline after which
it kills the child. The child sends its result (an ``InstanceSnapshot`` or the
exception) back pickled through a pipe. The element being evaluated is written to
a small shared page before every script/expression, so a killed command still
names the BPMN element. Nothing of the child's work survives a refusal: the
caller's transaction rolls back as for any script error.

Engine commands go to reused workers (``isolation_pool.py``: a fork per command
cost ~30 ms on a busy machine, a pooled worker ~1-3 ms, ``bench/backstop_overhead.py``);
``run_isolated`` forks afresh and is kept for calls whose arguments need not pickle.
It works the same in web threads, RQ work-horses and the CLI.
The child never touches the database (specs are restored in the parent first),
freezes the garbage collector's view of inherited objects (no finalizer of a
parent's connection runs in the child), and leaves with ``os._exit``. Where
``fork`` is unavailable (not Linux) commands run inline, bounded by the sandbox only.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import resource
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .types import ProcessScriptError

T = TypeVar("T")

_ELEMENT_BYTES = 256


@dataclass(frozen=True)
class Backstop:
    """Hard limits of one engine command (all of its scripts, conditions and decisions together)."""

    cpu_seconds: int = 20
    """CPU seconds before the kernel stops the command (``RLIMIT_CPU``)."""
    wall_seconds: float = 30.0
    """Wall-clock seconds before the parent kills it (covers sleeping or blocked children)."""
    memory_mb: int = 512
    """Address space the command may add to what the process already maps (``RLIMIT_AS``)."""
    enabled: bool = sys.platform == "linux" and hasattr(os, "fork")
    fast_lane: bool = True
    """Run commands of provably bounded versions in the calling process (``fast_lane.py``)."""


_backstop = Backstop()
_element_page: mmap.mmap | None = None
"""Set only in a child: where ``note_element`` writes the element being evaluated."""


def configure(backstop: Backstop) -> None:
    """Set the limits for this process (``create_app`` passes the county's settings)."""
    global _backstop
    _backstop = backstop


def current() -> Backstop:
    return _backstop


@contextlib.contextmanager
def limits(**changes: Any) -> Iterator[Backstop]:
    """Temporarily different limits (tests and ``bench/bombs.py``)."""
    previous = _backstop
    configure(replace(previous, **changes))
    try:
        yield _backstop
    finally:
        configure(previous)


def note_element(bpmn_id: str) -> None:
    """Called before every script or expression: remembered so a killed command can name it."""
    page = _element_page
    if page is not None:
        data = bpmn_id.encode("utf-8", "replace")[: _ELEMENT_BYTES - 1]
        page[:] = data + b"\0" * (_ELEMENT_BYTES - len(data))


def _element_of(page: mmap.mmap) -> str | None:
    text = bytes(page).split(b"\0", 1)[0].decode("utf-8", "replace")
    return text or None


def run_isolated(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in a child under the backstop; its result or its exception, re-raised here.

    ``func`` must not touch the database or other shared connections, and its
    result and exceptions must pickle. A child stopped by a limit becomes a
    ``ProcessScriptError`` naming the element it was evaluating.
    """
    backstop = _backstop
    if not backstop.enabled:
        return func(*args, **kwargs)
    page = mmap.mmap(-1, _ELEMENT_BYTES)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its outcome is asserted through the parent
        os.close(read_end)
        _child(func, args, kwargs, backstop, page, write_end)
    os.close(write_end)
    try:
        payload, timed_out, status = _collect(read_end, pid, backstop.wall_seconds)
    finally:
        os.close(read_end)
    if status is None and payload and not timed_out:
        _reap_later(pid)  # the answer is here; the child's exit (unmapping its memory) need not be waited for
        status = 0
    elif status is None:
        status = _wait(pid)
    try:
        return _outcome(payload, status, timed_out, backstop, _element_of(page))
    finally:
        page.close()


_exited: list[int] = []
_exited_lock = threading.Lock()


def _reap_later(pid: int) -> None:
    """Collect children that have answered, without blocking: earlier ones now, this one next time."""
    with _exited_lock:
        _exited.append(pid)
        pending = list(_exited)
        _exited.clear()
    for child in pending:
        try:
            reaped, _ = os.waitpid(child, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere
            continue
        if not reaped:
            with _exited_lock:
                _exited.append(child)


def _wait(pid: int) -> int:
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return 0


def _child(func: Callable[..., Any], args: Any, kwargs: Any, backstop: Backstop, page: mmap.mmap,
           write_end: int) -> None:  # pragma: no cover - runs in the forked child
    global _element_page
    code = 0
    try:
        gc.freeze()  # objects inherited from the parent are never collected (nor finalized) here
        close_inherited_fds(write_end)
        _element_page = page
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (backstop.cpu_seconds, backstop.cpu_seconds + 1))
        ceiling = _mapped_bytes() + backstop.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
        signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        try:
            result: tuple[str, Any] = ("ok", func(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            result = ("memory", None) if _out_of_memory(exc) else ("error", exc)
        try:
            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload = pickle.dumps(("memory", None))
        except Exception as exc:  # an exception that does not pickle: keep its words
            payload = pickle.dumps(("error", ProcessScriptError(f"{type(exc).__name__}: {exc}")))
        view = memoryview(len(payload).to_bytes(8, "big") + payload)
        while view:
            view = view[os.write(write_end, view):]
    except BaseException:  # noqa: BLE001
        code = 70
    finally:
        os._exit(code)


def _out_of_memory(exc: BaseException) -> bool:
    """A ``MemoryError`` anywhere in the chain (SpiffWorkflow wraps the script's own)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        wrapped = getattr(current, "exception", None)
        pending += [current.__cause__, current.__context__, wrapped if isinstance(wrapped, BaseException) else None]
    return False


def close_inherited_fds(*keep: int) -> None:
    """In a child: close every descriptor inherited from the parent but stdio and ``keep``.

    A child holding a copy of the parent's sockets and pipes would keep them open after the
    parent closes them: a database connection the server never sees end, a pipe whose reader
    never gets EOF (a browser driver waiting for its stdin to close).
    """
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _mapped_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _collect(read_end: int, pid: int, wall_seconds: float) -> tuple[bytes, bool, int | None]:
    """The child's framed answer (8-byte length, then the pickle), or what is known when it has none.

    Returns (payload, timed out, wait status if the child was reaped here). EOF cannot be
    relied on: a child forked meanwhile by another thread holds a copy of our pipe's write end.
    """
    buffer = bytearray()
    deadline = time.monotonic() + wall_seconds
    while True:
        if len(buffer) >= 8 and len(buffer) >= 8 + int.from_bytes(buffer[:8], "big"):
            return bytes(buffer[8:8 + int.from_bytes(buffer[:8], "big")]), False, None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return b"", True, None
        ready, _, _ = select.select([read_end], [], [], min(remaining, 0.25))
        if ready:
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                return b"", False, None
            buffer += chunk
            continue
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else: it has exited
            reaped, status = pid, 0
        if reaped:
            while select.select([read_end], [], [], 0)[0] and (chunk := os.read(read_end, 1 << 20)):
                buffer += chunk
            complete = len(buffer) >= 8 and len(buffer) >= 8 + int.from_bytes(buffer[:8], "big")
            return (bytes(buffer[8:8 + int.from_bytes(buffer[:8], "big")]) if complete else b""), False, status


def _outcome(payload: bytes, status: int, timed_out: bool, backstop: Backstop, element: str | None) -> Any:
    where = f" at {element}" if element else ""
    if timed_out:
        raise ProcessScriptError(f"stopped{where}: the process's scripts ran longer than "
                                 f"{backstop.wall_seconds:g} s (the server's backstop)", element)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
        raise ProcessScriptError(f"stopped{where}: the process's scripts used more than "
                                 f"{backstop.cpu_seconds} s of CPU (the server's backstop)", element)
    if not payload:
        raise ProcessScriptError(f"stopped{where}: the engine's process ended without an answer "
                                 f"(exit status {status})", element)
    kind, value = pickle.loads(payload)  # noqa: S301 - our own child's bytes, through our own pipe
    return decoded_outcome(kind, value, backstop, element)


def decoded_outcome(kind: str, value: Any, backstop: Backstop, element: str | None) -> Any:
    """A child's answer: its value, its exception re-raised, or the memory refusal."""
    where = f" at {element}" if element else ""
    if kind == "memory":
        raise ProcessScriptError(f"stopped{where}: the process's scripts needed more than "
                                 f"{backstop.memory_mb} MB of memory (the server's backstop)", element)
    if kind == "error":
        raise value
    if kind != "ok":
        raise ProcessScriptError(f"the engine's process gave no usable answer ({kind})", element)
    return value
