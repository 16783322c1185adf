"""``pytest --forks N``: N workers forked from the run once it has collected (issue 12 part 6).

pytest-xdist starts every worker as a fresh interpreter: each imports the app, the engine and every test
module and collects the whole suite again, and its controller does it a third time. On 2 cores that
warm-up was a quarter of the suite's CPU (the A/B ids: 43 s of CPU in one process, 58 s in xdist's two
workers). Here the run collects once and then forks its workers (Linux only), as Django's parallel test
runner does: the imported modules and the collected tests are shared copy-on-write (tests/gcfreeze.py froze
them, so no collection in a worker writes to their pages).

Each worker becomes ``gw0``, ``gw1``, ... exactly as an xdist worker would (tests/parallel.py: its own
SQLite file, PostgreSQL database and Redis database) and builds its own session fixtures: nothing that
holds a connection, a thread or a child process exists before the fork (the run refuses to fork once a
thread is running). A worker asks the run for its next unit (an ``xdist_group`` whole, or up to
``UNIT`` consecutive tests of one module; in the order tests/conftest.py arranged) when it is about to
run the last test of the one it has, so that pytest can tear down exactly what the next test does not
need; it sends every report back, and the run logs them as if it had run the tests itself (progress,
``--durations``, ``-ra``, ``-x``, the exit status). A worker that dies takes only the test it was running
with it: that test fails, naming the worker, and the others run the rest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
import warnings
from multiprocessing.connection import Connection, Pipe, wait
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _pytest.config import create_terminal_writer
from parallel import isolate_worker

UNIT = 8
"""Consecutive tests of one module handed out together: they share their module's fixtures and datasets;
small enough that both workers end within a test or two of each other."""

TESTS = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--forks", type=int, default=0, metavar="N",
                     help="run the collected tests in N worker processes forked from this one (tests/forks.py)")


def units_of(items: list[pytest.Item]) -> list[list[int]]:
    """The run's tests as units of work, by index: an ``xdist_group`` whole where its first test stands, and
    runs of at most ``UNIT`` consecutive tests of one module."""
    units: list[list[int]] = []
    groups: dict[str, list[int]] = {}
    module = None
    for index, item in enumerate(items):
        marker = item.get_closest_marker("xdist_group")
        if marker is not None:
            name = str(marker.args[0] if marker.args else marker.kwargs.get("name"))
            if name not in groups:
                groups[name] = []
                units.append(groups[name])
            groups[name].append(index)
            module = None
            continue
        path = item.nodeid.split("::", 1)[0]
        if path != module or len(units[-1]) >= UNIT:
            units.append([])
            module = path
        units[-1].append(index)
    return units


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    forks = session.config.getoption("forks")
    if forks < 2 or session.config.option.collectonly or os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return None  # pytest's own loop stops the run for the collection errors
    if not hasattr(os, "fork"):
        raise pytest.UsageError("--forks needs os.fork (Linux); use -n N (pytest-xdist) here")
    if getattr(session.config.option, "numprocesses", None) or session.config.option.usepdb:
        raise pytest.UsageError("--forks runs the tests in forked workers: not with -n (xdist) or --pdb")
    running = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
    if running:
        raise pytest.UsageError(f"--forks: threads are running before the fork ({', '.join(running)}); "
                                "start them in a fixture, or use -n N")
    Run(session, forks).run()
    if session.shouldfail:
        raise session.Failed(session.shouldfail)
    if session.shouldstop:
        raise session.Interrupted(session.shouldstop)
    return True


class Run:
    """The forking process: hands out units, logs what the workers report."""

    def __init__(self, session: pytest.Session, forks: int) -> None:
        self.session = session
        self.config = session.config
        self.items = session.items
        self.index = {item.nodeid: index for index, item in enumerate(self.items)}
        self.units: list[list[int]] = units_of(self.items)[::-1]  # popped from the end
        self.forks = forks
        self.workers: dict[Connection, Worker] = {}

    def next_unit(self) -> list[int] | None:
        if self.session.shouldfail or self.session.shouldstop or not self.units:
            return None
        return self.units.pop()

    def run(self) -> None:
        # Every worker's temporary directories under one base, made here (the workers' mktemp calls
        # number theirs apart; a base made by each worker would let each clean up the others').
        self.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]  # noqa: SLF001
        sys.stdout.flush()
        sys.stderr.flush()
        for number in range(self.forks):
            ours, theirs = Pipe()
            pid = os.fork()
            if pid == 0:
                ours.close()
                for other in self.workers:
                    other.close()
                Worker.main(self.session, f"gw{number}", theirs)  # never returns
            theirs.close()
            self.workers[ours] = Worker(f"gw{number}", pid)
        try:
            while self.workers:
                for conn in wait(list(self.workers)):
                    self.receive(conn)  # type: ignore[arg-type]
        finally:
            for conn, worker in self.workers.items():  # interrupted: the workers go with the run
                conn.close()
                os.kill(worker.pid, signal.SIGKILL)
                os.waitpid(worker.pid, 0)
        while not (self.session.shouldfail or self.session.shouldstop) and self.units:
            for index in self.units.pop():
                self.lost(index, "no worker was left to run it")

    def receive(self, conn: Connection) -> None:
        worker = self.workers[conn]
        hook = self.config.hook
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            kind, value = "died", None
        if kind == "next":
            unit = self.next_unit()
            worker.owed.extend(unit or ())
            conn.send(unit)
        elif kind == "start":
            worker.running = self.index[value[0]]
            hook.pytest_runtest_logstart(nodeid=value[0], location=value[1])
        elif kind == "report":
            hook.pytest_runtest_logreport(report=hook.pytest_report_from_serializable(config=self.config, data=value))
        elif kind == "finish":
            hook.pytest_runtest_logfinish(nodeid=value[0], location=value[1])
            worker.owed.remove(self.index[value[0]])
            worker.running = None
        elif kind == "warning":
            hook.pytest_warning_recorded.call_historic(kwargs=warning_of(value))
        elif kind == "done":
            # What the worker's session end left for the run (tests/conftest.py's counts, tests/schedule.py's
            # timeline), through the hook that xdist's controller calls with a worker's output.
            node = SimpleNamespace(config=self.config, workeroutput=value, gateway=SimpleNamespace(id=worker.name))
            down = getattr(hook, "pytest_testnodedown", None)
            if down is not None:
                down(node=node, error=None)
            self.end(conn)
        else:  # "died", or "error" with the worker's traceback
            why = f"worker {worker.name} died while running it" + (f":\n{value}" if value else "")
            if worker.running is not None:
                worker.owed.remove(worker.running)
                self.lost(worker.running, why)
            elif value:
                self.session.testsfailed += 1
                self.config.get_terminal_writer().line(f"worker {worker.name} failed:\n{value}", red=True)
            if worker.owed:  # handed out, not begun: another worker runs them
                self.units.append(worker.owed)
            self.end(conn)

    def end(self, conn: Connection) -> None:
        worker = self.workers.pop(conn)
        conn.close()
        os.waitpid(worker.pid, 0)

    def lost(self, index: int, why: str) -> None:
        """A test no worker finished: failed in the run's report, with why."""
        hook = self.config.hook
        nodeid, location = self.items[index].nodeid, self.items[index].location
        hook.pytest_runtest_logreport(report=pytest.TestReport(nodeid, location, {}, "failed", why, "call"))
        hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)


