"""The garbage collector pause of bulk batches: off inside, back on after, never turned on if it was off."""

from __future__ import annotations

import gc
import threading

from app.common.collector import collector_paused


def test_off_inside_and_on_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error() -> None:
    try:
        with collector_paused():
            raise RuntimeError("batch failed")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_left_off_when_someone_else_turned_it_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # not ours to turn on
    finally:
        gc.enable()


def test_on_only_when_the_last_of_two_threads_leaves() -> None:
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other)
    with collector_paused():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other batch is still running
    leave.set()
    thread.join(5)
    assert gc.isenabled()
