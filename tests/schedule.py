"""How the xdist workers spent the run (issue 12 part 6: the workers should end together).

Each worker reports, when its session ends, when it started, when its first test began, how long its tests
took (setup + call + teardown, the sum ``--durations=0`` lists) and when it finished; xdist's controller prints
one line per worker at the end of the run::

    workers: gw0 busy 30.2 s in 301 tests, tests from 6.1 s to 37.0 s, session over at 37.9 s; gw1 busy
    29.8 s in 311 tests, tests from 6.3 s to 36.6 s, session over at 37.4 s (the last ended 0.4 s after the first)

The times are seconds since the controller started. A worker that ends long before the other was idle for
the difference: the schedule (tests/conftest.py ``grouped_first``) left the longest work too late.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from parallel import worker_id

STARTED = time.time()
"""When this process imported its plugins (the controller: about when the run started)."""

TIMELINE = pytest.StashKey[dict[str, float]]()
FINISHED = pytest.StashKey[list[tuple[str, dict[str, float]]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TIMELINE] = {"started": STARTED, "busy": 0.0, "tests": 0}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    timeline = item.config.stash[TIMELINE]
    timeline.setdefault("first", time.time())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    timeline = item.config.stash[TIMELINE]
    timeline["busy"] += report.duration
    if report.when == "teardown":
        timeline["tests"] += 1
        timeline["last"] = time.time()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After the session's fixtures were torn down (the runner's hook, not trylast, did that)."""
    if worker_id() is not None:
        timeline = session.config.stash[TIMELINE]
        timeline["ended"] = time.time()
        session.config.workeroutput["timeline"] = timeline  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    timeline = getattr(node, "workeroutput", {}).get("timeline")
    if timeline is not None:
        node.config.stash.setdefault(FINISHED, []).append((str(node.gateway.id), timeline))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    finished = sorted(config.stash.get(FINISHED, []))
    if not finished:
        return
    lines = [f"{worker} busy {t['busy']:.1f} s in {int(t['tests'])} tests, tests from "
             f"{t.get('first', STARTED) - STARTED:.1f} s to {t.get('last', STARTED) - STARTED:.1f} s, "
             f"session over at {t['ended'] - STARTED:.1f} s" for worker, t in finished]
    ends = [t.get("last", STARTED) for _, t in finished]
    terminalreporter.write_line(f"workers: {'; '.join(lines)} (the last ended {max(ends) - min(ends):.1f} s "
                                "after the first)")