class Worker:
    """One forked worker, as the run sees it; ``main`` is the worker's side."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self.running: int | None = None
        self.owed: list[int] = []
        """The tests handed to it that it has not finished, by index."""

    @staticmethod
    def main(session: pytest.Session, name: str, conn: Connection) -> None:
        status = 0
        try:
            Worker.serve(session, name, conn)
        except BaseException:  # noqa: BLE001 - whatever ends the worker, the run must hear of it
            status = 1
            with contextlib.suppress(OSError):
                conn.send(("error", traceback.format_exc()))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)  # not the run's atexit handlers, nor its pytest_unconfigure

    @staticmethod
    def serve(session: pytest.Session, name: str, conn: Connection) -> None:
        config = session.config
        os.environ["PYTEST_XDIST_WORKER"] = name
        config.workeroutput = {}  # type: ignore[attr-defined]  # what tests/conftest.py's session end fills
        isolate_worker(config)
        capture = config.pluginmanager.get_plugin("capturemanager")
        if capture is not None:  # the run's capture files are shared with the run: the worker's own
            capture.stop_global_capturing()
            capture.start_global_capturing()
            capture.suspend_global_capture()
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:  # the run prints the progress
            config.pluginmanager.unregister(terminal)
            config.pluginmanager.register(QuietTerminal(config), "terminalreporter")
        forward = Forward(conn, config)
        config.pluginmanager.register(forward, "forks-forward")  # replays the run's warnings so far: not sent
        forward.live = True

        def fetch() -> list[int] | None:
            conn.send(("next", None))
            unit: list[int] | None = conn.recv()
            return unit

        unit = fetch()
        while unit:
            following: list[int] | None = None
            for position, index in enumerate(unit):
                if position + 1 < len(unit):
                    nextitem: pytest.Item | None = session.items[unit[position + 1]]
                else:
                    following = fetch()
                    nextitem = session.items[following[0]] if following else None
                item = session.items[index]
                config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            unit = following
        # The tests' own plugins end the worker's session (its database dropped, its counts for the summary);
        # pytest's and other plugins' session end is the run's.
        others = [plugin for plugin in config.pluginmanager.get_plugins()
                  if not str(getattr(plugin, "__file__", "")).startswith(str(TESTS))]
        config.pluginmanager.subset_hook_caller("pytest_sessionfinish", others)(session=session, exitstatus=0)
        conn.send(("done", config.workeroutput))  # type: ignore[attr-defined]


class QuietTerminal:
    """A worker's terminal reporter: no progress of its own; what a plugin writes to the terminal directly
    (pytest-timeout's stacks of a test that hung) goes to the worker's stderr."""

    def __init__(self, config: pytest.Config) -> None:
        self._tw = create_terminal_writer(config, sys.stderr)

    def write_line(self, line: str, **markup: bool) -> None:
        self._tw.line(line, **markup)

    def write_sep(self, sep: str, title: str | None = None, **markup: bool) -> None:
        self._tw.sep(sep, title, **markup)


class Forward:
    """In a worker: what pytest logs goes to the run instead."""

    def __init__(self, conn: Connection, config: pytest.Config) -> None:
        self.conn = conn
        self.config = config
        self.live = False
        """Set once registered: registering replays the warnings recorded before the fork, which the run has."""

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.conn.send(("start", (nodeid, location)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.conn.send(("report", self.config.hook.pytest_report_to_serializable(config=self.config, report=report)))

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.conn.send(("finish", (nodeid, location)))

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, when: str, nodeid: str,
                                location: Any) -> None:
        if not self.live:
            return
        category = warning_message.category
        self.conn.send(("warning", {"message": str(warning_message.message), "module": category.__module__,
                                    "category": category.__qualname__, "filename": warning_message.filename,
                                    "lineno": warning_message.lineno, "when": when, "nodeid": nodeid}))


def warning_of(value: dict[str, Any]) -> dict[str, Any]:
    """A worker's warning as ``pytest_warning_recorded``'s arguments (its category found again by name)."""
    category: Any = sys.modules.get(value["module"])
    for part in value["category"].split("."):
        category = getattr(category, part, None)
    if not (isinstance(category, type) and issubclass(category, Warning)):
        category = UserWarning
    message = warnings.WarningMessage(value["message"], category, value["filename"], value["lineno"])
    return {"warning_message": message, "when": value["when"], "nodeid": value["nodeid"], "location": None}
