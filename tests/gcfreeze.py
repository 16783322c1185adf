"""What a full garbage collection found alive is frozen (``gc.freeze``) at the next test's end, so that later
full collections do not walk it again (issue 12 part 6).

A worker holds some 600,000 tracked objects once its app, datasets, parsed processes and compiled templates
exist, nearly all of them alive to the end; every full collection walked all of them again: 9 full collections
cost a worker of issue 12's A/B 5.7-5.9 s (load 10), and pytest's own collection at the end another second.
Frozen objects are still freed by reference counting; only a reference cycle among them that becomes garbage
later is kept until the process ends. Everything a test leaves is collected as before until a full collection
has seen it survive.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

_survivors = [False]
"""A full collection ran since the last freeze: what it left is alive (as of then)."""


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        _survivors[0] = True


def pytest_configure(config: pytest.Config) -> None:
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _after_collection in gc.callbacks:
        gc.callbacks.remove(_after_collection)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The imported modules and the collected tests live for the whole run. No full collection first: it
    took 0.1 s before the fork (one core busy, the other idle) to free some 1,200 of 250,000 objects, which
    are kept instead."""
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    if _survivors[0]:
        _survivors[0] = False
        gc.collect(1)  # what the test left in the young generations is not frozen with the survivors
        gc.freeze()
